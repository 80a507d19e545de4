// The project's seams, checked on the source: codecs stay pure, hand-offs stay
// typed, and no module grows past what one reader can hold in mind.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The module specifiers a file imports (static imports and re-exports). */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^'";]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

describe('source layout', () => {
  it('the codecs (kernel/nl, rtnl, genl, diag, icmp) import nothing outside themselves but node: built-ins', () => {
    const codecRoots = ['nl', 'rtnl', 'genl', 'diag', 'icmp'].map((d) => join(SRC, 'kernel', d));
    const offenders: string[] = [];
    for (const root of codecRoots) {
      for (const file of files(root)) {
        for (const spec of importsOf(file)) {
          if (spec.startsWith('node:')) continue;
          const target = spec.startsWith('.') ? resolve(dirname(file), spec) : spec;
          if (!codecRoots.some((r) => target.startsWith(`${r}/`))) offenders.push(`${relative(SRC, file)} -> ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('no untyped hand-off: no Map<string, unknown> and no "extra" bag in the scrape path', () => {
    const scrapePath = [join(SRC, 'scrape.ts'), ...files(join(SRC, 'collectors')), ...files(join(SRC, 'kernel'))];
    const offenders = scrapePath.filter((f) => /Map<string, unknown>|\.extra\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(offenders).toEqual([]);
  });

  it('no source file is over 400 lines', () => {
    const long = files(SRC).map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
