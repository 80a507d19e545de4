// The IPVS load balancer of a namespace (services, their destinations, 64-bit
// stats) over generic netlink: the service dump rides in the namespace's first
// exchange, then the destination dumps follow over the same session. The family
// id is resolved once per scrape in our own namespace; a kernel without IPVS is
// a state to report (swarmnet_ipvs_up), said once in the log, never a failed read.
import type { Logger } from 'pino';
import { GenlFamilyCache } from '../genl-family.js';
import {
  IPVS_GENL_NAME, type IpvsDest, type IpvsService, decodeDests, decodeServices, getDestsRequest, getServicesRequest, serviceKey,
} from '../genl/ipvs.js';
import type { NetlinkSessions } from '../native.js';
import type { NetnsKind, NetnsRef } from '../netns.js';
import { NETLINK_GENERIC, NetlinkError, type NlMessage } from '../nl/message.js';
import { type NlRequest, type NsSession, allocSeq } from '../session.js';
import { type CompleteContext, type NsReader, type PrepareContext, type ScrapeData, messagesOf } from './types.js';

/** where swarm programs IPVS: lb_<network> (service VIPs) and ingress_sbox (published ports) */
export const DEFAULT_IPVS_KINDS: readonly NetnsKind[] = ['lb', 'ingress_sbox'];

export interface IpvsServiceEntry extends IpvsService {
  destinations: IpvsDest[];
}

/** One namespace's IPVS table. available=false: the kernel has no IPVS family (services then empty). */
export interface IpvsNsResult {
  available: boolean;
  services: IpvsServiceEntry[];
}

/** Whether this kernel has IPVS, as last resolved (available undefined: not resolved yet). */
export interface IpvsStatus {
  available?: boolean;
  familyId?: number;
  /** epoch ms of the last resolution */
  checkedAt?: number;
}

export interface IpvsReaderOptions {
  /** namespace kinds to read (default lb and ingress_sbox) */
  kinds?: readonly NetnsKind[];
  /** how long an absent IPVS family is believed absent before asking again (default 3 minutes) */
  recheckMs?: number;
  now?: () => number;
}

const SERVICES = 'IPVS_CMD_GET_SERVICE';
const DESTS = 'IPVS_CMD_GET_DEST';

export class IpvsReader implements NsReader<'ipvs'> {
  readonly need = 'ipvs';
  readonly protocol = NETLINK_GENERIC;
  private readonly kinds: ReadonlySet<NetnsKind>;
  private readonly family: GenlFamilyCache;
  /** the family id this scrape uses (undefined: IPVS absent) */
  private familyId?: number;
  private native?: NetlinkSessions;
  private prepareTimeoutMs = 2000;
  private loggedAvailable?: boolean;

  constructor(opts: IpvsReaderOptions = {}) {
    this.kinds = new Set(opts.kinds ?? DEFAULT_IPVS_KINDS);
    this.family = new GenlFamilyCache(IPVS_GENL_NAME, { recheckMs: opts.recheckMs, now: opts.now });
  }

  applies(ref: NetnsRef): boolean {
    return this.kinds.has(ref.kind);
  }

  status(): IpvsStatus {
    const s = this.family.current;
    return { available: s.available, familyId: s.family?.id, checkedAt: s.checkedAt };
  }

  /** Resolve the family now (cached) and report whether IPVS exists. */
  async probe(native: NetlinkSessions, timeoutMs: number): Promise<IpvsStatus> {
    this.native = native;
    this.prepareTimeoutMs = timeoutMs;
    this.familyId = (await this.family.resolve(native, timeoutMs))?.id;
    return this.status();
  }

  async prepare(ctx: PrepareContext): Promise<Partial<ScrapeData>> {
    const status = await this.probe(ctx.native, ctx.timeoutMs);
    this.logAvailability(ctx.log, status.available);
    return { ipvs: status };
  }

  requests(): NlRequest[] {
    return this.familyId === undefined ? [] : [servicesRequest(this.familyId)];
  }

  async complete(replies: Array<NlMessage[] | Error>, ctx: CompleteContext): Promise<IpvsNsResult> {
    let family = this.familyId;
    if (family === undefined) return { available: false, services: [] };
    let reply = replies[0];
    // the kernel knows no such family id: ip_vs was unloaded (and maybe loaded again) since it was resolved
    if (reply instanceof NetlinkError && reply.code === 'ENOENT' && this.native) {
      this.family.invalidate();
      family = this.familyId = (await this.family.resolve(this.native, this.prepareTimeoutMs))?.id;
      if (family === undefined) return { available: false, services: [] };
      [reply] = await ctx.session.exchange([servicesRequest(family)]);
    }
    const services = decodeServices(messagesOf(reply, SERVICES), family).map((s): IpvsServiceEntry => ({ ...s, destinations: [] }));
    await readDestinations(ctx.session, family, services);
    return { available: true, services };
  }

  /** A feature the kernel lacks is said once, and again only when that changes. */
  private logAvailability(log: Logger, available: boolean | undefined): void {
    if (available === undefined || this.loggedAvailable === available) return;
    this.loggedAvailable = available;
    if (available) log.info({ reader: 'ipvs' }, 'ipvs: available on this kernel');
    else log.warn({ reader: 'ipvs' }, 'ipvs: not available on this kernel (no generic netlink family "IPVS"); its metrics report 0 and everything else keeps working');
  }
}

function servicesRequest(family: number): NlRequest {
  const seq = allocSeq();
  return { protocol: NETLINK_GENERIC, seq, message: getServicesRequest(family, seq), what: SERVICES };
}

async function readDestinations(session: NsSession, family: number, services: IpvsServiceEntry[]): Promise<void> {
  // a service the kernel did not identify cannot be asked for its destinations
  const asked = services.flatMap((entry) => {
    const key = serviceKey(entry);
    if (!key) return [];
    const seq = allocSeq();
    return [{ entry, request: { protocol: NETLINK_GENERIC, seq, message: getDestsRequest(family, seq, key), what: DESTS } }];
  });
  if (asked.length === 0) return;
  const replies = await session.exchange(asked.map((a) => a.request));
  asked.forEach((a, i) => {
    // a service deleted since the first dump answers with no destinations, not an error
    a.entry.destinations = decodeDests(messagesOf(replies[i], DESTS), family, a.entry.af);
  });
}
