// The addon's ICMP probe on plain namespaces of this test, against iputils'
// ping in the same setup: a veth pair (src <-> dst), and a routed path through
// a namespace whose next hop has a smaller MTU (src <-> r <-> far). Each case
// runs the probe the exporter runs (probeTargets: 3 small echo requests and one
// full-size with DF) and `ping -M do -s` from the same namespace, and both must
// agree: answered, dropped, or refused for size. Needs root, iproute2,
// iptables and iputils-ping.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../src/kernel/native.js';
import { probeTargets } from '../../src/probes/round.js';
import { TestNamespaces, sh } from '../helpers/netns.js';

const nss = new TestNamespaces(`swpr${process.pid}-`);
const native = loadNative();
let src = '';
let dst = '';
let r = '';
let far = '';
const DST = '198.18.251.2';
const FAR = '198.18.252.2';
const path = (ns: string) => `/run/netns/${ns}`;
const probe = (to: string[], fullSizeBytes = 1500, timeoutMs = 400) =>
  probeTargets(native, path(src), to, { count: 3, fullSizeBytes, timeoutMs, round: 1 });

/** ping from `src`: -M do (DF), `size` bytes of ICMP data (the IP packet is 28 more); its exit status and output */
function ping(to: string, size: number, count = 3): { ok: boolean; out: string } {
  const p = spawnSync('ip', ['netns', 'exec', src, 'ping', '-n', '-c', String(count), '-W', '1', '-i', '0.2', '-M', 'do', '-s', String(size), to], { encoding: 'utf8' });
  return { ok: p.status === 0, out: `${p.stdout}${p.stderr}` };
}

beforeAll(() => {
  src = nss.add('src');
  dst = nss.add('dst');
  r = nss.add('r');
  far = nss.add('far');
  sh(`ip link add s0 netns ${src} type veth peer name d0 netns ${dst}
ip -n ${src} addr add 198.18.251.1/24 dev s0
ip -n ${dst} addr add ${DST}/24 dev d0
ip -n ${src} link set s0 up
ip -n ${dst} link set d0 up
ip link add s1 netns ${src} type veth peer name r0 netns ${r}
ip link add r1 netns ${r} type veth peer name f0 netns ${far}
ip -n ${src} addr add 198.18.253.1/24 dev s1
ip -n ${r} addr add 198.18.253.2/24 dev r0
ip -n ${r} addr add 198.18.252.1/24 dev r1
ip -n ${far} addr add ${FAR}/24 dev f0
ip -n ${r} link set r1 mtu 1400
ip -n ${far} link set f0 mtu 1400
for l in "${src} s1" "${r} r0" "${r} r1" "${far} f0"; do set -- $l; ip -n $1 link set $2 up; done
ip netns exec ${r} sysctl -qw net.ipv4.ip_forward=1
ip -n ${src} route add 198.18.252.0/24 via 198.18.253.2
ip -n ${far} route add default via 198.18.252.1`);
});
afterAll(() => nss.destroy());

describe('the ICMP probe on this kernel, against ping -M do', () => {
  it('answers small and full-size (DF, the link MTU) probes across a veth pair, as ping does', async () => {
    const entered = native.counters().nsEntries;
    const { targets: [t] } = await probe([DST]);
    expect(native.counters().nsEntries - entered, 'one setns per probe call').toBe(1);
    expect(t!.sent).toBe(3);
    expect(t!.rttSeconds).toHaveLength(3);
    for (const rtt of t!.rttSeconds) expect(rtt).toBeGreaterThan(0), expect(rtt).toBeLessThan(0.4);
    expect(t!.fullSize).toEqual({ ok: true });
    expect(ping(DST, 56).ok).toBe(true);
    expect(ping(DST, 1500 - 28).ok).toBe(true);
  });

  it('opens a raw socket where ping_group_range leaves root out, and a ping socket where it lets it in, with the same answers', async () => {
    expect(sh(`ip netns exec ${src} cat /proc/sys/net/ipv4/ping_group_range`).trim().split(/\s+/)).toEqual(['1', '0']);
    expect((await probe([DST])).kind).toBe('raw');
    sh(`ip netns exec ${src} sysctl -qw net.ipv4.ping_group_range="0 0"`);
    try {
      const { kind, targets: [t] } = await probe([DST]);
      expect(kind).toBe('ping');
      expect(t!.rttSeconds).toHaveLength(3);
      expect(t!.fullSize).toEqual({ ok: true });
      // the router's refusal reaches a ping socket's error queue the same way
      expect((await probe([FAR], 1500)).targets[0]).toMatchObject({ rttSeconds: [expect.any(Number), expect.any(Number), expect.any(Number)],
        fullSize: { ok: false, reason: 'EMSGSIZE', mtu: 1400 } });
    } finally {
      sh(`ip netns exec ${src} sysctl -qw net.ipv4.ping_group_range="1 0"`);
    }
  });

  it('times out every probe toward a namespace whose firewall drops ICMP, as ping loses them, and only toward it', async () => {
    sh(`ip netns exec ${dst} iptables -w -A INPUT -p icmp -j DROP`);
    try {
      const { targets: [t, other] } = await probe([DST, FAR], 1400);
      expect(t).toEqual({ sent: 3, rttSeconds: [], fullSize: { ok: false, reason: 'timeout' } });
      expect(other!.rttSeconds).toHaveLength(3);
      const p = ping(DST, 56);
      expect(p.ok).toBe(false);
      expect(p.out).toMatch(/100% packet loss/);
    } finally {
      sh(`ip netns exec ${dst} iptables -w -D INPUT -p icmp -j DROP`);
    }
    expect((await probe([DST])).targets[0]!.rttSeconds).toHaveLength(3);
  });

  it('refuses a DF probe larger than the link MTU at the sender (EMSGSIZE), as ping says "message too long"', async () => {
    const { targets: [t] } = await probe([DST], 1501);
    expect(t!.rttSeconds).toHaveLength(3);
    expect(t!.fullSize).toEqual({ ok: false, reason: 'EMSGSIZE' });
    const p = ping(DST, 1501 - 28, 1);
    expect(p.ok).toBe(false);
    expect(p.out).toMatch(/message too long/i);
  });

  it('learns from the router that the next hop is smaller (fragmentation needed, mtu 1400), as ping reports it, while small probes pass', async () => {
    const { targets: [t] } = await probe([FAR], 1500);
    expect(t!.rttSeconds).toHaveLength(3);
    expect(t!.fullSize).toEqual({ ok: false, reason: 'EMSGSIZE', mtu: 1400 });
    // the probe sizes by the interface each round, whatever the path MTU cache says: the same answer again
    expect((await probe([FAR], 1500)).targets[0]!.fullSize).toEqual({ ok: false, reason: 'EMSGSIZE', mtu: 1400 });
    // at the path's MTU the full-size probe passes
    expect((await probe([FAR], 1400)).targets[0]!.fullSize).toEqual({ ok: true });
    const p = ping(FAR, 1500 - 28, 2);
    expect(p.ok).toBe(false);
    expect(p.out).toMatch(/mtu ?= ?1400/i);
    expect(ping(FAR, 1400 - 28).ok).toBe(true);
  });

  it('sees a repaired path at once, where IP_PMTUDISC_DO (ping -M do) keeps refusing from the cached path MTU', async () => {
    sh(`ip -n ${r} link set r1 mtu 1500
ip -n ${far} link set f0 mtu 1500`);
    try {
      expect((await probe([FAR], 1500)).targets[0]!.fullSize).toEqual({ ok: true });
      // the kernel still holds the 1400 learned above for this destination (ip route get shows it), and DO obeys it
      expect(sh(`ip -n ${src} route get ${FAR}`)).toMatch(/mtu 1400/);
      const p = ping(FAR, 1500 - 28, 1);
      expect(p.ok).toBe(false);
      expect(p.out).toMatch(/message too long, mtu ?= ?1400/i);
    } finally {
      sh(`ip -n ${r} link set r1 mtu 1400
ip -n ${far} link set f0 mtu 1400`);
    }
  });

  it('says what is missing when no ICMP socket can be opened: CAP_NET_RAW or ping_group_range', () => {
    const script = join('/tmp', `swpr-noraw-${process.pid}.mjs`);
    writeFileSync(script, `import { loadNative } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'dist', 'kernel', 'native.js'))};
import { probeTargets } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'dist', 'probes', 'round.js'))};
try { await probeTargets(loadNative(), ${JSON.stringify(path(src))}, [${JSON.stringify(DST)}], { count: 1, fullSizeBytes: 1500, timeoutMs: 200, round: 1 }); console.log('sent'); }
catch (err) { console.log(err.name + ': ' + err.message); }\n`);
    // root without CAP_NET_RAW (dropped from the bounding set before exec), in a namespace whose range leaves root out
    const p = spawnSync('setpriv', ['--bounding-set=-net_raw', '--', process.execPath, script], { encoding: 'utf8' });
    expect(p.stderr).toBe('');
    expect(p.stdout.trim()).toBe('ProbeSocketError: socket(icmp): Operation not permitted: an ICMP socket needs CAP_NET_RAW (a raw socket), '
      + 'or the exporter\'s group inside net.ipv4.ping_group_range of the namespace (a ping socket)');
  });
});
