// The captured netlink replies of test/fixtures/rtnl and test/fixtures/ipvs, as
// bytes and as decoded by the exporter's own codecs (what a namespace looked
// like to the kernel at capture time), and node1's captured swarm with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNameIndex, lbNetnsName } from '../../src/docker/resolve.js';
import { type DockerState, parseDockerState } from '../../src/docker/state.js';
import { type GenlFamily, decodeFamily } from '../../src/kernel/genl/ctrl.js';
import { type IpvsServiceKey, decodeDests, decodeServices, serviceKey } from '../../src/kernel/genl/ipvs.js';
import type { IpvsNsResult } from '../../src/kernel/readers/ipvs.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import { parseReply } from '../../src/kernel/nl/message.js';
import { type Link, decodeLinks } from '../../src/kernel/rtnl/link.js';
import { NTF_SELF, type Neighbour, type NeighbourCount, countNeighbours, decodeNeighbours } from '../../src/kernel/rtnl/neigh.js';
import { type NeighTable, decodeNeighTables } from '../../src/kernel/rtnl/neightbl.js';
import { decodeInetSockets } from '../../src/kernel/diag/inet.js';
import { type IfAddress, decodeAddrs } from '../../src/kernel/rtnl/addr.js';
import { parseSnmp } from '../../src/kernel/proc-snmp.js';
import type { UdpNsResult } from '../../src/kernel/readers/udp.js';
import type { NameIndex } from '../../src/names.js';
import { loadApi, loadKernel } from '../fixtures/docker/load.js';
import { sampleOf } from './snapshot.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');

/** One captured reply: its bytes as received, and the sequence number and port id they answer. */
export interface Capture {
  bytes: Uint8Array;
  seq: number;
  port: number;
}

function capture(dir: string, name: string): Capture {
  const read = (ext: string) => readFileSync(join(fixtures, dir, `${name}.${ext}`));
  return {
    bytes: new Uint8Array(read('bin')),
    seq: Number(read('seq').toString('utf8')),
    port: Number(read('port').toString('utf8')),
  };
}

const messages = (c: Capture, what: string) => parseReply(c.bytes, { seq: c.seq, port: c.port }, what);

export const rtnlCapture = (name: 'links' | 'fdb' | 'neigh'): Capture => capture('rtnl', name);
export const ipvsCapture = (name: string): Capture => capture('ipvs', name);
/** test/fixtures/neigh: the host's RTM_GETNEIGHTBL dump ("neightbl") and a namespace's RTM_GETNEIGH AF_UNSPEC dump ("neigh-unspec") */
export const neighCapture = (name: 'neightbl' | 'neigh-unspec'): Capture => capture('neigh', name);
/** test/fixtures/diag: a namespace's sock_diag UDP dumps, IPv4 ("udp4") and IPv6 ("udp6") */
export const diagCapture = (name: 'udp4' | 'udp6'): Capture => capture('diag', name);
/** test/fixtures/mtu: a namespace standing for node1's host (underlay eth0 at 198.18.0.1, MTU 1400): links and addresses */
export const mtuCapture = (name: 'host-links' | 'host-addrs'): Capture => capture('mtu', name);
export function hostData(): { links: Link[]; addrs: IfAddress[] } {
  return {
    links: decodeLinks(messages(mtuCapture('host-links'), 'RTM_GETLINK')),
    addrs: decodeAddrs(messages(mtuCapture('host-addrs'), 'RTM_GETADDR')),
  };
}
export const captureMessages = messages;
export const fixtureJson = <T>(dir: string, name: string): T => JSON.parse(readFileSync(join(fixtures, dir, name), 'utf8')) as T;

/** `ip -s -d -j link show` and `bridge -j fdb show` as printed at capture time. */
export interface IpLinkJson {
  ifname: string;
  ifindex: number;
  mtu: number;
  operstate: string;
  master?: string;
  address: string;
  linkinfo?: { info_kind: string; info_data?: { id?: number; port?: number; local?: string; learning?: boolean } };
  stats64: { rx: Record<string, number>; tx: Record<string, number> };
}
export interface BridgeFdbJson {
  mac: string;
  ifname: string;
  dst?: string;
  flags: string[];
  master?: string;
  state: string;
}
export const ipLinkJson = (): IpLinkJson[] => JSON.parse(readFileSync(join(fixtures, 'rtnl', 'ip-link.json'), 'utf8'));
export const bridgeFdbJson = (): BridgeFdbJson[] => JSON.parse(readFileSync(join(fixtures, 'rtnl', 'bridge-fdb.json'), 'utf8'));

/** The rtnl capture's namespace (swnfix in capture.mjs): its links, bridge FDB and IPv4 neighbours. */
export interface RtnlData {
  links: Link[];
  fdb: Neighbour[];
  neigh: Neighbour[];
}

export function rtnlData(): RtnlData {
  const links = decodeLinks(messages(rtnlCapture('links'), 'RTM_GETLINK'));
  // the fdb reader's own filter: a device's NTF_SELF list is kept only on vxlan devices
  const vxlans = new Set(links.filter((l) => l.kind === 'vxlan').map((l) => l.index));
  const fdb = decodeNeighbours(messages(rtnlCapture('fdb'), 'RTM_GETNEIGH(bridge)'),
    (ifindex, flags) => (flags & NTF_SELF) === 0 || vxlans.has(ifindex));
  const neigh = decodeNeighbours(messages(rtnlCapture('neigh'), 'RTM_GETNEIGH(inet)'));
  return { links, fdb, neigh };
}

/** test/fixtures/neigh decoded: the host's neighbour tables and the swnnbfix namespace's entry counts. */
export function neighData(): { tables: NeighTable[]; counts: NeighbourCount[] } {
  return {
    tables: decodeNeighTables(messages(neighCapture('neightbl'), 'RTM_GETNEIGHTBL')),
    counts: countNeighbours(messages(neighCapture('neigh-unspec'), 'RTM_GETNEIGH(unspec)')),
  };
}

/** test/fixtures/diag/snmp.txt: /proc/net/snmp of the capture's namespace, as the addon reads it on entry. */
export const snmpCapture = (): Buffer => readFileSync(join(fixtures, 'diag', 'snmp.txt'));

/** test/fixtures/diag decoded: the namespace's UDP sockets (IPv4 and IPv6 dumps) and its Udp snmp counters. */
export function udpData(): UdpNsResult {
  return {
    sockets: [...decodeInetSockets(messages(diagCapture('udp4'), 'udp4')), ...decodeInetSockets(messages(diagCapture('udp6'), 'udp6'))],
    snmp: parseSnmp(snmpCapture().toString('latin1'), 'Udp'),
  };
}

/** The IPVS family as the capture's CTRL_CMD_GETFAMILY resolved it. */
export const ipvsFamily = (): GenlFamily => decodeFamily(messages(ipvsCapture('family'), 'CTRL_CMD_GETFAMILY'));

/** The service key each dests-<i> capture asked for. */
export const ipvsDestKeys = (): IpvsServiceKey[] => JSON.parse(readFileSync(join(fixtures, 'ipvs', 'dests-keys.json'), 'utf8'));

/** The captured namespace's IPVS table: services in dump order, each with the destinations its own dump returned. */
export function ipvsTable(): IpvsNsResult {
  const family = ipvsFamily().id;
  const keys = ipvsDestKeys();
  return {
    available: true,
    services: decodeServices(messages(ipvsCapture('services'), 'IPVS_CMD_GET_SERVICE'), family).map((s) => {
      const i = keys.findIndex((k) => JSON.stringify(k) === JSON.stringify(serviceKey(s)));
      if (i < 0) throw new Error(`no destination capture for service ${JSON.stringify(serviceKey(s))}`);
      return { ...s, destinations: decodeDests(messages(ipvsCapture(`dests-${i}`), 'IPVS_CMD_GET_DEST'), family, s.af) };
    }),
  };
}

/** Node1's captured namespaces with the IPVS table and the rtnl capture's namespace added: every collector's source. */
export interface CapturedScene {
  state: DockerState;
  names: NameIndex;
  samples: NsSample[];
}

/**
 * node1-kernel.json's namespaces (no counters), with appnet's load balancer
 * carrying the captured IPVS table (Docker balances the api service there under
 * firewall mark 257, the mark of the capture's FWM service) and the rtnl
 * capture's namespace (capture.mjs names it swnfix), which has counters, and
 * the neighbour capture's host tables and namespace (swnnbfix).
 * `fetchedAt`: when the Docker state counts as read.
 */
export function capturedScene(fetchedAt: number): CapturedScene {
  const state = parseDockerState(loadApi('node1'), fetchedAt);
  const lb = lbNetnsName(state.networks.find((n) => n.name === 'appnet')!.id);
  const table = ipvsTable();
  const samples = loadKernel().samples.map((s) => (s.ref.name === lb ? { ...s, ipvs: table } : s));
  if (!samples.some((s) => s.ipvs)) throw new Error(`node1's capture has no namespace ${lb}`);
  samples.push(sampleOf({ name: 'swnfix', kind: 'other', path: '/fixture/netns/swnfix' }, rtnlData()));
  // the neighbour capture: the host's global tables and one namespace's ARP/ND entries
  const neigh = neighData();
  // and the sock_diag capture's UDP sockets (the VXLAN port and a flooded one) with its snmp counters, as the host's
  // and the MTU capture's links and addresses (underlay eth0 at node1's data-path address, MTU 1400)
  samples.push(sampleOf({ name: 'host', kind: 'host', path: null }, { neighTables: neigh.tables, neighCounts: [], udp: udpData(), ...hostData() }));
  samples.push(sampleOf({ name: 'swnnbfix', kind: 'other', path: '/fixture/netns/swnnbfix' }, { neighCounts: neigh.counts }));
  return { state, names: buildNameIndex(state), samples };
}
