// `netns ls` and `netns exec`: the seed's docker_netns.sh as commands.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { loadNative } from '../kernel/native.js';
import { commandFlags, commandHelp, FlagError, JSON_FLAG, parseCommandArgs } from './args.js';
import { type CliSources, listNamespaces, readDockerNames, sourcesFrom, takeTopology } from './context.js';
import { table, writeJson } from './format.js';
import { resolutionMessage, resolveNetns } from './resolve.js';

const LS_FLAGS = () => commandFlags([JSON_FLAG]);
const EXEC_FLAGS = () => commandFlags();

export const NETNS_LS_USAGE = 'swarmnet-exporter netns ls [--json] [flags]';
export const NETNS_EXEC_USAGE = 'swarmnet-exporter netns exec [flags] <container | task | service | network | namespace file> -- CMD [ARGS...]';

export const netnsLsHelp = () => commandHelp(NETNS_LS_USAGE,
  'Every network namespace the exporter reads, the host\'s included: file name, kind, the swarm network\n' +
  '(overlay, lb, ingress_sbox) or service, task and container (sandboxes), and how many interfaces and\n' +
  'IPVS services it holds. Read the way a scrape reads them: one netlink exchange per namespace.', LS_FLAGS());

export const netnsExecHelp = () => commandHelp(NETNS_EXEC_USAGE,
  'Run CMD inside the network namespace of a container, swarm task, service (with one task on this node),\n' +
  'swarm network (its overlay namespace 1-<id>) or namespace file (name or path, e.g. lb_abcdef012 or\n' +
  '/var/run/docker/netns/ingress_sbox; "host" for the host\'s). CMD\'s stdio and exit code pass through.\n' +
  'Only the network namespace changes: CMD keeps this process\'s mounts, so /sys shows the host\'s devices\n' +
  '(ip, ss and ping speak netlink and sockets and are not affected).\n' +
  'Exit status: CMD\'s own; 1 when no namespace has that name or it cannot be entered; 2 for a usage\n' +
  'error or an ambiguous name; 127 when CMD cannot be run.', EXEC_FLAGS());

export async function netnsLs(argv: string[]): Promise<number> {
  const args = parseCommandArgs(LS_FLAGS(), argv);
  if (args.flags.get('help')) return help(netnsLsHelp());
  if (args.positionals.length > 0 || args.rest) throw new FlagError(`netns ls takes no arguments (got "${[...args.positionals, ...(args.rest ?? [])].join(' ')}")`);
  const src = sourcesFrom(args.flags);
  const docker = await readDockerNames(src);
  if (docker.note) process.stderr.write(`swarmnet-exporter: ${docker.note}\n`);
  const topo = await takeTopology(src, docker);
  const rows = topo.namespaces.map((ns) => ({
    name: ns.name,
    kind: ns.kind,
    path: ns.path,
    ...(ns.network ? { network: ns.network } : {}),
    ...(ns.service ? { service: ns.service } : {}),
    ...(ns.task ? { task: ns.task } : {}),
    ...(ns.container ? { container: ns.container } : {}),
    interfaces: ns.interfaces.length,
    ipvsServices: ns.ipvs?.length ?? 0,
    ...(ns.error ? { error: ns.error } : {}),
  }));
  if (args.flags.get('json')) {
    writeJson(rows);
    return 0;
  }
  const what = (r: (typeof rows)[number]) =>
    r.network ?? ([r.service && `service=${r.service}`, r.task && `task=${r.task}`, r.container && `container=${r.container}`].filter(Boolean).join(' ') || '-');
  process.stdout.write(table(['NAMESPACE', 'KIND', 'INTERFACES', 'IPVS', 'NETWORK / SERVICE, TASK, CONTAINER'],
    rows.map((r) => [r.name, r.kind, r.error ? 'error' : String(r.interfaces), String(r.ipvsServices), r.error ? `${what(r)} (${r.error})` : what(r)])));
  return 0;
}

export async function netnsExec(argv: string[]): Promise<number> {
  const args = parseCommandArgs(EXEC_FLAGS(), argv);
  if (args.flags.get('help')) return help(netnsExecHelp());
  if (args.positionals.length !== 1) throw new FlagError(`netns exec takes one namespace name before "--" (got ${args.positionals.length}); see --help`);
  if (!args.rest || args.rest.length === 0) throw new FlagError('netns exec needs a command after "--"; see --help');
  const src: CliSources = sourcesFrom(args.flags);
  const query = args.positionals[0]!;
  const { refs } = await listNamespaces(src);
  const docker = await readDockerNames(src);
  const r = resolveNetns(query, refs, docker.names);
  if (r.kind !== 'found') {
    if (docker.note) process.stderr.write(`swarmnet-exporter: ${docker.note}\n`);
    process.stderr.write(`swarmnet-exporter: ${resolutionMessage(query, r, refs, docker.names)}`);
    return r.kind === 'ambiguous' ? 2 : 1;
  }
  // How CMD gets into the namespace: setns(CLONE_NEWNET) on this process's main
  // thread (the addon's one synchronous entry, no way back), then spawn, which
  // forks from that same thread, so the child starts in the namespace and
  // exec()s CMD there. Network namespaces may be joined by one thread of a
  // multi-threaded process; libuv's pool threads stay where they are, and this
  // process does nothing else afterwards but wait for CMD. No nsenter, no shell.
  if (r.ref.path !== null) {
    const failed = loadNative().enterNetnsOnThisThread(r.ref.path);
    if (failed) {
      process.stderr.write(`swarmnet-exporter: cannot enter ${r.ref.path}: ${failed.syscall}: ${failed.message}\n`);
      return 1;
    }
  }
  return runInherited(args.rest[0]!, args.rest.slice(1));
}

/** Run CMD with our stdio; its exit code, or 128 + the signal that ended it (as shells report it). */
function runInherited(cmd: string, cmdArgs: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { stdio: 'inherit' });
    // a terminal's ^C reaches CMD directly (same process group); a kill aimed at us is passed on
    const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const handlers: Array<[NodeJS.Signals, () => void]> = [['SIGINT', () => {}], ['SIGTERM', forward('SIGTERM')], ['SIGHUP', forward('SIGHUP')]];
    for (const [sig, h] of handlers) process.on(sig, h);
    const done = (code: number) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(code);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`swarmnet-exporter: cannot run ${cmd}: ${err.code ?? err.message}\n`);
      done(err.code === 'EACCES' ? 126 : 127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}
