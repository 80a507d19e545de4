// `links`: the seed's find_links.sh as a command, on one scrape's snapshot.
import type { Topology, TopologyInterface } from '../topology/model.js';
import { type LinkHop, type LinkPath, followLink, ownerOf, selectLinks } from '../topology/follow.js';
import { commandFlags, commandHelp, FlagError, JSON_FLAG, parseCommandArgs } from './args.js';
import { readDockerNames, sourcesFrom, takeTopology } from './context.js';
import { short, table, writeJson } from './format.js';
import { resolutionMessage, resolveNetns } from './resolve.js';

const FLAGS = () => commandFlags([JSON_FLAG]);

export const LINKS_USAGE = 'swarmnet-exporter links [<container | task | network | namespace file>] [<ifindex | ifname>] [--json] [flags]';

export const linksHelp = () => commandHelp(LINKS_USAGE,
  'With no argument: every namespace\'s interfaces (index, kind, state, bridge, veth peer, counters).\n' +
  'With a namespace (named as for netns exec): its interfaces, each followed to the other end of its\n' +
  'veth pair. With an interface too (ifindex or name; or an ifindex alone, looked up in every\n' +
  'namespace, as find_links.sh does): that link followed across namespaces in both directions, with\n' +
  'each end\'s bridge, the VXLAN devices on it (VNI, remote VTEPs named by swarm node) and counters.\n' +
  'Read from one netlink exchange per namespace, as a scrape reads them. Exit status 1 when nothing matches.', FLAGS());

export async function links(argv: string[]): Promise<number> {
  const args = parseCommandArgs(FLAGS(), argv);
  if (args.flags.get('help')) {
    process.stdout.write(linksHelp());
    return 0;
  }
  if (args.positionals.length > 2 || args.rest) throw new FlagError('links takes at most a namespace and an interface; see --help');
  const src = sourcesFrom(args.flags);
  const docker = await readDockerNames(src);
  if (docker.note) process.stderr.write(`swarmnet-exporter: ${docker.note}\n`);
  const topo = await takeTopology(src, docker);
  const json = args.flags.get('json') === true;
  const [first, second] = args.positionals;

  if (first === undefined) {
    if (json) writeJson(topo.namespaces.map((ns) => ({ netns: ns.name, kind: ns.kind, ...(ns.error ? { error: ns.error } : {}), interfaces: ns.interfaces })));
    else process.stdout.write(topo.namespaces.map((ns) => namespaceBlock(topo, ns.name)).join('\n'));
    return 0;
  }

  // one argument of digits: an ifindex in every namespace (find_links.sh); else a namespace, else an interface name anywhere
  let netns: string | undefined;
  let iface = second;
  if (second === undefined && /^\d+$/.test(first)) {
    iface = first;
  } else {
    const refs = topo.namespaces.map((n) => ({ name: n.name, kind: n.kind, path: n.path }));
    const r = resolveNetns(first, refs, docker.names);
    if (r.kind === 'found') netns = r.ref.name;
    else if (r.kind === 'ambiguous' || second !== undefined || selectLinks(topo, { interface: first }).length === 0) {
      process.stderr.write(`swarmnet-exporter: ${resolutionMessage(first, r, refs, docker.names)}`);
      return r.kind === 'ambiguous' ? 2 : 1;
    } else {
      iface = first;
    }
  }
  const selected = selectLinks(topo, { netns, interface: iface });
  if (selected.length === 0) {
    process.stderr.write(`swarmnet-exporter: no interface ${iface ?? ''}${netns ? ` in ${netns}` : ''}\n`);
    return 1;
  }
  const paths = selected.map((s) => followLink(topo, s.netns, s.ifindex)!);
  if (json) writeJson(paths);
  else process.stdout.write(paths.map(pathBlock).join('\n'));
  return 0;
}

function counters(i: TopologyInterface): string {
  const c = i.counters;
  if (!c) return '';
  return `rx ${short(c.rxBytes)}B ${short(c.rxPackets)}p tx ${short(c.txBytes)}B ${short(c.txPackets)}p err ${c.rxErrors}/${c.txErrors} drop ${c.rxDropped}/${c.txDropped}`;
}

function peerOf(i: TopologyInterface): string {
  if (i.peer) return `${i.peer.netns}/${i.peer.interface}${i.peer.ifindex !== undefined ? `@${i.peer.ifindex}` : ''}`;
  if (i.link !== undefined) return `@${i.link}${i.linkNetnsId !== undefined ? ` nsid ${i.linkNetnsId}` : ''}`;
  return '';
}

function vxlanLine(v: TopologyInterface): string {
  const x = v.vxlan;
  if (!x) return '';
  const remotes = x.remotes.map((r) => `${r.ip}${r.node ? ` (${r.node})` : ''} ${r.macs} MAC${r.macs === 1 ? '' : 's'}`).join(', ');
  return `vni ${x.vni ?? '?'} port ${x.port ?? '?'}${x.local ? ` local ${x.local}` : ''} remotes: ${remotes || 'none'}`;
}

function namespaceBlock(topo: Topology, name: string): string {
  const ns = topo.namespaces.find((n) => n.name === name)!;
  const owner = ownerOf(ns);
  const head = `${ns.name} (${ns.kind}${owner ? `, ${owner}` : ''})${ns.error ? `: ${ns.error}` : ''}\n`;
  const rows = ns.interfaces.map((i) => [
    String(i.index), i.name, i.kind ?? '', i.operstate ?? '', i.master ? `${i.master.name ?? ''}@${i.master.index}` : '',
    i.kind === 'vxlan' ? vxlanLine(i) : peerOf(i), counters(i),
  ]);
  return head + table(['  IDX', 'NAME', 'KIND', 'STATE', 'MASTER', 'PEER / VXLAN', 'COUNTERS'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]));
}

function hopLines(h: LinkHop, first: boolean): string[] {
  const l = h.link;
  const lines = [
    `${first ? '' : '  -> peer '}${h.netns} (${h.kind}${h.owner ? `, ${h.owner}` : ''}): ${l.name}@${l.index} ${l.kind ?? ''} ${l.operstate ?? ''}` +
      `${l.mtu !== undefined ? ` mtu ${l.mtu}` : ''}${l.mac ? ` ${l.mac}` : ''}${l.network ? ` network=${l.network}` : ''}`,
    `     ${counters(l)}`,
  ];
  if (h.bridge) lines.push(`     bridge ${h.bridge.name}@${h.bridge.index} ports: ${(h.bridge.ports ?? []).join(', ')}`);
  for (const v of h.vxlan) lines.push(`     vxlan ${v.name}@${v.index} ${vxlanLine(v)}`, `       ${counters(v)}`);
  return lines;
}

function pathBlock(p: LinkPath): string {
  const lines = p.hops.flatMap((h, i) => hopLines(h, i === 0));
  if (p.hops.length === 1 && p.hops[0]!.link.kind === 'veth') lines.push('  -> peer not found in the namespaces read');
  return lines.join('\n') + '\n';
}
