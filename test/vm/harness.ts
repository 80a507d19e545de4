// Host side of the VM tests: compile the exporter for the guest, boot it with
// run-vm.sh (Debian's 6.1 kernel, which has IPVS, over this machine's root fs),
// and hand back what the guest wrote to /out. A guest that hangs is killed by
// run-vm.sh's timeout; the failure then carries its console log.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const VM_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = join(VM_DIR, '..', '..');

/**
 * The exporter's sources compiled into a fresh directory (never the repo's dist,
 * which may be stale), with the native addon and node_modules linked beside it.
 * Type errors elsewhere in the tree do not stop tsc from emitting: they are
 * printed, and only missing output fails.
 */
export function compileForGuest(needed: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'swarmnet-vm-js-'));
  const addon = join(REPO, 'build', 'Release', 'swarmnet_netns.node');
  if (!existsSync(addon)) execFileSync('npx', ['--no-install', 'node-gyp', 'rebuild'], { cwd: REPO, stdio: 'inherit' });
  try {
    execFileSync(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', join(REPO, 'tsconfig.json'), '--outDir', join(root, 'dist'), '--sourceMap', 'false'],
      { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    process.stderr.write(`tsc reported errors (emitted anyway):\n${(err as { stdout?: string }).stdout ?? err}\n`);
  }
  for (const f of needed) {
    if (!existsSync(join(root, 'dist', f))) throw new Error(`tsc did not emit dist/${f}`);
  }
  // native.ts finds the addon at <dist>/../build/Release
  symlinkSync(join(REPO, 'build'), join(root, 'build'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
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
export function runVm(guest: string, args: string[], timeoutS: number): Promise<VmRun> {
  const out = mkdtempSync(join(tmpdir(), 'swarmnet-vm-out-'));
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(join(VM_DIR, 'run-vm.sh'), [guest, String(timeoutS), ...args], {
      cwd: VM_DIR, env: { ...process.env, SWARMNET_VM_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let log = '';
    const verbose = process.env.SWARMNET_VM_VERBOSE === '1';
    child.stdout.on('data', (b: Buffer) => { if (verbose) process.stderr.write(b); });
    child.stderr.on('data', (b: Buffer) => {
      log += b.toString();
      if (verbose) process.stderr.write(b);
    });
    // run-vm.sh kills qemu at timeoutS; this is the backstop should the script itself hang
    const backstop = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, (timeoutS + 60) * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(backstop);
      const accel = /accel (kvm|tcg)/g;
      let m: RegExpExecArray | null;
      let last = 'unknown';
      while ((m = accel.exec(log))) last = m[1]!;
      const consolePath = join(out, 'console.log');
      resolve({
        rc: code ?? (signal ? 128 : 1), out, accel: last, wallSeconds: (performance.now() - started) / 1000, log,
        console: existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : '',
      });
    });
  });
}

/** The guest's JSON result, or an error that carries the console log. */
export function guestResult<T>(run: VmRun, file = 'result.json'): T {
  const path = join(run.out, file);
  if (run.rc !== 0 || !existsSync(path)) {
    const why = run.rc === 124 ? 'the guest did not finish in time (killed)' : run.rc === 125 ? "the guest's init failed" : `the guest exited ${run.rc}`;
    throw new Error(`${why}; run-vm.sh said:\n${run.log.slice(-2000)}\n--- guest console (last 150 lines) ---\n${run.console.split('\n').slice(-150).join('\n')}`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export const cleanup = (...dirs: Array<string | undefined>) => {
  for (const d of dirs) if (d) rmSync(d, { recursive: true, force: true });
};
