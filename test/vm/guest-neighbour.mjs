#!/usr/bin/env node
// Run in the guest by run-vm.sh (see neighbour.vm.test.ts): guest-neighbour.mjs DIST OUT
// The neighbour tables' limits are global to a kernel: only this guest's own may be
// lowered. With gc_thresh1-3 at 4/8/16, a namespace gets 40 fresh (stale, just
// updated: the forced GC spares entries younger than 5 s) ARP entries; the ones past
// gc_thresh3 cannot be created ("neighbour table overflow"): ndts_table_fulls rises.
// The exporter's readers and collector (compiled JS in DIST) read the host namespace
// and the filled one before and after, each read followed by ip's own listings.
// Everything goes to OUT/result.json for the host to assert.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dist, out = '/out'] = process.argv.slice(2);
if (!dist) throw new Error('usage: guest-neighbour.mjs DIST OUT');
const load = (m) => import(join(dist, m));
const { loadNative } = await load('kernel/native.js');
const { createReaders, readersFor } = await load('kernel/readers/index.js');
const { sampleAll } = await load('kernel/sampler.js');
const { neighbourCollector } = await load('collectors/neighbour.js');
const { pairVeths } = await load('kernel/veth.js');
const { FamilySet } = await load('metrics/family.js');
const { LabelInterner } = await load('metrics/intern.js');
const { renderPrometheus } = await load('metrics/render.js');
const { EMPTY_NAMES } = await load('names.js');

const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const native = loadNative();
const readers = readersFor(createReaders(), neighbourCollector.needs);
const NS = 'nbfill';
const refs = [{ name: 'host', kind: 'host', path: null }, { name: NS, kind: 'other', path: `/run/netns/${NS}` }];
const result = { kernel: sh('uname -r').trim(), reads: [] };

async function read(label) {
  const samples = await sampleAll(native, refs, { concurrency: 1, timeoutMs: 5000, readers }, performance.now() + 20_000);
  const interner = new LabelInterner();
  interner.nextGeneration();
  const ok = samples.filter((s) => !s.error);
  const fams = new FamilySet();
  neighbourCollector.collect({ samples: ok, byNetns: new Map(ok.map((s) => [s.ref.name, s])), names: EMPTY_NAMES, peers: pairVeths(ok), kernel: {}, interner }, fams);
  result.reads.push({
    label,
    at: Number(sh('cat /proc/uptime').split(' ')[0]),
    samples: samples.map((s) => ({ netns: s.ref.name, error: s.error?.message, readerErrors: s.readerErrors?.map((e) => e.error.message), neighTables: s.neighTables, neighCounts: s.neighCounts })),
    metrics: renderPrometheus(fams.all()).toString('utf8'),
    // the kernel's own tools, right after
    ntable: JSON.parse(sh('ip -s -j ntable show')).filter((t) => t.entries !== undefined),
    neigh: JSON.parse(sh(`ip -n ${NS} -j neigh show nud all`)),
  });
}

sh(`ip netns add ${NS}
ip -n ${NS} link set lo up
ip -n ${NS} link add v0 type veth peer name v1
ip -n ${NS} addr add 10.9.0.1/16 dev v0
ip -n ${NS} link set v0 up && ip -n ${NS} link set v1 up`);
result.defaults = { thresh: [1, 2, 3].map((l) => Number(sh(`cat /proc/sys/net/ipv4/neigh/default/gc_thresh${l}`).trim())) };
sh('sysctl -qw net.ipv4.neigh.default.gc_thresh1=4 net.ipv4.neigh.default.gc_thresh2=8 net.ipv4.neigh.default.gc_thresh3=16');
await read('lowered');

// 40 entries in one go, each just updated: past gc_thresh3 the forced GC finds nothing to free
const batch = Array.from({ length: 40 }, (_, i) => `neigh add 10.9.1.${i + 1} lladdr 02:42:0a:09:01:${(i + 1).toString(16).padStart(2, '0')} dev v0 nud stale`);
writeFileSync('/tmp/nbfill.batch', batch.join('\n') + '\n');
const fill = spawnSync('ip', ['-n', NS, '-force', '-batch', '/tmp/nbfill.batch'], { encoding: 'utf8' });
result.fill = { status: fill.status, failed: (fill.stderr.match(/No buffer space available/g) ?? []).length, stderr: fill.stderr.slice(0, 2000) };
result.dmesg = spawnSync('dmesg', [], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /neighbo/.test(l)).slice(-5);
await read('filled');

writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 1));
