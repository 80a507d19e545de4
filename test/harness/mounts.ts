// Mount points: listing those under a folder, unmounting them, shared mounts
// for rslave propagation, and namespace (nsfs) files.
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { run } from './run.js';

interface Mount { target: string; type: string }

function mounts(): Mount[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).map((l) => {
    const [, target, type] = l.split(' ');
    return { target: (target ?? '').replace(/\\040/g, ' '), type: type ?? '' };
  });
}

/** Mount points at or under `dir`, sorted (parents first). */
export function mountsUnder(dir: string): string[] {
  return [...new Set(mounts().map((m) => m.target).filter((m) => m === dir || m.startsWith(`${dir}/`)))].sort();
}

/** Unmount (lazily) everything at or under `dir`, deepest first; the failures, as messages. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const m of mountsUnder(dir).reverse()) {
    const r = await run('umount', ['-l', m], { allowFailure: true });
    if (r.code !== 0 && !/not mounted|no mount point/.test(r.stderr)) problems.push(`umount -l ${m}: ${r.stderr.trim()}`);
  }
  return problems;
}

/**
 * Make `dir` a shared mount (a bind of itself first, unless it is a mount
 * point already), so that a container can bind-mount it with propagation
 * rslave: "/" is private here. `recursive`: --rbind and --make-rshared.
 * Returns whether it made the bind mount (the caller unmounts it then).
 */
export async function makeShared(dir: string, opts: { recursive?: boolean } = {}): Promise<boolean> {
  let bound = false;
  if (!mountsUnder(dir).includes(dir)) {
    await run('mount', [opts.recursive ? '--rbind' : '--bind', dir, dir]);
    bound = true;
  }
  await run('mount', [opts.recursive ? '--make-rshared' : '--make-shared', dir]);
  return bound;
}

/** Bind-mount a namespace file (e.g. /run/netns/<name>) onto `file`, which is created empty. */
export async function bindNamespace(nsFile: string, file: string): Promise<void> {
  await run('sh', ['-ec', ': >"$1"; mount --bind "$2" "$1"', 'sh', file, nsFile]);
}

/** Whether a path is an nsfs mount (a live namespace file, not a lingering plain file). */
export async function isNamespaceFile(path: string): Promise<boolean> {
  try {
    await stat(path);
  } catch {
    return false;
  }
  return mounts().some((m) => m.target === path && m.type === 'nsfs');
}

/** The names of the nsfs mounts directly in `dir`: the namespaces an exporter over it must report. */
export function namespaceFilesIn(dir: string): string[] {
  return [...new Set(mounts().filter((m) => m.type === 'nsfs' && dirname(m.target) === dir).map((m) => basename(m.target)))].sort();
}
