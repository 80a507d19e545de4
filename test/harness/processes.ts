// Long-running processes a test starts, and processes it finds by pid.
//
// startProcess() runs a program, optionally inside a network namespace with
// `nsenter --net=<file> -- PROGRAM` (nsenter execs the program, so the child's
// pid is the program's), keeps the tail of its output, and stops it with
// SIGTERM then SIGKILL. Every process started here is also killed when the
// test process exits without its teardown.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { waitFor } from './wait.js';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's command line, arguments joined by blanks; '' when it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** A process's start time (clock ticks since boot), to tell a live owner from a reused pid. */
export function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/** pids (other than this process) whose command line mentions `needle`. */
export async function pidsMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid !== process.pid && cmdline(pid).includes(needle)) out.push(pid);
  }
  return out;
}

/** Wait up to timeoutMs for the pids to exit; those still alive. */
export async function waitExited(pids: number[], timeoutMs: number): Promise<number[]> {
  await waitFor(`pids ${pids.join(',')} to exit`, () => !pids.some(pidAlive), { timeoutMs, intervalMs: 100 }).catch(() => undefined);
  return pids.filter(pidAlive);
}

/** SIGTERM, SIGKILL after timeoutMs; resolves once it exited. False when it needed SIGKILL. */
export async function stopPid(pid: number, timeoutMs = 30_000): Promise<boolean> {
  if (!pidAlive(pid)) return true;
  try { process.kill(pid, 'SIGTERM'); } catch { return true; }
  if ((await waitExited([pid], timeoutMs)).length === 0) return true;
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  await waitExited([pid], 5_000);
  return false;
}

const started = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess) {
  started.add(child);
  child.once('exit', () => started.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of started) try { c.kill('SIGKILL'); } catch { /* gone */ }
    });
  }
}

export interface ManagedProcess {
  pid: number;
  /** its stdout and stderr so far (the last 64 KiB) */
  log(): string;
  running(): boolean;
  /** resolves with its exit code (null when a signal ended it) once it exited */
  exited(): Promise<number | null>;
  /** SIGTERM, SIGKILL after timeoutMs; resolves once it exited */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  /** run it in this network namespace file (nsenter --net) */
  netnsFile?: string;
  /** added to this process's environment */
  env?: Record<string, string>;
  cwd?: string;
  /** in a process group of its own, which stop() signals whole (a script and what it started) */
  detached?: boolean;
  /** every chunk of its output as it comes */
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

export function startProcess(argv: string[], opts: StartOptions = {}): ManagedProcess {
  const [cmd, ...args] = opts.netnsFile ? ['nsenter', `--net=${opts.netnsFile}`, '--', ...argv] : argv;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, cwd: opts.cwd, detached: opts.detached });
  track(child);
  let log = '';
  const append = (stream: 'stdout' | 'stderr') => (c: Buffer) => {
    log = (log + c.toString()).slice(-65_536);
    opts.onOutput?.(c, stream);
  };
  child.stdout!.on('data', append('stdout'));
  child.stderr!.on('data', append('stderr'));
  const exited = new Promise<number | null>((r) => {
    child.once('exit', (code) => r(code));
    child.once('error', (err) => { log += `\n${err.message}`; r(-1); });
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (opts.detached && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch { /* gone */ }
  };
  return {
    pid: child.pid ?? -1,
    log: () => log,
    running,
    exited: () => exited,
    stop: async (timeoutMs = 10_000) => {
      if (!running()) return;
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** This process's open file descriptors, as /proc/self/fd's links read (socket:[...], net:[...], paths). */
export function openFds(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return []; // the directory's own fd, closed by now
    }
  });
}

/**
 * Teardown steps that must all run: each failure is kept, and thrown together
 * at the end, so one broken step does not leave the next one's daemons behind.
 */
export class Teardown {
  private readonly problems: string[] = [];

  async step(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.problems.push(`${what}: ${(err as Error).message}`);
    }
  }

  done(): void {
    if (this.problems.length) throw new Error(`teardown: ${this.problems.join('; ')}`);
  }
}
