// Running a command: a program (no shell) with a timeout, its output, and an
// error carrying its stderr when it fails; `sh` for a synchronous shell script.
import { execFile, execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** the exit code; -1 when it was killed or could not start */
  code: number;
}

export interface RunOptions {
  /** default 60 s; the program is killed after it */
  timeoutMs?: number;
  /** added to this process's environment */
  env?: Record<string, string>;
  cwd?: string;
  /** a file fed to stdin */
  stdinFile?: string;
  /** do not throw on a non-zero exit */
  allowFailure?: boolean;
}

/** Run a program (no shell); throws with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      if (err && !opts.allowFailure) {
        const killed = (err as { killed?: boolean }).killed ? ` (killed after ${timeoutMs} ms)` : '';
        reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}${killed}: ${String(stderr).trim() || String(stdout).trim() || err.message}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.stdinFile) createReadStream(opts.stdinFile).pipe(child.stdin!);
    else child.stdin?.end();
  });
}

/** A program run inside a network namespace file (nsenter --net); its trimmed stdout. */
export async function runIn(netnsFile: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return (await run('nsenter', [`--net=${netnsFile}`, '--', ...args], opts)).stdout.trim();
}

/** A shell script, synchronously (set -e); its stdout. Throws with its stderr when it fails. */
export function sh(script: string, opts: { timeoutMs?: number } = {}): string {
  try {
    return execFileSync('sh', ['-ec', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: string; message: string };
    throw new Error(`sh: exit ${e.status ?? -1}: ${String(e.stderr ?? '').trim() || e.message}\n${script.trim()}`);
  }
}
