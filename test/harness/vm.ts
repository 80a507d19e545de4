// The VM tests' host side: compile the exporter for the guest, boot it with
// test/vm/run-vm.sh (Debian's 6.1 kernel, which has IPVS, over this machine's
// root fs), and hand back what the guest wrote to /out. A guest that hangs is
// killed by run-vm.sh's timeout; the failure then carries its console log.
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';
import { startProcess } from './processes.js';
import { run } from './run.js';

/** test/vm: run-vm.sh, its init and the guest scripts */
export const VM_DIR = join(ROOT, 'test', 'vm');

/**
 * The exporter's sources compiled into a fresh directory (never the repo's dist,
 * which may be stale), with the native addon and node_modules linked beside it.
 * Type errors elsewhere in the tree do not stop tsc from emitting: they are
 * printed, and only missing output fails.
 */
export async function compileForGuest(needed: string[]): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'swarmnet-vm-js-'));
  const addon = join(ROOT, 'build', 'Release', 'swarmnet_netns.node');
  if (!existsSync(addon)) await run('npx', ['--no-install', 'node-gyp', 'rebuild'], { cwd: ROOT, timeoutMs: 600_000 });
  const tsc = await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.json'), '--outDir', join(root, 'dist'), '--sourceMap', 'false'],
    { cwd: ROOT, timeoutMs: 300_000, allowFailure: true });
  if (tsc.code !== 0) process.stderr.write(`tsc reported errors (emitted anyway):\n${tsc.stdout}${tsc.stderr}\n`);
  for (const f of needed) {
    if (!existsSync(join(root, 'dist', f))) throw new Error(`tsc did not emit dist/${f}`);
  }
  // native.ts finds the addon at <dist>/../build/Release
  symlinkSync(join(ROOT, 'build'), join(root, 'build'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  return root;
}

export interface VmRun {
  /** run-vm.sh's exit: the guest script's, 124 timeout, 125 init failure */
  rc: number;
  /** the directory the guest saw as /out */
  out: string;
  accel: string;
  wallSeconds: number;
  /** run-vm.sh's own messages */
  log: string;
  console: string;
}

/** Boot the guest and run `guest` there; resolves when qemu is gone. */
export async function runVm(guest: string, args: string[], timeoutS: number): Promise<VmRun> {
  const out = mkdtempSync(join(tmpdir(), 'swarmnet-vm-out-'));
  const started = performance.now();
  const verbose = process.env.SWARMNET_VM_VERBOSE === '1';
  let log = '';
  const p = startProcess([join(VM_DIR, 'run-vm.sh'), guest, String(timeoutS), ...args], {
    cwd: VM_DIR, env: { SWARMNET_VM_OUT: out }, detached: true,
    onOutput: (b, stream) => {
      if (stream === 'stderr') log += b.toString();
      if (verbose) process.stderr.write(b);
    },
  });
  // run-vm.sh kills qemu at timeoutS; this is the backstop should the script itself hang
  const backstop = setTimeout(() => void p.stop(0), (timeoutS + 60) * 1000);
  const code = await p.exited();
  clearTimeout(backstop);
  const accel = [...log.matchAll(/accel (kvm|tcg)/g)].at(-1)?.[1] ?? 'unknown';
  const consolePath = join(out, 'console.log');
  return {
    rc: code ?? 128, out, accel, wallSeconds: (performance.now() - started) / 1000, log: log || p.log(),
    console: existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : '',
  };
}

/** The guest's JSON result, or an error that carries the console log. */
export function guestResult<T>(vm: VmRun, file = 'result.json'): T {
  const path = join(vm.out, file);
  if (vm.rc !== 0 || !existsSync(path)) {
    const why = vm.rc === 124 ? 'the guest did not finish in time (killed)' : vm.rc === 125 ? "the guest's init failed" : `the guest exited ${vm.rc}`;
    throw new Error(`${why}; run-vm.sh said:\n${vm.log.slice(-2000)}\n--- guest console (last 150 lines) ---\n${vm.console.split('\n').slice(-150).join('\n')}`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export const cleanup = (...dirs: Array<string | undefined>) => {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
};
