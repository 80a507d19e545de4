// The swarm identity labels every per-namespace series carries. Computed once
// per namespace and interface per scrape, shared by all kernel collectors.
import type { NsSample } from '../kernel/readers/types.js';
import type { Link } from '../kernel/rtnl/link.js';
import { vethKey } from '../kernel/veth.js';
import type { Labels } from '../metrics/family.js';
import { IF_LABELS, NS_LABELS } from '../metrics/catalog/kernel.js';
import type { Snapshot } from './types.js';

// keyed by objects that live for one scrape only
const nsMemo = new WeakMap<NsSample, Labels>();
const ifMemo = new WeakMap<Link, Labels>();

export function nsLabels(snap: Snapshot, s: NsSample): Labels {
  const memo = nsMemo.get(s);
  if (memo) return memo;
  const labels = computeNsLabels(snap, s);
  nsMemo.set(s, labels);
  return labels;
}

export function ifLabels(snap: Snapshot, s: NsSample, link: Link): Labels {
  const memo = ifMemo.get(link);
  if (memo) return memo;
  const labels = computeIfLabels(snap, s, nsLabels(snap, s), link);
  ifMemo.set(link, labels);
  return labels;
}

function computeNsLabels(snap: Snapshot, s: NsSample): Labels {
  const id = snap.names.netns(s.ref);
  return snap.interner.intern(NS_LABELS, [s.ref.name, s.ref.kind, id.network ?? '', id.service ?? '', id.task ?? '']);
}

/**
 * Labels of one interface. A sandbox interface belongs to the network its MAC
 * address is attached to; an overlay bridge port takes the task of the sandbox
 * at the other end of its veth, so per-task traffic shows from the bridge side.
 */
function computeIfLabels(snap: Snapshot, s: NsSample, base: Labels, link: Link): Labels {
  let { network, service, task } = base;
  if (s.ref.kind === 'sandbox') {
    network = snap.names.networkOfSandboxInterface(s.ref, link.address) ?? network;
  } else if (link.kind === 'veth') {
    const peer = snap.peers.get(vethKey(s.ref.name, link.index));
    const peerSample = peer && snap.byNetns.get(peer.netns);
    if (peerSample && peerSample.ref.kind === 'sandbox') {
      const id = snap.names.netns(peerSample.ref);
      service = id.service ?? service;
      task = id.task ?? task;
    }
  }
  return snap.interner.intern(IF_LABELS, [base.netns!, base.netns_kind!, network!, service!, task!, link.name]);
}
