import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttrReader, DecodeError } from '../../src/kernel/nl/attr.js';
import { DumpInterruptedError, NetlinkError, parseReply } from '../../src/kernel/nl/message.js';
import { formatIp } from '../../src/kernel/nl/address.js';
import { decodeLinks } from '../../src/kernel/rtnl/link.js';
import { NTF_SELF, decodeNeighbours, fdbEntryType } from '../../src/kernel/rtnl/neigh.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'rtnl');
const fixture = (name: string) => ({
  bytes: new Uint8Array(readFileSync(join(dir, `${name}.bin`))),
  seq: Number(readFileSync(join(dir, `${name}.seq`), 'utf8')),
  // the capturing socket's port id, as the kernel addressed its replies (README)
  port: Number(readFileSync(join(dir, `${name}.port`), 'utf8')),
});
interface IpLink { ifname: string; ifindex: number; mtu: number; operstate: string; master?: string; link_type: string; address: string;
  linkinfo?: { info_kind: string; info_data?: { id?: number; port?: number; local?: string; learning?: boolean } };
  stats64: { rx: Record<string, number>; tx: Record<string, number> } }
const ipLinks = JSON.parse(readFileSync(join(dir, 'ip-link.json'), 'utf8')) as IpLink[];
const bridgeFdb = JSON.parse(readFileSync(join(dir, 'bridge-fdb.json'), 'utf8')) as Array<{ mac: string; ifname: string; dst?: string; flags: string[]; master?: string; state: string }>;

describe('RTM_GETLINK reply captured from the kernel', () => {
  const { bytes, seq, port } = fixture('links');
  const links = decodeLinks(parseReply(bytes, { seq, port }, 'links'));

  it('decodes every link ip(8) printed, with the same facts', () => {
    expect(links.map((l) => l.name).sort()).toEqual(ipLinks.map((l) => l.ifname).sort());
    const byName = new Map(links.map((l) => [l.name, l]));
    for (const ip of ipLinks) {
      const l = byName.get(ip.ifname)!;
      expect(l.index).toBe(ip.ifindex);
      expect(l.mtu).toBe(ip.mtu);
      expect(l.operstate).toBe(ip.operstate.toLowerCase());
      expect(l.kind).toBe(ip.linkinfo?.info_kind);
      if (ip.master) expect(byName.get(ip.master)!.index).toBe(l.master);
      else expect(l.master).toBeUndefined();
      expect(l.address).toBe(ip.address);
      expect(l.stats!.rx_bytes).toBe(ip.stats64.rx.bytes);
      expect(l.stats!.rx_packets).toBe(ip.stats64.rx.packets);
      expect(l.stats!.tx_bytes).toBe(ip.stats64.tx.bytes);
      expect(l.stats!.tx_dropped).toBe(ip.stats64.tx.dropped);
    }
  });

  it('reads vxlan parameters and veth peers', () => {
    const vx = links.find((l) => l.name === 'vxlan0')!;
    const ipvx = ipLinks.find((l) => l.ifname === 'vxlan0')!.linkinfo!.info_data!;
    expect(vx.vxlan).toMatchObject({ vni: ipvx.id, port: ipvx.port, local: ipvx.local, learning: false });
    expect(vx.vxlan!.vni).toBe(4097);
    const v0 = links.find((l) => l.name === 'veth0')!;
    const v1 = links.find((l) => l.name === 'veth1')!;
    expect(v0.link).toBe(v1.index);
    expect(v1.link).toBe(v0.index);
  });

  it('refuses a reply with the wrong sequence number', () => {
    expect(() => parseReply(bytes, { seq: seq + 1, port }, 'links')).toThrow(DecodeError);
  });

  it('refuses a truncated reply instead of returning partial links', () => {
    expect(() => decodeLinks(parseReply(bytes.subarray(0, 700), { seq, port }, 'links'))).toThrow(DecodeError);
  });

  it('reports a corrupt attribute length as a decode error', () => {
    const bad = bytes.slice();
    // first message: header 16 + ifinfomsg 16, then the first attribute's length
    new DataView(bad.buffer).setUint16(32, 0xfff0, true);
    expect(() => decodeLinks(parseReply(bad, { seq, port }, 'links'))).toThrow(/bad length/);
  });

  it('flags an interrupted dump so it can be retried', () => {
    const bad = bytes.slice();
    const view = new DataView(bad.buffer);
    view.setUint16(6, view.getUint16(6, true) | 0x10, true);
    expect(() => parseReply(bad, { seq, port }, 'links')).toThrow(DumpInterruptedError);
  });
});

describe('RTM_GETNEIGH replies captured from the kernel', () => {
  it('decodes the bridge FDB exactly as bridge(8) printed it', () => {
    const { bytes, seq, port } = fixture('fdb');
    const fdb = decodeNeighbours(parseReply(bytes, { seq, port }, 'fdb'));
    const links = decodeLinks(parseReply(fixture('links').bytes, fixture('links'), 'links'));
    const name = new Map(links.map((l) => [l.index, l.name]));
    const ours = fdb.map((e) => ({
      mac: e.lladdr, ifname: name.get(e.ifindex), dst: e.dst, self: (e.flags & NTF_SELF) !== 0,
      master: e.master !== undefined ? name.get(e.master) : undefined,
      state: fdbEntryType(e) === 'dynamic' ? '' : fdbEntryType(e),
    }));
    const theirs = bridgeFdb.map((e) => ({ mac: e.mac, ifname: e.ifname, dst: e.dst, self: e.flags.includes('self'), master: e.master, state: e.state }));
    expect(ours).toEqual(theirs);
    expect(ours.filter((e) => e.ifname === 'vxlan0' && e.dst).map((e) => e.dst).sort()).toEqual(['203.0.113.2', '203.0.113.3', '203.0.113.4']);
  });

  it('decodes the permanent IPv4 neighbour on vxlan0', () => {
    const { bytes, seq, port } = fixture('neigh');
    const neigh = decodeNeighbours(parseReply(bytes, { seq, port }, 'neigh'));
    const entry = neigh.find((n) => n.dst === '198.51.100.2');
    expect(entry).toMatchObject({ dst: '198.51.100.2', lladdr: '02:42:c6:33:64:02', state: 0x80 });
  });
});

describe('netlink framing', () => {
  it('maps NLMSG_ERROR to the errno', () => {
    const msg = new Uint8Array(36);
    const v = new DataView(msg.buffer);
    v.setUint32(0, 36, true); v.setUint16(4, 2, true); v.setUint32(8, 7, true); v.setInt32(16, -1, true);
    expect(() => parseReply(msg, { seq: 7, port: 0 }, 'x')).toThrow(NetlinkError);
    try { parseReply(msg, { seq: 7, port: 0 }, 'x'); } catch (e) { expect((e as NetlinkError).code).toBe('EPERM'); }
  });

  it('attribute reader: exact lengths, sticky first error, nested errors propagate', () => {
    const buf = new Uint8Array([8, 0, 1, 0, 1, 2, 3, 4, 6, 0, 2, 0, 9, 9, 0, 0]);
    const r = new AttrReader(buf);
    expect(r.next()).toBe(true);
    expect(r.u32()).toBe(0x04030201);
    expect(r.next()).toBe(true);
    expect(r.u32()).toBe(0); // 2 bytes is not a u32
    expect(r.err).toBeInstanceOf(DecodeError);
    expect(r.next()).toBe(false);
  });

  it('formats IPv6 like inet_ntop', () => {
    const b = new Uint8Array(16); b[0] = 0x20; b[1] = 0x01; b[2] = 0x0d; b[3] = 0xb8; b[15] = 1;
    expect(formatIp(b)).toBe('2001:db8::1');
  });
});
