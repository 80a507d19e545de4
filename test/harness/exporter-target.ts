// A swarmnet-exporter for a real Prometheus to scrape in end-to-end tests.
//
// startExporterTarget() is the seam: the Prometheus e2e takes whatever it
// returns. By default it starts the built exporter (dist/main.js) on loopback
// over namespaces made to look like one node's overlay network: an overlay
// namespace "1-…" holding br0, vxlan0 (VNI 4097, learning off, permanent FDB
// and neighbour entries towards two remote VTEPs in 203.0.113.0/24) and the
// bridge end of a veth pair whose other end is eth0 in a sandbox namespace
// "<12 hex>", with a few pings across it. There is no dockerd, so the swarm
// and load-balancer families are absent (or report Docker down).
// SWARMNET_E2E_TARGET=http://host:port/metrics scrapes an exporter that is
// already running (on a real swarm node) instead.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExporterProcess, startExporter } from './exporter.js';
import { bindNamespace, unmountUnder } from './mounts.js';
import { TestNamespaces } from './netns.js';
import { freePort } from './ports.js';
import { sh } from './run.js';

export interface ExporterTarget {
  /** host:port for Prometheus' static_configs */
  address: string;
  scheme: 'http' | 'https';
  metricsPath: string;
  /** labels the target gets, as the swarm relabelling would add them (node, swarm_service) */
  labels: Record<string, string>;
  /** stop what was started; nothing for an external target */
  close(): Promise<void>;
}

export async function startExporterTarget(): Promise<ExporterTarget> {
  const external = process.env.SWARMNET_E2E_TARGET;
  if (external) {
    const url = new URL(external);
    return {
      address: url.host,
      scheme: url.protocol === 'https:' ? 'https' : 'http',
      metricsPath: url.pathname === '/' ? '/metrics' : url.pathname,
      labels: { node: process.env.SWARMNET_E2E_NODE ?? url.hostname, swarm_service: 'swarmnet_exporter' },
      close: async () => undefined,
    };
  }
  return startLocalExporter();
}

/** Overlay-shaped namespaces in a folder of their own, and the exporter over them. */
async function startLocalExporter(): Promise<ExporterTarget> {
  const tag = randomBytes(3).toString('hex');
  const nets = new TestNamespaces(`swnprom${process.pid % 1000}-`);
  const dir = mkdtempSync(join(tmpdir(), 'swarmnet-prom-e2e-'));
  let exporter: ExporterProcess | undefined;
  const cleanup = async () => {
    await exporter?.stop(5_000);
    await unmountUnder(dir);
    nets.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ov = nets.add('ov');
    const sb = nets.add('sb');
    sh(`
ip -n ${ov} link add br0 type bridge
ip -n ${ov} addr add 198.18.77.1/24 dev br0
ip -n ${ov} link add vxlan0 type vxlan id 4097 dstport 4789 nolearning
ip -n ${ov} link set vxlan0 master br0
ip -n ${ov} link add veth0 type veth peer name eth0 netns ${sb}
ip -n ${ov} link set veth0 master br0
for l in br0 vxlan0 veth0; do ip -n ${ov} link set $l up; done
ip -n ${sb} addr add 198.18.77.2/24 dev eth0
ip -n ${sb} link set eth0 up
ip netns exec ${ov} bridge fdb add 02:42:c6:12:4d:03 dev vxlan0 dst 203.0.113.2 self permanent
ip netns exec ${ov} bridge fdb add 02:42:c6:12:4d:04 dev vxlan0 dst 203.0.113.3 self permanent
ip -n ${ov} neigh add 198.18.77.3 lladdr 02:42:c6:12:4d:03 dev vxlan0 nud permanent
ip -n ${ov} neigh add 198.18.77.4 lladdr 02:42:c6:12:4d:04 dev vxlan0 nud permanent
ip netns exec ${sb} ping -c 3 -i 0.2 -W 1 198.18.77.1 >/dev/null
`);
    // Docker's names: 1-<10 chars of the network id>, and a sandbox's 12 hex characters
    await bindNamespace(`/run/netns/${ov}`, join(dir, `1-e2e${tag}0`));
    await bindNamespace(`/run/netns/${sb}`, join(dir, `${tag}${tag}`));
    // the host namespace is the exporter's own (--netns.host's default): this one
    exporter = await startExporter({
      listen: `127.0.0.1:${await freePort()}`, netnsDir: dir, dockerHost: `unix://${join(dir, 'no-docker.sock')}`, logLevel: 'error',
    });
    return {
      address: exporter.address,
      scheme: 'http',
      metricsPath: '/metrics',
      labels: { node: 'e2e-node', swarm_service: 'swarmnet_exporter' },
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
