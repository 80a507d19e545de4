// The prober (src/probes/prober.ts) over namespaces of this test shaped as
// Docker makes them: an overlay namespace 1-<id> with a VXLAN device (the MTU
// of the full-size probe), the network's lb_<id> namespace joined by a veth
// pair to a peer namespace holding the "remote" task endpoint, and a Docker
// state naming that endpoint on another node. A round probes it for real; a
// namespace file that is no longer a namespace, and a process without
// CAP_NET_RAW in a namespace whose ping_group_range leaves it out, are counted
// in the error ledger (swarmnet_exporter_errors_total) and logged once.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_STATE, type DockerState, type NetworkState } from '../../src/docker/state.js';
import { ErrorLedger } from '../../src/errors.js';
import { loadNative } from '../../src/kernel/native.js';
import { OverlayProber } from '../../src/probes/prober.js';
import { bindNamespace, unmountUnder } from '../harness/mounts.js';
import { ROOT } from '../harness/paths.js';
import { TestNamespaces, sh } from '../helpers/netns.js';
import { dockerViewOf } from '../support/snapshot.js';

const nss = new TestNamespaces(`swpb${process.pid}-`);
const native = loadNative();
const ID = 'fedcba9876543210fedcba98';
const GONE_ID = '0123456789abcdef01234567';
let dir = '';

const network = (id: string, name: string, endpointIp: string): NetworkState => ({
  id, name, driver: 'overlay', scope: 'swarm', ingress: false, attachable: false, internal: false, subnets: [], verbose: true,
  peers: [{ name: 'nodeB-net', ip: '198.51.100.2' }], endpoints: [],
  services: [{ name: 'web', vip: '', ports: [], localLbIndex: 0, tasks: [{ name: 'web.1', endpointId: 'e1', endpointIp, hostIp: '198.51.100.2' }] }],
});
const state = (nets: NetworkState[]): DockerState => ({ ...EMPTY_STATE, fetchedAt: 1, info: { ...EMPTY_STATE.info, nodeAddr: '198.51.100.1' }, networks: nets });

function ledger() {
  const lines: Array<{ msg: string; reason: string }> = [];
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  const log = pino({ level: 'warn' }, sink);
  return { lines, log, errors: new ErrorLedger(log) };
}

beforeAll(async () => {
  const ov = nss.add('ov');
  const lb = nss.add('lb');
  const peer = nss.add('peer');
  sh(`ip -n ${ov} link add vxlan0 mtu 1450 type vxlan id 4242 dstport 4789 nolearning
ip -n ${ov} link set vxlan0 up
ip link add eth0 netns ${lb} type veth peer name eth0 netns ${peer}
ip -n ${lb} addr add 198.18.254.1/24 dev eth0
ip -n ${peer} addr add 198.18.254.2/24 dev eth0
ip -n ${lb} link set eth0 up mtu 1450
ip -n ${peer} link set eth0 up mtu 1450`);
  dir = mkdtempSync(join(tmpdir(), 'swarmnet-prober-'));
  await bindNamespace(`/run/netns/${ov}`, join(dir, `1-${ID.slice(0, 10)}`));
  await bindNamespace(`/run/netns/${lb}`, join(dir, `lb_${ID.slice(0, 9)}`));
  await bindNamespace(`/run/netns/${ov}`, join(dir, `1-${GONE_ID.slice(0, 10)}`));
  // what a removed namespace leaves behind for a while: a plain file
  writeFileSync(join(dir, `lb_${GONE_ID.slice(0, 9)}`), '');
});
afterAll(async () => {
  await unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
  nss.destroy();
});

describe('the overlay prober on namespaces shaped as Docker makes them', () => {
  it('probes the peer node\'s endpoint from lb_ at the VXLAN device\'s MTU; a source that is no longer a namespace is counted and logged once', async () => {
    const { lines, log, errors } = ledger();
    const docker = { state: () => dockerViewOf(state([network(ID, 'appnet', '198.18.254.2'), network(GONE_ID, 'gonenet', '198.18.254.9')])) };
    const prober = new OverlayProber({ native, docker, netnsDirs: [dir], intervalMs: 5000, timeoutMs: 300, count: 3, errors, log });
    const entered = native.counters().nsEntries;
    await prober.runRound();
    // per network: the overlay namespace for its MTU, the source to probe from (the plain file is refused before setns)
    expect(native.counters().nsEntries - entered).toBe(3);
    const [round, ...rest] = prober.results();
    expect(rest).toEqual([]);
    expect(round).toMatchObject({ network: 'appnet', netns: `lb_${ID.slice(0, 9)}`, mtuBytes: 1450 });
    expect(round!.finishedAt).toBeGreaterThan(Date.now() - 5000);
    expect(round!.peers).toEqual([{
      peerNode: 'nodeB-net', peerIp: '198.51.100.2', endpointIp: '198.18.254.2', sent: 3,
      rttSeconds: [expect.any(Number), expect.any(Number), expect.any(Number)], fullSize: { ok: true },
    }]);
    await prober.runRound();
    expect(errors.count('probe', 'vanished')).toBe(2);
    expect(lines.map((l) => [l.reason, l.msg.split(':')[0]])).toEqual([['vanished', 'overlay probes of network gonenet from lb_012345678']]);
    // a network left out (--network.exclude) is neither entered nor probed
    const only = new OverlayProber({ native, docker, netnsDirs: [dir], intervalMs: 5000, timeoutMs: 300, count: 1, errors, log, networkFilter: (n) => n !== 'gonenet' });
    const before = native.counters().nsEntries;
    await only.runRound();
    expect(native.counters().nsEntries - before).toBe(2);
    expect(only.results().map((r) => r.network)).toEqual(['appnet']);
    expect(errors.count('probe', 'vanished')).toBe(2);
  });

  it('without CAP_NET_RAW where ping_group_range leaves it out: no probe, the reason named, counted every round and logged once', () => {
    const script = join(dir, 'noraw.mjs');
    const dist = (p: string) => JSON.stringify(join(ROOT, 'dist', p));
    writeFileSync(script, `import { createRequire } from 'node:module';
const { pino } = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('pino');
import { ErrorLedger } from ${dist('errors.js')};
import { loadNative } from ${dist('kernel/native.js')};
import { OverlayProber } from ${dist('probes/prober.js')};
const lines = [];
const log = pino({ level: 'warn' }, { write: (l) => lines.push(JSON.parse(l)) });
const errors = new ErrorLedger(log);
const view = ${JSON.stringify(dockerViewOf(state([network(ID, 'appnet', '198.18.254.2')])))};
const prober = new OverlayProber({ native: loadNative(), docker: { state: () => view }, netnsDirs: [${JSON.stringify(dir)}], intervalMs: 5000, timeoutMs: 300, count: 3, errors, log });
for (let i = 0; i < 3; i++) await prober.runRound();
console.log(JSON.stringify({ count: errors.count('probe', 'permission'), results: prober.results().length, lines: lines.map((l) => l.msg) }));
`);
    const p = spawnSync('setpriv', ['--bounding-set=-net_raw', '--', process.execPath, script], { encoding: 'utf8', cwd: ROOT });
    expect(p.stderr).toBe('');
    const got = JSON.parse(p.stdout) as { count: number; results: number; lines: string[] };
    expect(got.count).toBe(3);
    expect(got.results).toBe(0);
    expect(got.lines).toEqual([`overlay probes of network appnet from lb_${ID.slice(0, 9)}: socket(icmp): Operation not permitted: an ICMP socket needs CAP_NET_RAW `
      + '(a raw socket), or the exporter\'s group inside net.ipv4.ping_group_range of the namespace (a ping socket) (logged once; further occurrences are counted in swarmnet_exporter_errors_total)']);
  });
});
