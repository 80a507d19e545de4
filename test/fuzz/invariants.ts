// What a successful decode must look like whatever the bytes were: integers in
// the range of their wire type, counters that are numbers >= 0 (never NaN),
// label-ish fields that are strings, addresses in their textual form, and
// fields that agree with each other. Each check throws naming the first problem.
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { DumpInterruptedError, NetlinkError } from '../../src/kernel/nl/message.js';
import { LINK_STATS64_FIELDS, OPERSTATES, type Link } from '../../src/kernel/rtnl/link.js';
import { fdbEntryType, type Neighbour } from '../../src/kernel/rtnl/neigh.js';
import type { GenlFamily } from '../../src/kernel/genl/ctrl.js';
import {
  AF_INET, AF_INET6, IPVS_STAT_NAMES, type IpvsDest, type IpvsService, type IpvsStats, protocolName, serviceKey,
} from '../../src/kernel/genl/ipvs.js';

export const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : Number.isNaN(x) ? 'NaN' : x));

function fail(what: string, value: unknown, whole?: unknown): never {
  throw new Error(`${what}: ${show(value)}${whole !== undefined ? ` in ${show(whole)}` : ''}`);
}

/** The errors a netlink decoder may throw; anything else is a defect. */
export function isNetlinkError(e: unknown): boolean {
  if (e instanceof NetlinkError) return typeof e.code === 'string' && Number.isInteger(e.errno);
  return e instanceof DecodeError || e instanceof DumpInterruptedError;
}

/** Rethrow anything a netlink decoder must not throw. */
export function expectNetlinkError(e: unknown): void {
  if (!isNetlinkError(e)) throw e;
}

export const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** inet_ntop's IPv6 form: lower-case groups without leading zeros, at most one "::" */
export function isIpv6(s: string): boolean {
  if (!/^[0-9a-f:]+$/.test(s) || s.split('::').length > 2) return false;
  const [head, tail] = s.split('::');
  const groups = (x: string | undefined) => (x ? x.split(':') : []);
  const all = [...groups(head), ...groups(tail)];
  if (!all.every((g) => /^(0|[1-9a-f][0-9a-f]{0,3})$/.test(g))) return false;
  return tail === undefined ? all.length === 8 : all.length <= 6;
}
export const isIp = (s: string): boolean => IPV4.test(s) || isIpv6(s);

const isUint = (v: unknown, bits: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** bits;
const isInt32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
/** A string as a label holds it: no NUL (the decoders stop at the terminator). */
const isLabel = (v: unknown): boolean => typeof v === 'string' && !v.includes('\0');

function optional(obj: object, key: string, ok: (v: unknown) => boolean, what: string): void {
  const v = (obj as Record<string, unknown>)[key];
  if (v !== undefined && !ok(v)) fail(`${what}.${key}`, v, obj);
}

export function checkLink(l: Link): void {
  if (!isUint(l.index, 31)) fail('link.index is not an ifindex (integer >= 0)', l.index, l);
  if (!isLabel(l.name) || l.name === '') fail('link.name', l.name, l);
  if (!isUint(l.flags, 32)) fail('link.flags', l.flags, l);
  optional(l, 'kind', isLabel, 'link');
  optional(l, 'slaveKind', isLabel, 'link');
  for (const k of ['mtu', 'master', 'link'] as const) optional(l, k, (v) => isUint(v, 32), 'link');
  optional(l, 'linkNetnsId', isInt32, 'link');
  optional(l, 'operstate', (v) => (OPERSTATES as readonly unknown[]).includes(v), 'link');
  optional(l, 'address', (v) => typeof v === 'string' && MAC.test(v), 'link');
  if (l.stats !== undefined) {
    for (const [k, v] of Object.entries(l.stats)) {
      if (!(LINK_STATS64_FIELDS as readonly string[]).includes(k)) fail('link.stats has an unknown field', k, l);
      // a field this kernel's (shorter) rtnl_link_stats64 does not carry is undefined: absent, never a number
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || !Number.isInteger(v)) fail(`link.stats.${k} is not a counter`, v, l);
    }
    if (l.stats.rx_packets === undefined || l.stats.tx_compressed === undefined) fail('link.stats lacks the 23 fields every kernel sends', l.stats, l);
  }
  if (l.vxlan !== undefined) {
    if (l.kind !== 'vxlan') fail('vxlan parameters on a link of another kind', l.kind, l);
    optional(l.vxlan, 'vni', (v) => isUint(v, 32), 'link.vxlan');
    optional(l.vxlan, 'link', (v) => isUint(v, 32), 'link.vxlan');
    optional(l.vxlan, 'port', (v) => isUint(v, 16), 'link.vxlan');
    optional(l.vxlan, 'local', (v) => typeof v === 'string' && isIp(v), 'link.vxlan');
    optional(l.vxlan, 'learning', (v) => typeof v === 'boolean', 'link.vxlan');
  }
}

export function checkNeighbour(n: Neighbour): void {
  if (!isUint(n.family, 8)) fail('neighbour.family', n.family, n);
  if (!isUint(n.ifindex, 31)) fail('neighbour.ifindex is not an ifindex (integer >= 0)', n.ifindex, n);
  if (!isUint(n.state, 16)) fail('neighbour.state', n.state, n);
  if (!isUint(n.flags, 8)) fail('neighbour.flags', n.flags, n);
  optional(n, 'lladdr', (v) => typeof v === 'string' && MAC.test(v), 'neighbour');
  optional(n, 'dst', (v) => typeof v === 'string' && isIp(v), 'neighbour');
  optional(n, 'master', (v) => isUint(v, 32), 'neighbour');
  optional(n, 'vlan', (v) => isUint(v, 16), 'neighbour');
  optional(n, 'vni', (v) => isUint(v, 32), 'neighbour');
  if (!['permanent', 'static', 'dynamic'].includes(fdbEntryType(n))) fail('fdb entry type', fdbEntryType(n), n);
}

export function checkFamily(f: GenlFamily): void {
  if (!isUint(f.id, 16)) fail('family.id', f.id, f);
  if (!isLabel(f.name)) fail('family.name', f.name, f);
  for (const k of ['version', 'hdrsize', 'maxattr'] as const) optional(f, k, (v) => isUint(v, 32), 'family');
}

function checkStats(stats: IpvsStats | undefined, whole: unknown): void {
  if (stats === undefined) return;
  for (const [k, v] of Object.entries(stats)) {
    if (!(IPVS_STAT_NAMES as readonly string[]).includes(k)) fail('IPVS stats has an unknown field', k, whole);
    if (typeof v !== 'bigint' || v < 0n || v >= 2n ** 64n) fail(`IPVS stats.${k} is not a u64 counter`, v, whole);
  }
}

/** An address consistent with the family it was decoded for. */
function checkAddress(address: string | undefined, af: number | undefined, whole: unknown): void {
  if (address === undefined) return;
  if (af === AF_INET ? !IPV4.test(address) : af === AF_INET6 ? !isIpv6(address) : true) {
    fail(`IPVS address for address family ${af}`, address, whole);
  }
}

export function checkService(s: IpvsService): void {
  for (const k of ['af', 'protocol', 'port'] as const) optional(s, k, (v) => isUint(v, 16), 'service');
  for (const k of ['fwmark', 'flags', 'timeout'] as const) optional(s, k, (v) => isUint(v, 32), 'service');
  for (const k of ['scheduler', 'pe'] as const) optional(s, k, isLabel, 'service');
  checkAddress(s.address, s.af, s);
  optional(s, 'netmask', (v) => typeof v === 'string' && (s.af === AF_INET6 ? /^\d+$/.test(v) : IPV4.test(v)), 'service');
  checkStats(s.stats, s);
  if (typeof protocolName(s.protocol) !== 'string') fail('protocol name', s.protocol, s);
  const key = serviceKey(s);
  if (key && !('fwmark' in key) && !(isLabel(key.address) && isUint(key.port, 16))) fail('service key', key, s);
}

export function checkDest(d: IpvsDest, svcAf: number | undefined): void {
  optional(d, 'af', (v) => isUint(v, 16), 'destination');
  optional(d, 'port', (v) => isUint(v, 16), 'destination');
  for (const k of ['fwdMethod', 'weight', 'upperThreshold', 'lowerThreshold', 'activeConns', 'inactiveConns', 'persistentConns'] as const) {
    optional(d, k, (v) => isUint(v, 32), 'destination');
  }
  checkAddress(d.address, d.af ?? svcAf, d);
  checkStats(d.stats, d);
}
