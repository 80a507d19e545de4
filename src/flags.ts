// Command-line flags in the Prometheus style (--group.name=value, --no-flag for
// booleans, repeatable flags), with the --help text built from the same table.

export type FlagValue = string | boolean | string[];

export interface FlagDef {
  name: string;
  help: string;
  type: 'string' | 'bool' | 'list';
  default: FlagValue;
  /** shown in --help instead of the default value */
  placeholder?: string;
}

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export function parseFlags(defs: FlagDef[], argv: string[]): Map<string, FlagValue> {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const values = new Map<string, FlagValue>();
  const listSeen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument "${arg}" (flags start with --; see --help)`);
    let [name, value] = splitOnce(arg.slice(2));
    let def = byName.get(name);
    if (!def && name.startsWith('no-') && value === undefined) {
      const positive = byName.get(name.slice(3));
      if (positive?.type === 'bool') {
        values.set(positive.name, false);
        continue;
      }
    }
    if (!def) throw new FlagError(`unknown flag --${name} (see --help)`);
    if (def.type === 'bool') {
      if (value === undefined) values.set(name, true);
      else if (value === 'true' || value === 'false') values.set(name, value === 'true');
      else throw new FlagError(`--${name} takes true or false, not "${value}"`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`--${name} needs a value`);
    }
    if (def.type === 'list') {
      // a repeated flag replaces the default rather than adding to it
      const list = listSeen.has(name) ? (values.get(name) as string[]) : [];
      listSeen.add(name);
      list.push(value);
      values.set(name, list);
    } else {
      values.set(name, value);
    }
    void def;
  }
  for (const d of defs) if (!values.has(d.name)) values.set(d.name, d.default);
  return values;
}

function splitOnce(s: string): [string, string | undefined] {
  const eq = s.indexOf('=');
  return eq < 0 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
}

export function helpText(defs: FlagDef[], intro: string): string {
  const lines = [intro, '', 'Flags:'];
  for (const d of defs) {
    const shown = d.type === 'bool' ? `--[no-]${d.name}` : `--${d.name}=${d.placeholder ?? d.name.split('.').pop()!.toUpperCase()}`;
    const dflt = Array.isArray(d.default) ? d.default.join(', ') : String(d.default);
    lines.push(`  ${shown}`);
    lines.push(`      ${d.help}${dflt !== '' ? ` (default: ${dflt})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
