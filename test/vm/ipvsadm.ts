// ipvsadm's own listings (-Ln with --stats/--rate --exact, --thresholds,
// --persistent-conn), parsed, and compared field by field with what the
// exporter's IPVS codec decoded from netlink. Used by the VM tests and by the
// codec unit tests on captured fixtures.
import { expect } from 'vitest';
import { AF_INET6, FWD_METHODS, IP_VS_SVC_F_PERSISTENT, type IpvsDest, type IpvsService, protocolName } from '../../src/kernel/genl/ipvs.js';

export type ListingKind = 'stats' | 'rate' | 'list' | 'thresholds' | 'persistent-conn';

export interface ListedService {
  /** the rest of the service line, split on blanks */
  fields: string[];
  /** destination "ip:port" -> rest of its line */
  dests: Map<string, string[]>;
}

/** "TCP  203.0.113.10:80" or "FWM  257" -> entry */
export function parseListing(text: string): Map<string, ListedService> {
  const out = new Map<string, ListedService>();
  let current: ListedService | undefined;
  for (const line of text.split('\n')) {
    const svc = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s*(.*)$/.exec(line);
    if (svc) {
      current = { fields: svc[3]!.trim().split(/\s+/).filter(Boolean), dests: new Map() };
      out.set(`${svc[1]} ${svc[2]}`, current);
      continue;
    }
    const dest = /^\s+->\s+(\S+)\s+(.*)$/.exec(line);
    if (dest && dest[1] !== 'RemoteAddress:Port') {
      if (!current) throw new Error(`ipvsadm: destination before any service: ${line}`);
      current.dests.set(dest[1]!, dest[2]!.trim().split(/\s+/));
    }
  }
  return out;
}

const hostPort = (af: number | undefined, address: string | undefined, port: number | undefined) =>
  af === AF_INET6 ? `[${address}]:${port}` : `${address}:${port}`;

/** How ipvsadm names a service. */
export function listedName(s: Omit<IpvsService, 'stats'>): string {
  if (s.fwmark) return `FWM ${s.fwmark}`;
  return `${protocolName(s.protocol).toUpperCase()} ${hostPort(s.af, s.address, s.port)}`;
}

export const listedDest = (d: Omit<IpvsDest, 'stats'>): string => hostPort(d.af, d.address, d.port);

/** ipvsadm's name for a forwarding method */
const FORWARD: Record<string, string> = { masq: 'Masq', local: 'Local', tunnel: 'Tunnel', route: 'Route' };

/** decoded (bigint) or carried through JSON (string) */
type Stats = Partial<Record<string, string | bigint>>;
export type DestLike = Omit<IpvsDest, 'stats'> & { stats?: Stats };
export type ServiceLike = Omit<IpvsService, 'stats'> & { stats?: Stats; destinations: DestLike[] };
const big = (v: string | bigint | undefined): bigint | undefined => (v === undefined ? undefined : BigInt(v));

/** The decoded services (with destinations) of one namespace against one ipvsadm listing. Returns the numbers compared. */
export function compareWithListing(services: ServiceLike[], kind: ListingKind, text: string): number {
  const listed = parseListing(text);
  expect([...listed.keys()].sort(), `services in ipvsadm ${kind}`).toEqual(services.map(listedName).sort());
  let compared = 0;
  const eq = (actual: unknown, expected: unknown, what: string) => {
    expect(actual, what).toEqual(expected);
    compared++;
  };
  for (const s of services) {
    const name = listedName(s);
    const l = listed.get(name)!;
    expect([...l.dests.keys()].sort(), `destinations of ${name} (${kind})`).toEqual(s.destinations.map(listedDest).sort());
    const stats = (x: { stats?: Stats }) => x.stats ?? {};
    if (kind === 'stats' || kind === 'rate') {
      const fields = kind === 'stats' ? ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes'] : ['cps', 'inpps', 'outpps', 'inbps', 'outbps'];
      fields.forEach((f, i) => eq(big(stats(s)[f]), BigInt(l.fields[i]!), `${name} ${f}`));
      for (const d of s.destinations) {
        const row = l.dests.get(listedDest(d))!;
        fields.forEach((f, i) => eq(big(stats(d)[f]), BigInt(row[i]!), `${name} -> ${listedDest(d)} ${f}`));
      }
      continue;
    }
    if (kind === 'list') {
      eq(s.scheduler, l.fields[0], `${name} scheduler`);
      // "persistent 60 mask 255.255.255.0" for persistent services, nothing else here
      const persistent = l.fields.indexOf('persistent');
      eq((s.flags! & IP_VS_SVC_F_PERSISTENT) !== 0, persistent >= 0, `${name} persistent flag`);
      if (persistent >= 0) {
        eq(s.timeout, Number(l.fields[persistent + 1]), `${name} persistence timeout`);
        const mask = l.fields.indexOf('mask');
        if (mask >= 0) eq(s.netmask, l.fields[mask + 1], `${name} persistence netmask`);
      }
    }
    for (const d of s.destinations) {
      const row = l.dests.get(listedDest(d))!;
      const what = `${name} -> ${listedDest(d)}`;
      if (kind === 'list') {
        eq(FORWARD[FWD_METHODS[d.fwdMethod!]!], row[0], `${what} forward`);
        eq(d.weight, Number(row[1]), `${what} weight`);
        eq(d.activeConns, Number(row[2]), `${what} active`);
        eq(d.inactiveConns, Number(row[3]), `${what} inactive`);
      } else if (kind === 'thresholds') {
        eq(d.upperThreshold, Number(row[0]), `${what} upper threshold`);
        eq(d.lowerThreshold, Number(row[1]), `${what} lower threshold`);
        eq(d.activeConns, Number(row[2]), `${what} active`);
        eq(d.inactiveConns, Number(row[3]), `${what} inactive`);
      } else {
        eq(d.weight, Number(row[0]), `${what} weight`);
        eq(d.persistentConns, Number(row[1]), `${what} persistent`);
        eq(d.activeConns, Number(row[2]), `${what} active`);
        eq(d.inactiveConns, Number(row[3]), `${what} inactive`);
      }
    }
  }
  return compared;
}

/** ipvsadm options of each listing kind */
export const LISTING_OPTS: Record<ListingKind, string[]> = {
  stats: ['--stats', '--exact'], rate: ['--rate', '--exact'], list: [], thresholds: ['--thresholds'], 'persistent-conn': ['--persistent-conn'],
};
export const kindOfOpts = (opts: string[]): ListingKind =>
  (Object.entries(LISTING_OPTS).find(([, o]) => o.join(' ') === opts.join(' '))?.[0] ?? 'list') as ListingKind;
