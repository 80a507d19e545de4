// What the sampler reads in a namespace, and the shape of a reader. Collectors
// declare the needs they project; the sampler enters each namespace once per
// scrape and runs the readers of the union of those needs over one session.
import type { Logger } from 'pino';
import type { FamilySet } from '../../metrics/family.js';
import type { IpvsNsResult, IpvsStatus } from './ipvs.js';
import type { NetlinkSessions } from '../native.js';
import type { NetnsRef } from '../netns.js';
import type { NlMessage } from '../nl/message.js';
import type { Link } from '../rtnl/link.js';
import type { Neighbour, NeighbourCount } from '../rtnl/neigh.js';
import type { NeighTable } from '../rtnl/neightbl.js';
import type { IfAddress } from '../rtnl/addr.js';
import type { UdpNsResult } from './udp.js';
import type { NlRequest, NsSession, SampleError } from '../session.js';

/** One namespace's data, one key per reader. */
export interface NsData {
  /** RTM_GETLINK: every interface, its counters and facts */
  links: Link[];
  /** RTM_GETNEIGH(AF_BRIDGE): bridge FDB entries, and VXLAN devices' own entries (remote VTEPs) */
  fdb: Neighbour[];
  /** RTM_GETNEIGH(AF_INET): IPv4 neighbours (overlay namespaces) */
  neigh: Neighbour[];
  /** IPVS services and destinations (load-balancer namespaces) */
  ipvs: IpvsNsResult;
  /** RTM_GETNEIGH(AF_UNSPEC): ARP and ND entries by family and state (every namespace) */
  neighCounts: NeighbourCount[];
  /** RTM_GETNEIGHTBL: the kernel's neighbour tables, shared by all namespaces (read in the host namespace) */
  neighTables: NeighTable[];
  /** sock_diag UDP sockets with their memory counters, and the namespace's Udp: snmp counters (host namespace by default) */
  udp: UdpNsResult;
  /** RTM_GETADDR: interface addresses (host namespace: the underlay of the VXLAN tunnels) */
  addrs: IfAddress[];
}
export type Need = keyof NsData;
/** the order readers run in: a later reader may use an earlier one's data (fdb filters by link kind) */
export const NEEDS: readonly Need[] = ['links', 'fdb', 'neigh', 'ipvs', 'neighCounts', 'neighTables', 'udp', 'addrs'];

/** What readers learn once per scrape, before any namespace is entered. */
export interface ScrapeData {
  ipvs: IpvsStatus;
}

export interface NsSample {
  ref: NetnsRef;
  /** empty where not read (no collector needs it, or not this kind of namespace) */
  links: Link[];
  fdb: Neighbour[];
  neigh: Neighbour[];
  /** undefined where IPVS was not read */
  ipvs?: IpvsNsResult;
  /** undefined where not read */
  neighCounts?: NeighbourCount[];
  /** the host namespace's sample only */
  neighTables?: NeighTable[];
  /** undefined where UDP sockets were not read */
  udp?: UdpNsResult;
  /** the host namespace's sample only */
  addrs?: IfAddress[];
  /** the namespace could not be read at all */
  error?: SampleError;
  /** readers that failed here; the rest of the sample stands */
  readerErrors?: Array<{ need: Need; error: SampleError }>;
  durationSeconds: number;
}

export interface PrepareContext {
  native: NetlinkSessions;
  timeoutMs: number;
  log: Logger;
}

export interface CompleteContext {
  session: NsSession;
  ref: NetnsRef;
  /** what the readers before this one produced */
  sample: Readonly<Omit<NsSample, 'durationSeconds'>>;
  /** a part of this reader's data failed while the rest stands: recorded as the reader's failure in this namespace */
  partial(error: SampleError): void;
}

export interface NsReader<K extends Need = Need> {
  readonly need: K;
  /** the netlink protocol its requests use */
  readonly protocol: number;
  /** /proc/net files (e.g. "snmp") read on entering the namespace, for its complete() (NsSession.procNetFile) */
  readonly procNetFiles?: readonly string[];
  /** namespaces it reads; the others never get its requests */
  applies(ref: NetnsRef): boolean;
  /** once per scrape, before any namespace is entered; logs its own availability changes */
  prepare?(ctx: PrepareContext): Promise<Partial<ScrapeData>>;
  /** the first round of requests: every reader's first round goes into one exchange */
  requests(ref: NetnsRef): NlRequest[];
  /** make a watch of the namespace's links and FDB on entering it (NsSession.takeWatch), for this reader's complete() */
  watch?(ref: NetnsRef): boolean;
  /** the first round's replies (messages or the request's error); may ask more rounds over the session */
  complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): NsData[K] | Promise<NsData[K]>;
  /** once per scrape, after every namespace was read (or the deadline passed): drop what belongs to namespaces not read */
  afterScrape?(): void;
  /** its own counters, with the exporter's self metrics */
  report?(out: FamilySet): void;
}

/** A reader's reply that failed: throw it, so the sampler records the reader's failure. */
export function messagesOf(reply: NlMessage[] | Error | undefined, what: string): NlMessage[] {
  if (reply === undefined) throw new Error(`${what}: no reply`);
  if (reply instanceof Error) throw reply;
  return reply;
}
