// The commands' arguments: the exporter's own --netns.dir, --netns.host and
// --docker.host (same table, same defaults), the command's own flags, and
// positional arguments, in any order before `--`; everything after `--` is left
// alone (the command `netns exec` runs).
import { flagDefs } from '../config.js';
import { FlagError, type FlagDef, type FlagValue, helpText, parseFlags } from '../flags.js';

/** The exporter flags every command takes. */
export const SHARED_FLAGS = ['netns.dir', 'netns.host', 'docker.host'] as const;

export const JSON_FLAG: FlagDef = { name: 'json', type: 'bool', default: false, help: 'Print JSON instead of a table.' };
const HELP_FLAG: FlagDef = { name: 'help', type: 'bool', default: false, help: 'Show this help.' };
const DOCKER_WAIT_FLAG: FlagDef = {
  name: 'docker.wait', type: 'string', default: '5s', placeholder: 'DURATION',
  help: 'How long to wait for dockerd\'s names; without them namespaces are shown by file name only.',
};

export function commandFlags(own: FlagDef[] = []): FlagDef[] {
  const shared = flagDefs().filter((d) => (SHARED_FLAGS as readonly string[]).includes(d.name));
  return [...shared, DOCKER_WAIT_FLAG, ...own, HELP_FLAG];
}

export interface ParsedArgs {
  flags: Map<string, FlagValue>;
  positionals: string[];
  /** after `--`; undefined when there was no `--` */
  rest?: string[];
}

/** Split flags from positionals (a value flag may take the next word), then parse the flags with the table. */
export function parseCommandArgs(defs: FlagDef[], argv: string[]): ParsedArgs {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const flagArgs: string[] = [];
  const positionals: string[] = [];
  let rest: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new FlagError(`unknown option "${arg}" (flags are spelled --name; see --help)`);
      positionals.push(arg);
      continue;
    }
    flagArgs.push(arg);
    const def = byName.get(arg.slice(2));
    // "--netns.dir DIR": the next word is the value
    if (def && def.type !== 'bool' && !arg.includes('=')) {
      const value = argv[++i];
      if (value === undefined || value === '--') throw new FlagError(`${arg} needs a value`);
      flagArgs.push(value);
    }
  }
  return { flags: parseFlags(defs, flagArgs), positionals, rest };
}

export function commandHelp(usageLine: string, description: string, defs: FlagDef[]): string {
  return helpText(defs, `Usage: ${usageLine}\n\n${description}`);
}

export { FlagError };
