// The Topology document from a hand-built snapshot, following links on it, the
// command-line name resolution and argument parsing, and the snapshot keeping
// behind GET /topology.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, commandFlags, JSON_FLAG } from '../../src/cli/args.js';
import { resolveNetns, resolutionMessage } from '../../src/cli/resolve.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { NTF_SELF, NUD_PERMANENT } from '../../src/kernel/rtnl/neigh.js';
import type { NameIndex, NetnsIdentity } from '../../src/names.js';
import { EMPTY_NAMES } from '../../src/names.js';
import type { ScrapeResult, Scraper } from '../../src/scrape.js';
import { buildTopology } from '../../src/topology/build.js';
import { followLink, selectLinks } from '../../src/topology/follow.js';
import { TopologySource } from '../../src/topology/source.js';
import { EMPTY_STATE } from '../../src/docker/state.js';
import { dockerViewOf, sampleOf, snapshotOf } from '../support/snapshot.js';

const OV: NetnsRef = { name: '1-abcdef0123', kind: 'overlay', path: '/run/docker/netns/1-abcdef0123' };
const SB: NetnsRef = { name: '0123456789ab', kind: 'sandbox', path: '/run/docker/netns/0123456789ab' };
const SB2: NetnsRef = { name: 'ba9876543210', kind: 'sandbox', path: '/run/docker/netns/ba9876543210' };

const stats = (n: number) => ({ rx_bytes: n, tx_bytes: 2 * n, rx_packets: n / 100, tx_packets: n / 50, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 });

function snapshot(bytes: number) {
  const ov = sampleOf(OV, {
    links: [
      { index: 2, name: 'br0', flags: 0, kind: 'bridge', stats: stats(bytes) },
      { index: 3, name: 'vxlan0', flags: 0, kind: 'vxlan', master: 2, vxlan: { vni: 4097, port: 4789 }, stats: stats(bytes) },
      { index: 4, name: 'veth0', flags: 0, kind: 'veth', master: 2, link: 7, linkNetnsId: 0, stats: stats(bytes) },
    ],
    fdb: [
      { family: 7, ifindex: 3, state: NUD_PERMANENT, flags: NTF_SELF, lladdr: '02:42:0a:00:00:05', dst: '10.0.0.12' },
      { family: 7, ifindex: 3, state: NUD_PERMANENT, flags: NTF_SELF, lladdr: '02:42:0a:00:00:06', dst: '10.0.0.12' },
      { family: 7, ifindex: 3, state: NUD_PERMANENT, flags: NTF_SELF, lladdr: '00:00:00:00:00:00', dst: '10.0.0.13' },
    ],
  });
  const sb = sampleOf(SB, { links: [{ index: 7, name: 'eth0', flags: 0, kind: 'veth', link: 4, linkNetnsId: 0, address: '02:42:0a:00:00:03', stats: stats(bytes) }] });
  const state = { ...EMPTY_STATE, nodes: [{ id: 'n2', hostname: 'node-2', address: '10.0.0.12', role: 'worker', state: 'ready', availability: 'active', leader: false }] };
  return snapshotOf([ov, sb], { names: names({ [OV.name]: { network: 'web' }, [SB.name]: { container: 'web.1.x', task: 'web.1.x', service: 'web', containerId: 'c0ffee1234' } }), docker: dockerViewOf(state) });
}

function names(ids: Record<string, NetnsIdentity>): NameIndex {
  return { ...EMPTY_NAMES, netns: (r) => ids[r.name] ?? {} };
}

describe('buildTopology', () => {
  it('names bridges\' ports, veth peers both ways, VXLAN remotes by node, and one edge per pair', () => {
    const t = buildTopology(snapshot(1000), 1000);
    const ov = t.namespaces.find((n) => n.name === OV.name)!;
    expect(ov.network).toBe('web');
    expect(ov.interfaces.find((i) => i.name === 'br0')!.ports).toEqual(['vxlan0', 'veth0']);
    expect(ov.interfaces.find((i) => i.name === 'veth0')!.peer).toEqual({ netns: SB.name, interface: 'eth0', ifindex: 7 });
    expect(ov.interfaces.find((i) => i.name === 'vxlan0')!.vxlan!.remotes).toEqual([{ ip: '10.0.0.12', macs: 2, node: 'node-2' }, { ip: '10.0.0.13', macs: 0 }]);
    expect(t.edges).toEqual([{ a: { netns: OV.name, interface: 'veth0', ifindex: 4 }, b: { netns: SB.name, interface: 'eth0', ifindex: 7 } }]);
    expect(t.namespaces.find((n) => n.name === SB.name)!.task).toBe('web.1.x');
  });

  it('rates are per second since the previous document; a counter that went back gives 0', () => {
    const first = buildTopology(snapshot(1000), 10_000);
    const second = buildTopology(snapshot(6000), 20_000, first);
    expect(second.rateIntervalSeconds).toBe(10);
    expect(second.namespaces[1]!.interfaces[0]!.rates).toEqual({ rxBytes: 500, txBytes: 1000, rxPackets: 5, txPackets: 10 });
    expect(buildTopology(snapshot(10), 30_000, second).namespaces[1]!.interfaces[0]!.rates!.rxBytes).toBe(0);
  });
});

describe('following links', () => {
  const t = buildTopology(snapshot(1000), 0);
  it('from either end of a veth pair to the other, with the bridge and its VXLAN device', () => {
    expect(followLink(t, SB.name, 7)!.hops.map((h) => [h.netns, h.link.name, h.bridge?.name, h.vxlan.map((v) => v.name)]))
      .toEqual([[SB.name, 'eth0', undefined, []], [OV.name, 'veth0', 'br0', ['vxlan0']]]);
    expect(followLink(t, OV.name, 4)!.hops.map((h) => h.netns)).toEqual([OV.name, SB.name]);
    expect(followLink(t, OV.name, 99)).toBeUndefined();
  });
  it('selects by ifindex or name, in one namespace or all', () => {
    expect(selectLinks(t, { interface: '7' })).toEqual([{ netns: SB.name, ifindex: 7 }]);
    expect(selectLinks(t, { netns: OV.name, interface: 'vxlan0' })).toEqual([{ netns: OV.name, ifindex: 3 }]);
    expect(selectLinks(t, { netns: OV.name })).toHaveLength(3);
  });
});

describe('resolving a name to a namespace', () => {
  const refs = [{ name: 'host', kind: 'host' as const, path: null }, OV, SB, SB2];
  const idx = names({
    [OV.name]: { network: 'web' },
    [SB.name]: { container: 'web.1.aaa', task: 'web.1.aaa', service: 'web', containerId: 'c0ffee1234' },
    [SB2.name]: { container: 'web.2.bbb', task: 'web.2.bbb', service: 'web', containerId: 'c0ffee9876' },
  });
  const by = (q: string) => {
    const r = resolveNetns(q, refs, idx);
    return r.kind === 'found' ? [r.ref.name, r.by] : r.kind === 'ambiguous' ? ['ambiguous', r.candidates.map((c) => c.name).join(',')] : ['unknown'];
  };
  it('by namespace file name or path, container name or id prefix, task, slot, network', () => {
    expect(by(SB.path!)).toEqual([SB.name, 'namespace file']);
    expect(by('host')).toEqual(['host', 'namespace file']);
    expect(by('web.2.bbb')).toEqual([SB2.name, 'container']);
    expect(by('/web.2.bbb')).toEqual([SB2.name, 'container']);
    expect(by('web.1')).toEqual([SB.name, 'task slot']);
    expect(by('c0ffee98')).toEqual([SB2.name, 'container id']);
    expect(by('web')).toEqual([OV.name, 'network']);
  });
  it('ambiguous and unknown names list the candidates', () => {
    expect(by('c0ffee')).toEqual(['ambiguous', `${SB.name},${SB2.name}`]);
    expect(by('nothing')).toEqual(['unknown']);
    const msg = resolutionMessage('c0ffee', resolveNetns('c0ffee', refs, idx) as never, refs, idx);
    expect(msg).toContain('task=web.2.bbb');
  });
});

describe('command arguments', () => {
  const defs = commandFlags([JSON_FLAG]);
  it('take the exporter\'s flags with its defaults, anywhere before --', () => {
    const a = parseCommandArgs(defs, ['x', '--netns.dir', '/a', 'y', '--json', '--netns.dir=/b', '--', '--json', 'z']);
    expect(a.positionals).toEqual(['x', 'y']);
    expect(a.flags.get('netns.dir')).toEqual(['/a', '/b']);
    expect(a.flags.get('json')).toBe(true);
    expect(a.rest).toEqual(['--json', 'z']);
    const d = parseCommandArgs(defs, []);
    expect([d.flags.get('netns.dir'), d.flags.get('netns.host'), d.flags.get('docker.host')])
      .toEqual([['/var/run/docker/netns'], 'self', 'unix:///var/run/docker.sock']);
  });
  it('reject unknown flags', () => {
    expect(() => parseCommandArgs(defs, ['--nope'])).toThrow(/unknown flag/);
    expect(() => parseCommandArgs(defs, ['-x'])).toThrow(/unknown option/);
  });
});

describe('help (built binary)', () => {
  const MAIN = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  it('each command has --help; the exporter\'s --help names them; usage errors exit 2', () => {
    expect(run('--help').stdout).toMatch(/Commands[\s\S]*netns ls[\s\S]*netns exec[\s\S]*links/);
    for (const [cmd, usage] of [[['netns', 'ls'], 'netns ls'], [['netns', 'exec'], 'netns exec'], [['links'], 'links']] as const) {
      const r = run(...cmd, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: swarmnet-exporter ${usage}`);
      expect(r.stdout).toContain('--netns.dir=DIR');
      expect(r.stdout).toContain('--docker.host=URL');
    }
    expect(run('netns').status).toBe(2);
    expect(run('netns', 'rm').status).toBe(2);
    expect(run('netns', 'ls', 'extra').status).toBe(2);
  });
});

describe('TopologySource', () => {
  it('keeps the last two scrapes\' snapshots, from /metrics too, and scrapes when the last is too old', async () => {
    let n = 0;
    const results: ScrapeResult[] = [];
    // the two parts of a Scraper the source uses: scrape(), and its listener for every collection
    const listeners: Array<(r: ScrapeResult) => void> = [];
    const scraper = {
      onCollected: (l: (r: ScrapeResult) => void) => listeners.push(l),
      scrape: async () => {
        const r = { families: {}, snapshot: snapshot(1000 * ++n) } as unknown as ScrapeResult;
        results.push(r);
        for (const l of listeners) l(r);
        return r;
      },
    };
    let now = 0;
    const src = new TopologySource(scraper as unknown as Scraper, 15_000, () => now);
    const first = await src.current(); // nothing yet: scrapes
    expect(n).toBe(1);
    expect(first.rateIntervalSeconds).toBeUndefined();
    now = 5_000;
    await scraper.scrape(); // a /metrics scrape
    const second = await src.current();
    expect(n).toBe(2);
    expect(second.rateIntervalSeconds).toBe(5);
    now = 30_000;
    await src.current();
    expect(n).toBe(3);
  });
});
