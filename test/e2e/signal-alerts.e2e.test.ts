// The kernel-signal alerts in a real Prometheus (Debian's) under real faults made on
// this kernel: the built exporter reads namespaces of this test's own, laid out as a
// node's (a host namespace holding the underlay interface and the VXLAN local
// address, an overlay namespace "1-…" with br0, vxlan0 and a veth port, a task
// sandbox "<12 hex>" at the other end), and Prometheus loads the shipped rules.
// - healthy: neither alert is active;
// - a UDP socket on a VXLAN port (4790, given with --collector.udp.ports) in the host
//   namespace with a 4 KB receive buffer that never reads, flooded: the kernel drops
//   datagrams and SwarmnetVxlanSocketDrops goes pending for that port;
// - the sandbox's interface raised to 1500 bytes over an underlay of 1500 (the overlay
//   carries 1450): SwarmnetOverlayMtuTooLarge goes pending for the overlay namespace.
// The neighbour-table alerts need global limits changed: see test/vm/neighbour.vm.test.ts.
// Needs root, iproute2, python3 and /usr/bin/prometheus.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExporterProcess, startExporter } from '../harness/exporter.js';
import { bindNamespace, unmountUnder } from '../harness/mounts.js';
import { TestNamespaces } from '../harness/netns.js';
import { freePort } from '../harness/ports.js';
import { type PromAlert, type Prometheus, startPrometheus } from '../harness/prometheus.js';
import { sh } from '../harness/run.js';
import { waitFor } from '../harness/wait.js';
import { RULES_DIR } from '../unit/promql-exprs.js';

const SOCKET_ALERT = 'SwarmnetVxlanSocketDrops';
const MTU_ALERT = 'SwarmnetOverlayMtuTooLarge';
const PORT = 4790;

const nss = new TestNamespaces(`swsa${process.pid % 1000}-`);
const tag = randomBytes(3).toString('hex');
const overlayName = `1-sig${tag}0`;
let host = '';
let sandbox = '';
let dir = '';
let exporter: ExporterProcess | undefined;
let prom: Prometheus | undefined;
const children: ChildProcess[] = [];

/** A process in namespace `ns` running python `code`; resolves once it printed its first line. */
async function python(ns: string, code: string): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  await new Promise((ok, fail) => {
    p.stdout!.once('data', ok);
    p.once('exit', (code) => fail(new Error(`python in ${ns} exited with ${code}`)));
  });
  return p;
}

async function active(alertname: string): Promise<PromAlert[]> {
  if (!prom!.running()) throw new Error(`prometheus exited: ${prom!.log().slice(-2000)}`);
  return (await prom!.alerts()).filter((a) => a.labels.alertname === alertname && (a.state === 'pending' || a.state === 'firing'));
}

beforeAll(async () => {
  host = nss.add('h');
  const ov = nss.add('ov');
  sandbox = nss.add('sb');
  sh(`
ip -n ${host} link add eth0 mtu 1500 type veth peer name up0
ip -n ${host} addr add 203.0.113.1/24 dev eth0
ip -n ${host} link set eth0 up && ip -n ${host} link set up0 up
ip -n ${ov} link add br0 type bridge
ip -n ${ov} link add vxlan0 mtu 1450 type vxlan id 4300 dstport 4789 local 203.0.113.1 nolearning
ip -n ${ov} link set vxlan0 master br0
ip -n ${ov} link add veth0 mtu 1450 type veth peer name eth0 netns ${sandbox} mtu 1450
ip -n ${ov} link set veth0 master br0
for l in br0 vxlan0 veth0; do ip -n ${ov} link set $l up; done
ip -n ${sandbox} link set eth0 up
`);
  dir = mkdtempSync(join(tmpdir(), 'swarmnet-signal-alerts-'));
  await bindNamespace(`/run/netns/${ov}`, join(dir, overlayName));
  await bindNamespace(`/run/netns/${sandbox}`, join(dir, `${tag}${tag}`));
  // the socket that will drop: bound on a VXLAN port of the host namespace, 4 KB of buffer, never read
  await python(host, `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(('127.0.0.1', ${PORT}))
print('bound', flush=True)
time.sleep(3600)`);
  exporter = await startExporter({
    listen: `127.0.0.1:${await freePort()}`, netnsDir: dir, hostNetns: `/run/netns/${host}`,
    dockerHost: `unix://${join(dir, 'no-docker.sock')}`, logLevel: 'error',
    extraArgs: [`--collector.udp.ports=${PORT}`],
  });
  prom = await startPrometheus({
    dir,
    port: await freePort(),
    config: {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [join(RULES_DIR, '*.yml')],
      scrape_configs: [{ job_name: 'swarmnet', static_configs: [{ targets: [exporter.address], labels: { node: 'sig-node' } }] }],
    },
  });
}, 120_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await prom?.stop();
  await exporter?.stop(5_000);
  if (dir) {
    await unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  nss.destroy();
});

describe('kernel-signal alerts in a real Prometheus', () => {
  it('healthy: the socket and MTU series are scraped and neither alert is active', async () => {
    await waitFor('the socket and MTU series in Prometheus', async () => {
      const drops = await prom!.series(`swarmnet_udp_socket_drops_total{port="${PORT}"}`);
      const mtu = await prom!.series(`swarmnet_overlay_mtu_mismatched_interfaces{netns="${overlayName}",direction="above"}`);
      return drops.length === 1 && mtu.length === 1 && mtu[0]!.value[1] === '0' ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    // a few evaluations over the healthy series
    await new Promise((ok) => setTimeout(ok, 5_000));
    expect(await active(SOCKET_ALERT)).toEqual([]);
    expect(await active(MTU_ALERT)).toEqual([]);
  }, 60_000);

  it(`a flooded socket that drops: ${SOCKET_ALERT} goes pending for its port, with the drops ss -uam shows`, async () => {
    await python(host, `
import socket, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('flooding', flush=True)
while True:
    for i in range(200): c.sendto(b'x' * 300, ('127.0.0.1', ${PORT}))
    time.sleep(0.2)`);
    const alerts = await waitFor(`${SOCKET_ALERT} pending`, async () => {
      const a = await active(SOCKET_ALERT);
      return a.length > 0 ? a : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(alerts.map((a) => [a.state, a.labels.port, a.labels.netns, a.labels.node, a.labels.severity])).toEqual([['pending', String(PORT), 'host', 'sig-node', 'warning']]);
    // the kernel's own count for that socket, against what Prometheus scraped
    const ssDrops = Number(/d(\d+)\)/.exec(sh(`ip netns exec ${host} ss -uamn 'sport = :${PORT}'`))![1]);
    const scraped = Number((await prom!.series(`swarmnet_udp_socket_drops_total{port="${PORT}"}`))[0]!.value[1]);
    expect(scraped).toBeGreaterThan(0);
    expect(scraped).toBeLessThanOrEqual(ssDrops);
  }, 90_000);

  it(`the sandbox's MTU raised past the underlay's less 50: ${MTU_ALERT} goes pending for the overlay namespace`, async () => {
    sh(`ip -n ${sandbox} link set eth0 mtu 1500`);
    const alerts = await waitFor(`${MTU_ALERT} pending`, async () => {
      const a = await active(MTU_ALERT);
      return a.length > 0 ? a : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(alerts.map((a) => [a.state, a.labels.netns, a.labels.direction, a.labels.node, a.value])).toEqual([['pending', overlayName, 'above', 'sig-node', '1e+00']]);
  }, 90_000);
});
