// The one place that loads the native addon. It only crosses the syscall
// boundary: enter a namespace, open netlink sockets, exchange raw bytes.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeError {
  errno: string;
  syscall: string;
  message: string;
  /** set when the namespace itself could not be entered */
  namespace?: true;
}

export type ExchangeResult = Array<Buffer | NativeError> | (NativeError & { namespace: true });

export interface NativeBinding {
  /**
   * On a pool thread: enter nsPath (null: our own namespace), open one netlink
   * socket per protocol, return home, then send the requests in order and read
   * each until its dump ends.
   */
  exchange(nsPath: string | null, requests: Array<[protocol: number, msg: Uint8Array]>, timeoutMs: number): Promise<ExchangeResult>;
}

let binding: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidates = [
    join(root, 'build', 'Release', 'swarmnet_netns.node'),
    join(root, 'build', 'Debug', 'swarmnet_netns.node'),
  ];
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      binding = require(path) as NativeBinding;
      return binding;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot load the native addon (run "npm run build:native"); tried:\n  ${failures.join('\n  ')}`);
}
