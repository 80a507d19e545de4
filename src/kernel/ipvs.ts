// The IPVS load balancer of a namespace (services, their destinations, 64-bit
// stats), read as an NsReader: one exchange for the service dump, then the
// destination dumps, up to 8 requests per exchange (the addon's limit). The
// family id is resolved in our own namespace and cached; a kernel without IPVS
// is a state to report (swarmnet_ipvs_up), never a failed read.
import { GenlFamilyCache } from './genl/ctrl.js';
import {
  IPVS_GENL_NAME, type IpvsDest, type IpvsService, type IpvsServiceKey, decodeDests, decodeServices, getDestsRequest,
  getServicesRequest, serviceKey,
} from './genl/ipvs.js';
import type { NativeBinding } from './native.js';
import type { NetnsKind, NetnsRef } from './netns.js';
import { DumpInterruptedError, NETLINK_GENERIC, NetlinkError, allocSeq, parseReply } from './nl/message.js';
import { type NsReader, type NsSample, repliesOf, replyBytes } from './sampler.js';

/** NsReader name: the key of the result in NsSample.extra */
export const IPVS_READER = 'ipvs';
/** where swarm programs IPVS: lb_<network> (service VIPs) and ingress_sbox (published ports) */
export const DEFAULT_IPVS_KINDS: readonly NetnsKind[] = ['lb', 'ingress_sbox'];
const MAX_REQUESTS = 8;

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

/** The IPVS result a sample carries, if the reader ran there. */
export const ipvsResultOf = (s: NsSample): IpvsNsResult | undefined => s.extra.get(IPVS_READER) as IpvsNsResult | undefined;

export class IpvsReader implements NsReader {
  readonly name = IPVS_READER;
  private readonly kinds: ReadonlySet<NetnsKind>;
  private readonly family: GenlFamilyCache;

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

  /** Resolve the family now (cached as in read()) and report whether IPVS exists. */
  async probe(native: NativeBinding, timeoutMs: number): Promise<IpvsStatus> {
    await this.family.resolve(native, timeoutMs);
    return this.status();
  }

  prepare(native: NativeBinding, timeoutMs: number): Promise<IpvsStatus> {
    return this.probe(native, timeoutMs);
  }

  async read(native: NativeBinding, ref: NetnsRef, timeoutMs: number): Promise<IpvsNsResult> {
    for (let attempt = 0; ; attempt++) {
      const family = await this.family.resolve(native, timeoutMs);
      if (!family) return { available: false, services: [] };
      try {
        return { available: true, services: await readTable(native, ref, family.id, timeoutMs) };
      } catch (err) {
        if (attempt > 0) throw err;
        // the kernel knows no such family id: ip_vs was unloaded (and maybe loaded again) since
        if (err instanceof NetlinkError && err.code === 'ENOENT') this.family.invalidate();
        else if (!(err instanceof DumpInterruptedError)) throw err;
      }
    }
  }
}

async function readTable(native: NativeBinding, ref: NetnsRef, family: number, timeoutMs: number): Promise<IpvsServiceEntry[]> {
  const seq = allocSeq();
  const svcReplies = repliesOf(await native.exchange(ref.path, [[NETLINK_GENERIC, getServicesRequest(family, seq)]], timeoutMs), ref.name);
  const services: IpvsServiceEntry[] = decodeServices(parseReply(replyBytes(svcReplies[0], ref.name, 'IPVS services'), seq, 'IPVS_CMD_GET_SERVICE'), family)
    .map((s) => ({ ...s, destinations: [] }));
  // a service the kernel did not identify cannot be asked for its destinations
  const keyed = services.flatMap((s) => {
    const key = serviceKey(s);
    return key ? [{ entry: s, key }] : [];
  });
  for (let i = 0; i < keyed.length; i += MAX_REQUESTS) {
    const batch: Array<{ entry: IpvsServiceEntry; key: IpvsServiceKey; seq: number }> =
      keyed.slice(i, i + MAX_REQUESTS).map((k) => ({ ...k, seq: allocSeq() }));
    const replies = repliesOf(await native.exchange(ref.path,
      batch.map((b) => [NETLINK_GENERIC, getDestsRequest(family, b.seq, b.key)] as [number, Uint8Array]), timeoutMs), ref.name);
    batch.forEach((b, j) => {
      // a service deleted since the first dump answers with no destinations, not an error
      const reply = replyBytes(replies[j], ref.name, 'IPVS destinations');
      b.entry.destinations = decodeDests(parseReply(reply, b.seq, 'IPVS_CMD_GET_DEST'), family, b.entry.af);
    });
  }
  return services;
}
