// The exporter's commands: `swarmnet-exporter netns ls|exec` and `links`.
// main.ts hands over before its own flag parsing when argv starts with one.
import { FlagError } from '../flags.js';
import { LINKS_USAGE, links } from './links.js';
import { NETNS_EXEC_USAGE, NETNS_LS_USAGE, netnsExec, netnsLs } from './netns.js';

export const COMMANDS = ['netns', 'links'] as const;

export const isCommand = (word: string | undefined): boolean => (COMMANDS as readonly string[]).includes(word ?? '');

/** Appended to the exporter's --help. */
export const commandsHelp = (): string => `
Commands (each takes --netns.dir, --netns.host and --docker.host as above, and --help):
  ${NETNS_LS_USAGE}
      List the namespaces the exporter reads, with their swarm names and sizes.
  ${NETNS_EXEC_USAGE}
      Run a command inside a container's, task's, network's or namespace file's network namespace.
  ${LINKS_USAGE}
      Interfaces of every namespace; follow a link across veth pairs, bridges and VXLAN.
`;

const NETNS_HELP = `Usage: swarmnet-exporter netns ls|exec ...

  ${NETNS_LS_USAGE}
  ${NETNS_EXEC_USAGE}

See swarmnet-exporter netns ls --help and swarmnet-exporter netns exec --help.
`;

/** Run a command; its exit status (0 done, 1 nothing matched, 2 usage error, or netns exec's CMD status). */
export async function runCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'links') return await links(rest);
    const [sub, ...args] = rest;
    if (sub === 'ls') return await netnsLs(args);
    if (sub === 'exec') return await netnsExec(args);
    if (sub === undefined || sub === '--help' || sub === 'help') {
      process.stdout.write(NETNS_HELP);
      return sub === undefined ? 2 : 0;
    }
    throw new FlagError(`unknown command "netns ${sub}" (netns ls or netns exec)`);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`swarmnet-exporter: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`swarmnet-exporter: ${(err as Error).message}\n`);
    return 1;
  }
}
