#!/usr/bin/env node
// Run in the guest by run-vm.sh (see neighbour.vm.test.ts): guest-neighbour.mjs DIST OUT
// The neighbour tables' limits are global to a kernel: only this guest's own may be
// lowered. With gc_thresh1-3 at 4/8/16, a namespace gets 40 fresh (stale, just
// updated: the forced GC spares entries younger than 5 s) ARP entries; the ones past
// gc_thresh3 cannot be created ("neighbour table overflow"): ndts_table_fulls rises.
// Before that, another namespace gets 40 permanent entries (what Docker programs for
// overlay peers): the kernel (4.19+) does not count them against gc_thresh3, so all
// are accepted and nothing is refused although the table's entries exceed gc_thresh3.
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
const PERM = 'nbperm';
const refs = [{ name: 'host', kind: 'host', path: null }, ...[NS, PERM].map((name) => ({ name, kind: 'other', path: `/run/netns/${name}` }))];
const result = { kernel: sh('uname -r').trim(), reads: [] };

async function read(label) {
  // bracketed by ip's own listing of the namespace (IPv6 adds its multicast entries on its own schedule just
  // after an interface comes up): kept when ip lists the same before and after
  for (let attempt = 1; ; attempt++) {
    const listing = () => sh(`ip -n ${NS} -j neigh show nud all`);
    const before = listing();
    const samples = await sampleAll(native, refs, { concurrency: 1, timeoutMs: 5000, readers }, performance.now() + 20_000);
    const after = listing();
    if (before !== after && attempt < 10) {
      await new Promise((ok) => setTimeout(ok, 500));
      continue;
    }
    const interner = new LabelInterner();
    interner.nextGeneration();
    const ok = samples.filter((s) => !s.error);
    const fams = new FamilySet();
    neighbourCollector.collect({ samples: ok, byNetns: new Map(ok.map((s) => [s.ref.name, s])), names: EMPTY_NAMES, peers: pairVeths(ok), kernel: {}, interner }, fams);
    result.reads.push({
      label,
      attempt,
      at: Number(sh('cat /proc/uptime').split(' ')[0]),
      samples: samples.map((s) => ({ netns: s.ref.name, error: s.error?.message, readerErrors: s.readerErrors?.map((e) => e.error.message), neighTables: s.neighTables, neighCounts: s.neighCounts })),
      metrics: renderPrometheus(fams.all()).toString('utf8'),
      // the kernel's own tools, right after
      ntable: JSON.parse(sh('ip -s -j ntable show')).filter((t) => t.entries !== undefined),
      neigh: JSON.parse(after),
    });
    return;
  }
}

for (const [ns, net] of [[NS, '10.9'], [PERM, '10.8']]) {
  sh(`ip netns add ${ns}
ip -n ${ns} link set lo up
ip -n ${ns} link add v0 type veth peer name v1
ip -n ${ns} addr add ${net}.0.1/16 dev v0
ip -n ${ns} link set v0 up && ip -n ${ns} link set v1 up`);
}
result.defaults = { thresh: [1, 2, 3].map((l) => Number(sh(`cat /proc/sys/net/ipv4/neigh/default/gc_thresh${l}`).trim())) };
sh('sysctl -qw net.ipv4.neigh.default.gc_thresh1=4 net.ipv4.neigh.default.gc_thresh2=8 net.ipv4.neigh.default.gc_thresh3=16');
await read('lowered');

// 40 permanent entries, one `ip neigh add` each: every one is accepted past gc_thresh3
const permErrors = [];
for (let i = 1; i <= 40; i++) {
  const r = spawnSync('ip', ['-n', PERM, 'neigh', 'add', `10.8.1.${i}`, 'lladdr', `02:42:0a:08:01:${i.toString(16).padStart(2, '0')}`, 'dev', 'v0', 'nud', 'permanent'], { encoding: 'utf8' });
  if (r.status !== 0) permErrors.push(r.stderr.trim());
}
result.permanent = { tried: 40, failed: permErrors.length, errors: [...new Set(permErrors)] };
await read('permanent');

// 40 entries in quick succession (RTM_NEWNEIGH over the addon, 8 a round: no process per entry, all well within
// the 5 s the forced GC spares fresh entries), each "stale" and just updated: past gc_thresh3 the kernel refuses them
const { encodeMessage, parseReply, NLM_F_REQUEST, NLM_F_ACK } = await load('kernel/nl/message.js');
const { encodeAttr } = await load('kernel/nl/attr.js');
const ifindex = JSON.parse(sh(`ip -n ${NS} -j link show v0`))[0].ifindex;
const newNeigh = (seq, i) => {
  const ndmsg = new Uint8Array(12);
  const v = new DataView(ndmsg.buffer);
  ndmsg[0] = 2; // AF_INET
  v.setInt32(4, ifindex, true);
  v.setUint16(8, 0x04, true); // NUD_STALE
  const lladdr = Uint8Array.from([0x02, 0x42, 0x0a, 0x09, 0x01, i]);
  // RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL
  return encodeMessage(28, NLM_F_REQUEST | NLM_F_ACK | 0x400 | 0x200, seq, [ndmsg, encodeAttr(1, Uint8Array.from([10, 9, 1, i])), encodeAttr(2, lladdr)]);
};
const session = await native.open(`/run/netns/${NS}`, [0], 5000);
const errors = [];
try {
  for (let i = 1; i <= 40; i += 8) {
    const batch = Array.from({ length: Math.min(8, 41 - i) }, (_, k) => [1000 + i + k, i + k]);
    const replies = await native.exchange(session.handle, batch.map(([seq, n]) => [0, newNeigh(seq, n)]), 5000);
    replies.forEach((r, k) => {
      try {
        parseReply(r, { seq: batch[k][0], port: session.ports[0] }, `add 10.9.1.${batch[k][1]}`);
      } catch (err) {
        errors.push(err.code ?? err.message);
      }
    });
  }
} finally {
  native.close(session.handle);
}
result.fill = { tried: 40, failed: errors.length, errors: [...new Set(errors)] };
result.dmesg = spawnSync('dmesg', [], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /neighbo/.test(l)).slice(-5);
await read('filled');

writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 1));
