// The MTU check on this kernel: namespaces of this test standing for a node's host
// (an underlay interface holding the VXLAN local address), an overlay network
// (bridge, VXLAN device, veth ports) and two containers, one with an MTU too
// large. The exporter's MTUs are compared with `ip -j link`, and the mismatch
// follows a change of the underlay MTU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mtuCollector } from '../../src/collectors/mtu.js';
import { loadNative } from '../../src/kernel/native.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { createReaders, readersFor } from '../../src/kernel/readers/index.js';
import { sampleAll } from '../../src/kernel/sampler.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { TestNamespaces, sh } from '../helpers/netns.js';
import { type PromSample, parseProm, pick } from '../helpers/prom.js';
import { snapshotOf } from '../support/snapshot.js';

const prefix = `swmt${process.pid}-`;
const nss = new TestNamespaces(prefix);
const native = loadNative();
const readers = readersFor(createReaders(), mtuCollector.needs);
let refs: NetnsRef[] = [];
const [HOST, OVERLAY, SBA, SBB] = ['host', '1-ov', 'sba', 'sbb'].map((s) => `${prefix}${s}`) as [string, string, string, string];

async function scrape(): Promise<PromSample[]> {
  const samples = await sampleAll(native, refs, { concurrency: 2, timeoutMs: 2000, readers }, performance.now() + 10_000);
  for (const s of samples) expect([s.error, s.readerErrors], s.ref.name).toEqual([undefined, undefined]);
  const out = new FamilySet();
  mtuCollector.collect(snapshotOf(samples), out);
  return parseProm(renderPrometheus(out.all()).toString('utf8'));
}
const ipMtu = (ns: string, dev: string): number => (JSON.parse(sh(`ip -n ${ns} -j link show ${dev}`)) as Array<{ mtu: number }>)[0]!.mtu;

beforeAll(() => {
  for (const s of ['host', '1-ov', 'sba', 'sbb']) nss.add(s);
  sh(`ip -n ${HOST} link add eth0 mtu 1500 type veth peer name up0 && ip -n ${HOST} link set eth0 up && ip -n ${HOST} link set up0 up
ip -n ${HOST} addr add 203.0.113.1/24 dev eth0
ip -n ${OVERLAY} link add br0 type bridge && ip -n ${OVERLAY} link set br0 up
ip -n ${OVERLAY} link add vxlan0 mtu 1450 type vxlan id 4200 dstport 4789 local 203.0.113.1 nolearning
ip -n ${OVERLAY} link set vxlan0 master br0 up
ip -n ${OVERLAY} link add veth0 mtu 1450 type veth peer name eth0 netns ${SBA} mtu 1450
ip -n ${OVERLAY} link add veth1 mtu 1450 type veth peer name eth0 netns ${SBB} mtu 1500
ip -n ${OVERLAY} link set veth0 master br0 up && ip -n ${OVERLAY} link set veth1 master br0 up
ip -n ${SBA} link set eth0 up && ip -n ${SBB} link set eth0 up`);
  refs = [
    { name: HOST, kind: 'host', path: `/run/netns/${HOST}` },
    { name: OVERLAY, kind: 'overlay', path: `/run/netns/${OVERLAY}` },
    { name: SBA, kind: 'sandbox', path: `/run/netns/${SBA}` },
    { name: SBB, kind: 'sandbox', path: `/run/netns/${SBB}` },
  ];
});
afterAll(() => nss.destroy());

describe('overlay MTU check on this kernel', () => {
  it('finds the underlay by the VXLAN local address, and the one container interface too large for it', async () => {
    const m = await scrape();
    expect(pick(m, 'swarmnet_overlay_mtu_expected_bytes', { netns: OVERLAY, underlay_interface: 'eth0' }).map((s) => s.value))
      .toEqual([ipMtu(HOST, 'eth0') - 50]);
    expect(pick(m, 'swarmnet_overlay_mtu_mismatched_interfaces', { netns: OVERLAY, direction: 'above' }).map((s) => s.value)).toEqual([1]);
    expect(pick(m, 'swarmnet_overlay_mtu_mismatched_interfaces', { netns: OVERLAY, direction: 'below' }).map((s) => s.value)).toEqual([0]);
    const mism = pick(m, 'swarmnet_overlay_interface_mtu_mismatch_bytes', {});
    expect(mism.map((s) => [s.labels.netns, s.labels.interface, s.value])).toEqual([[SBB, 'eth0', ipMtu(SBB, 'eth0') - (ipMtu(HOST, 'eth0') - 50)]]);
  });

  it('follows the underlay: at 1400 every interface of the overlay is too large, by what ip shows', async () => {
    sh(`ip -n ${HOST} link set eth0 mtu 1400`);
    const m = await scrape();
    const expected = ipMtu(HOST, 'eth0') - 50;
    expect(expected).toBe(1350);
    expect(pick(m, 'swarmnet_overlay_mtu_expected_bytes', { netns: OVERLAY }).map((s) => s.value)).toEqual([expected]);
    const want = [[OVERLAY, 'br0'], [OVERLAY, 'vxlan0'], [OVERLAY, 'veth0'], [OVERLAY, 'veth1'], [SBA, 'eth0'], [SBB, 'eth0']]
      .map(([ns, dev]) => `${ns} ${dev} ${ipMtu(ns!, dev!) - expected}`).sort();
    const got = pick(m, 'swarmnet_overlay_interface_mtu_mismatch_bytes', {}).map((s) => `${s.labels.netns} ${s.labels.interface} ${s.value}`).sort();
    expect(got).toEqual(want);
    expect(pick(m, 'swarmnet_overlay_mtu_mismatched_interfaces', { netns: OVERLAY, direction: 'above' }).map((s) => s.value)).toEqual([6]);
  });
});
