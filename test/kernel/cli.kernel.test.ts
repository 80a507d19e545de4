// The commands as a user runs them (node dist/main.js ...), on namespaces this
// test builds, against the kernel's own answers (ip -d -j link, bridge -j fdb).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkPath } from '../../src/topology/follow.js';
import type { TopologyInterface } from '../../src/topology/model.js';
import { bridgeFdb } from '../helpers/netns.js';
import { type OverlayFixture, REMOTES, VNI, buildOverlayFixture, ipLinkJson } from './overlay-fixture.js';

const MAIN = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js');
let fx: OverlayFixture;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = <T>(...args: string[]): T => {
  const r = cli(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(() => {
  fx = buildOverlayFixture('swcli');
});
afterAll(() => fx?.destroy());

describe('netns ls', () => {
  it('lists every namespace of the directory with its kind and interface count, as ip link counts them', () => {
    const rows = json<Array<{ name: string; kind: string; interfaces: number; ipvsServices: number; path: string }>>('netns', 'ls', ...fx.flags);
    expect(rows.map((r) => r.name).sort()).toEqual([...fx.files.keys()].sort());
    for (const r of rows) {
      expect(r.kind).toBe(r.name === fx.overlay ? 'overlay' : 'sandbox');
      expect(r.interfaces).toBe(ipLinkJson(fx.files.get(r.name)!).length);
      expect(r.ipvsServices).toBe(0);
    }
    const table = cli('netns', 'ls', ...fx.flags);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAMESPACE\s+KIND\s+INTERFACES\s+IPVS/);
    for (const file of fx.files.keys()) expect(table.stdout).toContain(file);
  });

  it('takes the host namespace by default, and flags anywhere', () => {
    const rows = json<Array<{ name: string }>>('netns', 'ls', `--netns.dir=${fx.dir}`, '--docker.wait=0s');
    expect(rows[0]!.name).toBe('host');
  });
});

describe('links', () => {
  it('shows every link of every namespace with the kernel\'s ifindex, master and veth peer (link_index / link_netnsid)', () => {
    const all = json<Array<{ netns: string; interfaces: TopologyInterface[] }>>('links', ...fx.flags);
    expect(all.map((n) => n.netns).sort()).toEqual([...fx.files.keys()].sort());
    let veths = 0;
    for (const ns of all) {
      const kernel = ipLinkJson(fx.files.get(ns.netns)!);
      expect(ns.interfaces.map((i) => [i.index, i.name]).sort()).toEqual(kernel.map((k) => [k.ifindex, k.ifname]).sort());
      for (const k of kernel) {
        const mine = ns.interfaces.find((i) => i.index === k.ifindex)!;
        expect(mine.master?.name).toBe(k.master);
        if (k.link_netnsid === undefined) continue;
        // the other end: in another namespace of the fixture, at the index the kernel names, pointing back
        veths++;
        expect(mine.peer, `${ns.netns}/${k.ifname}`).toBeDefined();
        expect(mine.peer!.ifindex).toBe(k.link_index);
        const back = ipLinkJson(fx.files.get(mine.peer!.netns)!).find((p) => p.ifindex === k.link_index)!;
        expect(back.ifname).toBe(mine.peer!.interface);
        expect(back.link_index).toBe(k.ifindex);
      }
    }
    expect(veths).toBe(2 * fx.sandboxes.length);
  });

  it('follows a container\'s eth0 to its bridge port, the bridge and the VXLAN device with its VNI and remote VTEPs', () => {
    const sandbox = fx.sandboxes[1]!;
    const [path] = json<LinkPath[]>('links', ...fx.flags, sandbox, 'eth0');
    expect(path!.hops.map((h) => [h.netns, h.link.name])).toEqual([[sandbox, 'eth0'], [fx.overlay, 'veth2']]);
    const port = path!.hops[1]!;
    expect(port.bridge?.name).toBe('br0');
    expect(port.bridge?.ports?.sort()).toEqual(['veth1', 'veth2', 'veth3', 'vxlan0']);
    expect(port.vxlan.map((v) => v.name)).toEqual(['vxlan0']);
    expect(port.vxlan[0]!.vxlan?.vni).toBe(VNI);
    const fdb = bridgeFdb(fx.files.get(fx.overlay)!).filter((e) => e.ifname === 'vxlan0' && e.dst);
    expect(port.vxlan[0]!.vxlan?.remotes.map((r) => r.ip).sort()).toEqual([...new Set(fdb.map((e) => e.dst!))].sort());
    expect(port.vxlan[0]!.vxlan?.remotes.map((r) => r.ip).sort()).toEqual(REMOTES);
    expect(port.link.counters).toBeDefined();

    // the other direction: from the bridge port to the container
    const [back] = json<LinkPath[]>('links', ...fx.flags, fx.overlay, 'veth2');
    expect(back!.hops.map((h) => [h.netns, h.link.name])).toEqual([[fx.overlay, 'veth2'], [sandbox, 'eth0']]);

    // an ifindex alone is looked up in every namespace, as find_links.sh does
    const veth2 = ipLinkJson(fx.files.get(fx.overlay)!).find((l) => l.ifname === 'veth2')!;
    const byIndex = json<LinkPath[]>('links', ...fx.flags, String(veth2.ifindex));
    expect(byIndex.some((p) => p.hops[0]!.netns === fx.overlay && p.hops[0]!.link.name === 'veth2')).toBe(true);

    const text = cli('links', ...fx.flags, sandbox, 'eth0');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`-> peer ${fx.overlay}`);
    expect(text.stdout).toContain(`vni ${VNI}`);
  });

  it('exits 1 when nothing matches, 2 on a usage error', () => {
    expect(cli('links', ...fx.flags, fx.sandboxes[0]!, 'nosuch0').code).toBe(1);
    const unknown = cli('links', ...fx.flags, 'nosuchcontainer', 'eth0');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(fx.overlay);
    expect(cli('links', ...fx.flags, '--bogus').code).toBe(2);
    expect(cli('links', ...fx.flags, 'a', 'b', 'c').code).toBe(2);
  });
});

describe('netns exec', () => {
  it('runs the command in the named namespace (by file name or path): ip -j addr shows that container\'s address', () => {
    for (const [i, sandbox] of fx.sandboxes.entries()) {
      const name = i === 0 ? join(fx.dir, sandbox) : sandbox;
      const r = cli('netns', 'exec', ...fx.flags, name, '--', 'ip', '-j', 'addr', 'show', 'dev', 'eth0');
      expect(r.code, r.stderr).toBe(0);
      const addrs = (JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string }> }>)[0]!.addr_info.map((a) => a.local);
      expect(addrs).toContain(fx.addr.get(sandbox));
    }
    const ov = cli('netns', 'exec', ...fx.flags, fx.overlay, '--', 'ip', '-j', 'link', 'show', 'vxlan0');
    expect(ov.code, ov.stderr).toBe(0);
    expect(JSON.parse(ov.stdout)[0].ifname).toBe('vxlan0');
  });

  it('passes the exit code, stdin and stdout through', () => {
    expect(cli('netns', 'exec', ...fx.flags, fx.sandboxes[0]!, '--', 'sh', '-c', 'exit 7').code).toBe(7);
    const r = spawnSync(process.execPath, [MAIN, 'netns', 'exec', ...fx.flags, fx.sandboxes[0]!, '--', 'sh', '-c', 'cat; echo err >&2'],
      { input: 'hello\n', encoding: 'utf8' });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, 'hello\n', 'err\n']);
    expect(cli('netns', 'exec', ...fx.flags, fx.sandboxes[0]!, '--', 'sh', '-c', 'kill -TERM $$').code).toBe(143);
    expect(cli('netns', 'exec', ...fx.flags, fx.sandboxes[0]!, '--', '/nonexistent/cmd').code).toBe(127);
  });

  it('an unknown name exits 1 listing the candidates; an ambiguous one exits 2 listing the matches; no command is a usage error', () => {
    const unknown = cli('netns', 'exec', ...fx.flags, 'nosuchthing', '--', 'true');
    expect(unknown.code).toBe(1);
    for (const file of fx.files.keys()) expect(unknown.stderr).toContain(file);
    // the same file name in two directories
    const second = mkdtempSync(join(tmpdir(), 'swcli-dup-'));
    try {
      symlinkSync(`/run/netns/${fx.files.get(fx.sandboxes[0]!)}`, join(second, fx.sandboxes[0]!));
      const amb = cli('netns', 'exec', `--netns.dir=${fx.dir}`, `--netns.dir=${second}`, '--netns.host=none', '--docker.wait=0s', fx.sandboxes[0]!, '--', 'true');
      expect(amb.code).toBe(2);
      expect(amb.stderr).toContain(join(second, fx.sandboxes[0]!));
    } finally {
      rmSync(second, { recursive: true, force: true });
    }
    expect(cli('netns', 'exec', ...fx.flags, fx.sandboxes[0]!).code).toBe(2);
    expect(cli('netns', 'exec', ...fx.flags, '--', 'true').code).toBe(2);
  });
});
