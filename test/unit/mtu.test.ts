// The address codec against a captured reply (test/fixtures/mtu, see its
// README) and `ip -j addr`; the MTU collector over hand-made overlays and over
// node1's captured scene with the captured 1400-byte underlay.
import { describe, expect, it } from 'vitest';
import { mtuCollector, underlayOf } from '../../src/collectors/mtu.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import type { Link } from '../../src/kernel/rtnl/link.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { capturedScene, fixtureJson, hostData } from '../support/captures.js';
import { dockerViewOf, sampleOf, snapshotOf } from '../support/snapshot.js';

interface IpAddrJson { ifindex: number; ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }

describe('RTM_GETADDR codec', () => {
  it('decodes every address of every interface as ip -j addr shows them', () => {
    const ip = fixtureJson<IpAddrJson[]>('mtu', 'ip-addr.json');
    const want = ip.flatMap((i) => i.addr_info.map((a) => `${i.ifindex} ${a.family === 'inet' ? 2 : 10} ${a.local}/${a.prefixlen}`)).sort();
    const got = hostData().addrs.map((a) => `${a.ifindex} ${a.family} ${a.address}/${a.prefixlen}`).sort();
    expect(got).toEqual(want);
  });
});

const HOST: NetnsRef = { name: 'host', kind: 'host', path: null };
const link = (index: number, name: string, mtu: number, extra: Partial<Link> = {}): Link => ({ index, name, mtu, flags: 1, ...extra });

function overlayScene(vxlan: Link['vxlan'], sandboxMtu: number) {
  const host = sampleOf(HOST, { links: [link(1, 'lo', 65536), link(2, 'ens3', 1500), link(3, 'ens4', 9000)],
    addrs: [{ family: 2, prefixlen: 24, ifindex: 2, address: '10.0.0.5' }, { family: 2, prefixlen: 24, ifindex: 3, address: '10.1.0.5' }] });
  const ov = sampleOf({ name: '1-abcdefghij', kind: 'overlay', path: '/x/1-abcdefghij' }, { links: [
    link(1, 'lo', 65536), link(2, 'br0', 1450, { kind: 'bridge' }), link(3, 'vxlan0', 1450, { kind: 'vxlan', master: 2, vxlan }),
    link(4, 'veth0', 1450, { kind: 'veth', master: 2, link: 9, linkNetnsId: 1 }),
  ] });
  const sb = sampleOf({ name: '0123456789ab', kind: 'sandbox', path: '/x/0123456789ab' }, {
    links: [link(1, 'lo', 65536), link(9, 'eth0', sandboxMtu, { kind: 'veth', link: 4, linkNetnsId: 0 })],
  });
  return snapshotOf([host, ov, sb]);
}
const render = (snap: ReturnType<typeof snapshotOf>) => {
  const out = new FamilySet();
  mtuCollector.collect(snap, out);
  return renderPrometheus(out.all()).toString('utf8');
};

describe('MTU collector', () => {
  it('finds the underlay by the VXLAN device\'s bound link, then its local address, then the swarm data-path address', () => {
    const s = overlayScene({ local: '10.1.0.5' }, 1450);
    const vx = (v: Link['vxlan']) => [link(3, 'vxlan0', 1450, { kind: 'vxlan', vxlan: v })];
    const host = s.samples[0];
    expect(underlayOf(s, host, vx({ link: 2, local: '10.1.0.5' }))?.name).toBe('ens3');
    expect(underlayOf(s, host, vx({ local: '10.1.0.5' }))?.name).toBe('ens4');
    expect(underlayOf(s, host, vx({}))).toBeUndefined();
    const state = capturedScene(0).state;
    const withDocker = { ...s, docker: dockerViewOf({ ...state, info: { ...state.info, nodeAddr: '10.0.0.5' } }) };
    expect(underlayOf(withDocker, host, vx({}))?.name).toBe('ens3');
  });

  it('counts nothing on a consistent overlay, and the container\'s interface when it is too large', () => {
    const ok = render(overlayScene({ local: '10.0.0.5' }, 1450));
    expect(ok).toContain('swarmnet_overlay_mtu_expected_bytes{netns="1-abcdefghij",netns_kind="overlay",network="",service="",task="",underlay_interface="ens3"} 1450');
    expect(ok).toContain('direction="above"} 0');
    expect(ok).toContain('direction="below"} 0');
    expect(ok).not.toContain('swarmnet_overlay_interface_mtu_mismatch_bytes{');
    const bad = render(overlayScene({ local: '10.0.0.5' }, 1500));
    expect(bad).toContain('netns="1-abcdefghij",netns_kind="overlay",network="",service="",task="",direction="above"} 1');
    expect(bad).toContain('swarmnet_overlay_interface_mtu_mismatch_bytes{netns="0123456789ab",netns_kind="sandbox",network="",service="",task="",interface="eth0"} 50');
  });

  it('finds the whole overlay too large for a jumbo-less underlay: ens4 is 9000, so 1450 is below', () => {
    const text = render(overlayScene({ local: '10.1.0.5' }, 1450));
    expect(text).toContain('underlay_interface="ens4"} 8950');
    // vxlan0, br0, veth0 and the container's eth0
    expect(text).toContain('direction="below"} 4');
  });

  it('exports nothing for an overlay whose underlay is unknown', () => {
    expect(render(overlayScene({}, 1500))).not.toContain('swarmnet_overlay_mtu');
  });

  it('on node1\'s captured scene with a 1400-byte underlay, every overlay interface is 100 bytes too large', () => {
    const scene = capturedScene(Date.UTC(2025, 0, 15));
    const snap = snapshotOf(scene.samples, { names: scene.names, docker: dockerViewOf(scene.state) });
    const text = render(snap);
    const expected = text.split('\n').filter((l) => l.startsWith('swarmnet_overlay_mtu_expected_bytes{'));
    expect(expected).toHaveLength(3);
    for (const l of expected) expect(l).toMatch(/underlay_interface="eth0"\} 1350$/);
    const mism = text.split('\n').filter((l) => l.startsWith('swarmnet_overlay_interface_mtu_mismatch_bytes{'));
    expect(mism.length).toBeGreaterThan(10);
    for (const l of mism) expect(l).toMatch(/ 100$/);
  });
});
