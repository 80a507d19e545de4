// Noticing that the web config file, or a certificate, key or CA it names,
// changed: folder watches (debounced) and SIGHUP.
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface ChangeWatchOptions {
  /** called once per burst of changes, after debounceMs of quiet, or at once on SIGHUP */
  onChange(why: string): void;
  /** watch the files' folders (default true) */
  watch?: boolean;
  /** treat SIGHUP as a change (default true) */
  sighup?: boolean;
  /** wait after a file event before calling onChange, to let writers finish (default 250 ms) */
  debounceMs?: number;
  /** a folder that cannot be watched, or whose watch fails */
  onWatchError(dir: string, err: Error, fatal: boolean): void;
}

export interface ChangeWatch {
  /** watch these files (replacing the previous set): after a reload, the files named may differ */
  watchFiles(files: readonly string[]): void;
  close(): void;
}

export function watchForChanges(opts: ChangeWatchOptions): ChangeWatch {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (why: string) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => opts.onChange(why), opts.debounceMs ?? 250);
    timer.unref();
  };
  // Watch folders, not files: configs and certificates are usually
  // replaced by a rename (editors, certbot, Kubernetes/Swarm secrets).
  const watchers = new Map<string, FSWatcher>();
  const watchFiles = (files: readonly string[]) => {
    if (!(opts.watch ?? true)) return;
    const wanted = new Map<string, Set<string>>();
    for (const f of files) {
      const d = dirname(f);
      if (!wanted.has(d)) wanted.set(d, new Set());
      wanted.get(d)!.add(basename(f));
    }
    for (const [d, w] of watchers) if (!wanted.has(d)) { w.close(); watchers.delete(d); }
    for (const [d, names] of wanted) {
      watchers.get(d)?.close();
      try {
        const w = watch(d, { persistent: false }, (_event, name) => {
          // Kubernetes-style atomic updates rename a ..data link: any change counts
          if (!name || names.has(String(name)) || String(name).startsWith('..')) schedule(`${d}/${name ?? ''} changed`);
        });
        w.on('error', (err) => opts.onWatchError(d, err, false));
        watchers.set(d, w);
      } catch (err) {
        opts.onWatchError(d, err as Error, true);
      }
    }
  };
  const onHup = () => opts.onChange('SIGHUP');
  if (opts.sighup ?? true) process.on('SIGHUP', onHup);
  return {
    watchFiles,
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
      process.off('SIGHUP', onHup);
    },
  };
}
