// Generic netlink: the 4-byte genlmsghdr that follows the netlink header, and
// the controller's (nlctrl) answer to a family lookup. The lookup's cache lives
// with its user (kernel/genl-family.ts); this is the codec only.
import { AttrReader, DecodeError, strAttr } from '../nl/attr.js';
import { NLM_F_REQUEST, encodeMessage, type NlMessage } from '../nl/message.js';

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
