// One probe exchange from one namespace: N small echo requests and one
// full-size one (DF, an IP packet the size of the overlay MTU) to each target,
// through the addon's probe(), and the replies matched back to their requests.
// The bytes are the ICMP codec's (kernel/icmp); the addon only moves them.
import { DecodeError } from '../kernel/nl/attr.js';
import { type EchoMessage, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, decodeEcho, encodeEchoRequest, stripIpHeader } from '../kernel/icmp/echo.js';
import type { IcmpProbes, NativeError, ProbeOutcome } from '../kernel/native.js';

/** An IPv4 packet of ping's default size (56 bytes of data). */
export const SMALL_PROBE_BYTES = 84;
/** ee_origin of an error the sending host made itself (EMSGSIZE at sendto) */
const SO_EE_ORIGIN_LOCAL = 1;

export interface TargetOutcome {
  /** small probes sent (or attempted) */
  sent: number;
  /** round-trip times of the answered small probes, in seconds */
  rttSeconds: number[];
  /** the full-size probe: answered, or why not ("timeout", or an errno such as EMSGSIZE) */
  fullSize: { ok: true } | { ok: false; reason: string; mtu?: number };
}

export interface ExchangeOptions {
  /** small probes per target */
  count: number;
  /** IP bytes of the full-size probe */
  fullSizeBytes: number;
  timeoutMs: number;
  /** tags this round's payloads */
  round: number;
}

/** The namespace could not be entered, or no ICMP socket opened there. */
export class ProbeSocketError extends Error {
  constructor(readonly native: NativeError) {
    super(describeSocketError(native));
    this.name = 'ProbeSocketError';
  }
}

export function describeSocketError(e: NativeError): string {
  if (e.errno === 'EPERM' && e.syscall.startsWith('socket(icmp')) {
    return `${e.syscall}: ${e.message}: an ICMP socket needs CAP_NET_RAW (a raw socket), or the exporter's group inside net.ipv4.ping_group_range of the namespace (a ping socket)`;
  }
  return `${e.syscall}: ${e.message}`;
}

export interface PacketPlan {
  target: number;
  full: boolean;
}

export interface ExchangeResult {
  /** the socket the namespace allowed: ping (ping_group_range) or raw (CAP_NET_RAW) */
  kind: ProbeOutcome['kind'];
  /** per target, in the order given */
  targets: TargetOutcome[];
}

/** Probe every target from the namespace at `nsPath` (null: our own); a ProbeSocketError when no probe could be sent. */
export async function probeTargets(native: IcmpProbes, nsPath: string | null, targets: readonly string[], opts: ExchangeOptions): Promise<ExchangeResult> {
  if (targets.length === 0) return { kind: 'ping', targets: [] };
  const ident = (process.pid ^ opts.round) & 0xffff;
  const plans: PacketPlan[] = [];
  const packets: Array<[number, Uint8Array]> = [];
  targets.forEach((_, t) => {
    for (let i = 0; i <= opts.count; i++) {
      const full = i === opts.count;
      const seq = plans.length;
      plans.push({ target: t, full });
      packets.push([t, encodeEchoRequest({ ident, seq, round: opts.round, ipPacketBytes: full ? opts.fullSizeBytes : SMALL_PROBE_BYTES })]);
    }
  });
  const outcome = await native.probe(nsPath, [...targets], packets, opts.timeoutMs);
  if ('errno' in outcome) throw new ProbeSocketError(outcome);
  return { kind: outcome.kind, targets: matchReplies(outcome, targets, plans, { ident, round: opts.round }) };
}

/** Pure: the addon's outcome, matched to the packets it was given (seq = packet index). */
export function matchReplies(outcome: ProbeOutcome, targets: readonly string[], plans: readonly PacketPlan[],
  opts: { ident: number; round: number }): TargetOutcome[] {
  const raw = outcome.kind === 'raw';
  const ident = raw ? opts.ident : outcome.ident;
  const answeredAt = new Array<number | undefined>(plans.length);
  const refused = new Array<{ reason: string; mtu?: number } | undefined>(plans.length);
  const ours = (m: EchoMessage, type: number) => m.type === type && m.round === opts.round && m.ident === ident && m.seq < plans.length;

  for (const d of outcome.received) {
    let m: EchoMessage;
    try {
      m = decodeEcho(raw ? stripIpHeader(d.bytes) : d.bytes, { checksum: raw });
    } catch (err) {
      if (err instanceof DecodeError) continue; // someone else's ICMP (a raw socket sees it all)
      throw err;
    }
    if (!ours(m, ICMP_ECHO_REPLY) || targets[plans[m.seq]!.target] !== d.from) continue;
    answeredAt[m.seq] ??= d.atNs;
  }
  for (const e of outcome.errors) {
    if (e.origin === SO_EE_ORIGIN_LOCAL) continue; // sendto() said so already
    let m: EchoMessage;
    try {
      m = decodeEcho(e.bytes);
    } catch (err) {
      if (err instanceof DecodeError) continue;
      throw err;
    }
    if (!ours(m, ICMP_ECHO_REQUEST)) continue;
    refused[m.seq] ??= { reason: e.errno, mtu: e.errno === 'EMSGSIZE' && e.info > 0 ? e.info : undefined };
  }

  return targets.map((_, t) => {
    const result: TargetOutcome = { sent: 0, rttSeconds: [], fullSize: { ok: false, reason: 'timeout' } };
    plans.forEach((p, seq) => {
      if (p.target !== t) return;
      const sent = outcome.sent[seq];
      const sentAt = sent && 'atNs' in sent ? sent.atNs : undefined;
      const at = answeredAt[seq];
      if (p.full) {
        if (sentAt !== undefined && at !== undefined) result.fullSize = { ok: true };
        else if (sent && 'errno' in sent) result.fullSize = { ok: false, reason: sent.errno };
        else if (refused[seq]) result.fullSize = { ok: false, ...refused[seq] };
        return;
      }
      result.sent++;
      if (sentAt !== undefined && at !== undefined) result.rttSeconds.push(Math.max(0, at - sentAt) / 1e9);
    });
    return result;
  });
}
