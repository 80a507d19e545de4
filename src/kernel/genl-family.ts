// A generic netlink family, resolved on demand and cached. Family ids are
// global, not per namespace, so a family is resolved once, in the exporter's
// own namespace; an absent family is re-checked now and then, because a module
// loaded later (ip_vs) registers it.
import { type GenlFamily, decodeFamily, getFamilyRequest } from './genl/ctrl.js';
import type { NetlinkSessions } from './native.js';
import { NETLINK_GENERIC, NetlinkError } from './nl/message.js';
import { allocSeq, withSession } from './session.js';

export interface FamilyState {
  /** undefined: never resolved yet */
  available?: boolean;
  family?: GenlFamily;
  /** when it was last resolved (ms, the cache's clock) */
  checkedAt?: number;
}

export interface FamilyCacheOptions {
  /** how long an absent family is believed absent (default 3 minutes) */
  recheckMs?: number;
  now?: () => number;
}

/**
 * resolve() returns undefined while the family is absent (the kernel answered
 * ENOENT); other failures throw and are not cached. Concurrent callers share
 * one lookup.
 */
export class GenlFamilyCache {
  private state: FamilyState = {};
  private inFlight?: Promise<GenlFamily | undefined>;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(readonly name: string, opts: FamilyCacheOptions = {}) {
    this.recheckMs = opts.recheckMs ?? 180_000;
    this.now = opts.now ?? Date.now;
  }

  get current(): FamilyState {
    return { ...this.state };
  }

  /** Forget a resolved id (the family went away, e.g. its module was unloaded). */
  invalidate(): void {
    this.state = {};
  }

  resolve(native: NetlinkSessions, timeoutMs: number): Promise<GenlFamily | undefined> {
    const s = this.state;
    if (s.available === true) return Promise.resolve(s.family);
    if (s.available === false && this.now() - s.checkedAt! < this.recheckMs) return Promise.resolve(undefined);
    this.inFlight ??= this.lookup(native, timeoutMs).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async lookup(native: NetlinkSessions, timeoutMs: number): Promise<GenlFamily | undefined> {
    const seq = allocSeq();
    const what = `CTRL_CMD_GETFAMILY(${this.name})`;
    const [reply] = await withSession(native, { name: 'host', path: null }, [NETLINK_GENERIC], timeoutMs,
      (s) => s.exchange([{ protocol: NETLINK_GENERIC, seq, message: getFamilyRequest(seq, this.name), what }]));
    if (reply instanceof NetlinkError && reply.code === 'ENOENT') {
      this.state = { available: false, checkedAt: this.now() };
      return undefined;
    }
    if (reply instanceof Error || reply === undefined) throw reply ?? new Error(`${what}: no reply`);
    const family = decodeFamily(reply);
    this.state = { available: true, family, checkedAt: this.now() };
    return family;
  }
}
