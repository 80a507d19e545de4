// Generic netlink: the 4-byte genlmsghdr that follows the netlink header, and
// family resolution through the controller (nlctrl). Family ids are global, not
// per namespace, so a family is resolved once, in the exporter's own namespace,
// and cached; an absent family is re-checked now and then, because a module
// loaded later (ip_vs) registers it.
import { AttrReader, DecodeError, strAttr } from '../nl/attr.js';
import {
  NETLINK_GENERIC, NLM_F_REQUEST, NetlinkError, allocSeq, encodeMessage, parseReply, type NlMessage,
} from '../nl/message.js';
import type { NativeBinding } from '../native.js';
import { repliesOf, replyBytes } from '../sampler.js';

export const GENL_HDRLEN = 4;
/** nlctrl's fixed id (NLMSG_MIN_TYPE) */
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
const CTRL_VERSION = 2;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_VERSION = 3;
const CTRL_ATTR_HDRSIZE = 4;
const CTRL_ATTR_MAXATTR = 5;

export interface GenlHeader {
  cmd: number;
  version: number;
}

/** A generic netlink request: netlink header, genlmsghdr, attributes. */
export function encodeGenlRequest(family: number, flags: number, seq: number, hdr: GenlHeader, attrs: Uint8Array[]): Uint8Array {
  const genl = new Uint8Array(GENL_HDRLEN); // cmd, version, reserved u16
  genl[0] = hdr.cmd;
  genl[1] = hdr.version;
  return encodeMessage(family, flags, seq, [genl, ...attrs]);
}

/** The genlmsghdr of a reply message, and a reader over the attributes after it. */
export function decodeGenl(msg: NlMessage): GenlHeader & { attrs: AttrReader } {
  const p = msg.payload;
  if (p.length < GENL_HDRLEN) throw new DecodeError(`generic netlink message of ${p.length} bytes`);
  return { cmd: p[0]!, version: p[1]!, attrs: new AttrReader(p, GENL_HDRLEN) };
}

export interface GenlFamily {
  id: number;
  name: string;
  version?: number;
  hdrsize?: number;
  maxattr?: number;
}

export function getFamilyRequest(seq: number, name: string): Uint8Array {
  return encodeGenlRequest(GENL_ID_CTRL, NLM_F_REQUEST, seq, { cmd: CTRL_CMD_GETFAMILY, version: CTRL_VERSION },
    [strAttr(CTRL_ATTR_FAMILY_NAME, name)]);
}

/** Decode nlctrl's answer to CTRL_CMD_GETFAMILY (one NEWFAMILY message). */
export function decodeFamily(msgs: NlMessage[]): GenlFamily {
  const msg = msgs.find((m) => m.type === GENL_ID_CTRL);
  if (!msg) throw new DecodeError('CTRL_CMD_GETFAMILY: no nlctrl message in the reply');
  const { cmd, attrs: r } = decodeGenl(msg);
  if (cmd !== CTRL_CMD_NEWFAMILY) throw new DecodeError(`CTRL_CMD_GETFAMILY: unexpected command ${cmd}`);
  let id: number | undefined;
  let name = '';
  const f: Omit<GenlFamily, 'id' | 'name'> = {};
  while (r.next()) {
    switch (r.type) {
      case CTRL_ATTR_FAMILY_ID: id = r.u16(); break;
      case CTRL_ATTR_FAMILY_NAME: name = r.str(); break;
      case CTRL_ATTR_VERSION: f.version = r.u32(); break;
      case CTRL_ATTR_HDRSIZE: f.hdrsize = r.u32(); break;
      case CTRL_ATTR_MAXATTR: f.maxattr = r.u32(); break;
    }
  }
  if (r.err) throw new DecodeError(`CTRL_CMD_GETFAMILY: ${r.err.message}`);
  if (id === undefined) throw new DecodeError('CTRL_CMD_GETFAMILY: no family id in the reply');
  return { id, name, ...f };
}

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
 * One generic netlink family, resolved on demand and cached. resolve() returns
 * undefined while the family is absent (the kernel answered ENOENT); other
 * failures throw and are not cached. Concurrent callers share one lookup.
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

  resolve(native: NativeBinding, timeoutMs: number): Promise<GenlFamily | undefined> {
    const s = this.state;
    if (s.available === true) return Promise.resolve(s.family);
    if (s.available === false && this.now() - s.checkedAt! < this.recheckMs) return Promise.resolve(undefined);
    this.inFlight ??= this.lookup(native, timeoutMs).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async lookup(native: NativeBinding, timeoutMs: number): Promise<GenlFamily | undefined> {
    const seq = allocSeq();
    const request = `CTRL_CMD_GETFAMILY(${this.name})`;
    const result = await native.exchange(null, [[NETLINK_GENERIC, getFamilyRequest(seq, this.name)]], timeoutMs);
    const reply = replyBytes(repliesOf(result, request)[0], request, 'reply');
    try {
      const family = decodeFamily(parseReply(reply, seq, request));
      this.state = { available: true, family, checkedAt: this.now() };
      return family;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'ENOENT') {
        this.state = { available: false, checkedAt: this.now() };
        return undefined;
      }
      throw err;
    }
  }
}
