// The one place that loads the native addon. It only crosses the syscall
// boundary: enter a namespace once, open netlink sockets there, exchange raw
// bytes over them, close them.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeError {
  errno: string;
  syscall: string;
  message: string;
  /** set when the namespace itself could not be entered or its sockets opened */
  namespace?: true;
}

/** Sockets opened inside one namespace; `ports` are their netlink port ids, in the order of the protocols asked for. */
export interface NativeSession {
  handle: unknown;
  ports: number[];
  /** the replies to open()'s requests, when it was given some (an addon that does not take them leaves this out) */
  replies?: NativeReply[];
}

export type NativeReply = Buffer | NativeError;

/** What reading namespaces needs from the addon: sessions of netlink sockets. */
export interface NetlinkSessions {
  /**
   * On a pool thread: enter nsPath (null: our own namespace), open one netlink socket per protocol, return home;
   * then send `requests` (at most maxRequests) over them as exchange() does, in the same trip.
   */
  open(nsPath: string | null, protocols: number[], timeoutMs: number,
    requests?: Array<[protocol: number, msg: Uint8Array]>): Promise<NativeSession | (NativeError & { namespace: true })>;
  /** Send the requests in order over the session's sockets, reading each until its dump ends. */
  exchange(handle: unknown, requests: Array<[protocol: number, msg: Uint8Array]>, timeoutMs: number): Promise<NativeReply[]>;
  /** Close the session's sockets (after an exchange in flight, if any). */
  close(handle: unknown): void;
  /** setns() calls into a namespace since the addon was loaded */
  counters(): { nsEntries: number };
  /** the most requests one exchange takes (set in native/netns.c) */
  readonly maxRequests: number;
  /** the most protocols one session opens */
  readonly maxProtocols: number;
}

export interface NativeBinding extends NetlinkSessions {
  /**
   * setns(CLONE_NEWNET) on the calling thread (the main thread), for good: for
   * the CLI's `netns exec`, whose command then forks from this thread. Never
   * called by the exporter. null on success.
   */
  enterNetnsOnThisThread(nsPath: string): NativeError | null;
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
