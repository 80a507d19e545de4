// Which namespace a name on the command line means, by the names the exporter
// labels namespaces with: the namespace file (name or path), the container
// (name or id prefix), the swarm task (full name or <service>.<slot>), the
// service (when it has one task here), or the swarm network (its overlay
// namespace). The first rule that matches anything decides; more than one
// namespace under that rule is ambiguous.
import { basename } from 'node:path';
import type { NetnsRef } from '../kernel/netns.js';
import type { NameIndex, NetnsIdentity } from '../names.js';

export type Resolution =
  | { kind: 'found'; ref: NetnsRef; by: string }
  | { kind: 'ambiguous'; by: string; candidates: NetnsRef[] }
  | { kind: 'unknown' };

type Rule = [by: string, test: (ref: NetnsRef, id: NetnsIdentity) => boolean];

function rules(query: string): Rule[] {
  const q = query.replace(/^\/(?=[^/]*$)/, ''); // "/name" as docker inspect spells container names
  const hexPrefix = /^[0-9a-f]{2,64}$/.test(query);
  return [
    ['namespace file', (ref) => ref.name === query || ref.path === query || (ref.path !== null && basename(ref.path) === query)],
    ['container', (_, id) => id.container === q],
    ['task', (_, id) => id.task === query],
    ['network', (ref, id) => ref.kind === 'overlay' && id.network === query],
    ['task slot', (_, id) => !!id.task && !!id.service && id.task.startsWith(`${query}.`) && query.startsWith(`${id.service}.`)],
    ['container id', (_, id) => hexPrefix && !!id.containerId?.startsWith(query)],
    ['service', (_, id) => id.service === query],
  ];
}

export function resolveNetns(query: string, refs: readonly NetnsRef[], names: NameIndex): Resolution {
  for (const [by, test] of rules(query)) {
    const hits = refs.filter((r) => test(r, names.netns(r)));
    if (hits.length === 1) return { kind: 'found', ref: hits[0]!, by };
    if (hits.length > 1) return { kind: 'ambiguous', by, candidates: hits };
  }
  return { kind: 'unknown' };
}

/** "1-abcdef0123  overlay  network=web" : one line per namespace, for messages listing candidates. */
export function describeNetns(ref: NetnsRef, names: NameIndex): string {
  const id = names.netns(ref);
  const what = [
    id.network ? `network=${id.network}` : '',
    id.service ? `service=${id.service}` : '',
    id.task ? `task=${id.task}` : '',
    id.container ? `container=${id.container}` : '',
  ].filter(Boolean).join(' ');
  return `${ref.name}  (${ref.kind}${what ? `, ${what}` : ''})`;
}

const MAX_LISTED = 20;

export function resolutionMessage(query: string, r: Exclude<Resolution, { kind: 'found' }>, refs: readonly NetnsRef[], names: NameIndex): string {
  const list = (xs: readonly NetnsRef[]) => xs.map((x) => `  ${describeNetns(x, names)}`).join('\n');
  if (r.kind === 'ambiguous') {
    return `"${query}" matches ${r.candidates.length} namespaces by ${r.by}; name one of them:\n${list(r.candidates)}\n`;
  }
  // names that contain the query first; a long list is cut (netns ls shows them all)
  const q = query.toLowerCase();
  const near = (x: NetnsRef) => describeNetns(x, names).toLowerCase().includes(q);
  const ordered = [...refs.filter(near), ...refs.filter((x) => !near(x))];
  const more = ordered.length > MAX_LISTED ? `\n  ... and ${ordered.length - MAX_LISTED} more (swarmnet-exporter netns ls lists them all)` : '';
  return `no namespace is called "${query}" (by namespace file, container, task, service or network). Candidates:\n${
    ordered.length ? list(ordered.slice(0, MAX_LISTED)) : '  (none)'}${more}\n`;
}
