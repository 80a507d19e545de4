// The overlay path prober: off the scrape path, one round every interval. A
// round plans from the Docker state cache and the namespace files (plan.ts),
// then, one network after another (so at most one libuv pool thread waits on
// replies at a time), reads the MTU of the network's VXLAN device and probes
// every peer node's endpoint from the network's source namespace (round.ts).
// The results are cached; the collector only reads the cache.
import type { Logger } from 'pino';
import type { DockerView } from '../docker/cache.js';
import type { IcmpProbes, NetlinkSessions } from '../kernel/native.js';
import { type NetnsRef, discoverNetns } from '../kernel/netns.js';
import { linksReader } from '../kernel/readers/links.js';
import { messagesOf } from '../kernel/readers/types.js';
import { decodeLinks } from '../kernel/rtnl/link.js';
import { classifyError, classifyNativeError, withSession } from '../kernel/session.js';
import { type ProbePlan, type ProbeTarget, planProbes } from './plan.js';
import { ProbeSocketError, type TargetOutcome, probeTargets } from './round.js';

export interface PeerResult extends ProbeTarget, TargetOutcome {}

export interface NetworkRound {
  networkId: string;
  network: string;
  /** the namespace that sent the probes */
  netns: string;
  /** IP bytes of the full-size probe: the MTU of the network's VXLAN device */
  mtuBytes: number;
  /** ms since the epoch when this network's probes ended */
  finishedAt: number;
  peers: PeerResult[];
}

/** Where failures go: the scraper's ledger (swarmnet_exporter_errors_total, logged once per subject). */
export interface ErrorSink {
  record(source: string, reason: string, subject: string, message: string): void;
  recovered(source: string, reason: string, subject: string): void;
}

export interface ProberOptions {
  native: NetlinkSessions & IcmpProbes;
  docker: { state(): DockerView };
  netnsDirs: string[];
  intervalMs: number;
  /** how long one network's probes wait for replies */
  timeoutMs: number;
  /** small probes per peer per round */
  count: number;
  errors: ErrorSink;
  log: Logger;
  /** networks (by name) to probe (--network.include / --network.exclude); default all */
  networkFilter?: (network: string) => boolean;
}

/** targets per probe() call: the addon takes 512 packets (count + 1 each) */
const TARGETS_PER_CALL = 64;
const SOURCE = 'probe';
const REASONS = ['permission', 'vanished', 'timeout', 'syscall', 'decode', 'netlink', 'no_mtu', 'no_source', 'no_control_plane_view'] as const;

export class OverlayProber {
  private cache = new Map<string, NetworkRound>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private round = 0;
  private stopped = false;

  constructor(private readonly opts: ProberOptions) {}

  /** the last round of every network probed in the last round */
  results(): NetworkRound[] {
    return [...this.cache.values()];
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.runRound().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round over every overlay network of this node; never throws. */
  async runRound(): Promise<void> {
    const round = ++this.round;
    const started = performance.now();
    try {
      const state = this.opts.docker.state().state;
      const { namespaces } = await discoverNetns(this.opts.netnsDirs, false);
      const wanted = this.opts.networkFilter ?? (() => true);
      const planned = planProbes(state, namespaces);
      const plans = planned.plans.filter((p) => wanted(p.network));
      const skipped = planned.skipped.filter((s) => wanted(s.network));
      for (const s of skipped) {
        this.opts.errors.record(SOURCE, s.reason, s.network, s.reason === 'no_source'
          ? `overlay probes: network ${s.network} has no lb_ endpoint, ingress_sbox or attached container on this node to send from`
          : `overlay probes: network ${s.network}: no control plane view (verbose network inspect) to find peers in`);
      }
      const next = new Map<string, NetworkRound>();
      for (const plan of plans) {
        this.opts.errors.recovered(SOURCE, 'no_source', plan.network);
        this.opts.errors.recovered(SOURCE, 'no_control_plane_view', plan.network);
        // a round never runs into the next one: what is left waits for it
        if (performance.now() - started > this.opts.intervalMs) {
          const kept = this.cache.get(plan.networkId);
          if (kept) next.set(plan.networkId, kept);
          continue;
        }
        const result = await this.probeNetwork(plan, round);
        if (result) next.set(plan.networkId, result);
      }
      this.cache = next;
    } catch (err) {
      this.opts.errors.record(SOURCE, 'round', 'round', `overlay probe round failed: ${(err as Error).stack ?? err}`);
    }
    this.opts.log.debug({ round, networks: this.cache.size, seconds: (performance.now() - started) / 1000 }, 'overlay probe round');
  }

  private async probeNetwork(plan: ProbePlan, round: number): Promise<NetworkRound | undefined> {
    // no peer node with an endpoint: nothing to send, no namespace to enter
    if (plan.targets.length === 0) return { networkId: plan.networkId, network: plan.network, netns: plan.source.name, mtuBytes: 0, finishedAt: Date.now(), peers: [] };
    const mtu = await this.overlayMtu(plan);
    if (mtu === undefined) return undefined;
    const peers: PeerResult[] = [];
    try {
      for (let i = 0; i < plan.targets.length; i += TARGETS_PER_CALL) {
        const batch = plan.targets.slice(i, i + TARGETS_PER_CALL);
        const { targets } = await probeTargets(this.opts.native, plan.source.path, batch.map((t) => t.endpointIp),
          { count: this.opts.count, fullSizeBytes: mtu, timeoutMs: this.opts.timeoutMs, round });
        batch.forEach((t, j) => peers.push({ ...t, ...targets[j]! }));
      }
    } catch (err) {
      if (!(err instanceof ProbeSocketError)) throw err;
      const reason = classifyNativeError(err.native);
      this.opts.errors.record(SOURCE, reason, plan.source.name, `overlay probes of network ${plan.network} from ${plan.source.name}: ${err.message}`);
      return undefined;
    }
    for (const reason of REASONS) this.opts.errors.recovered(SOURCE, reason, plan.source.name);
    return { networkId: plan.networkId, network: plan.network, netns: plan.source.name, mtuBytes: mtu, finishedAt: Date.now(), peers };
  }

  /** The MTU of the network's VXLAN device (found by link kind) in its overlay namespace. */
  private async overlayMtu(plan: ProbePlan): Promise<number | undefined> {
    const ref: NetnsRef | undefined = plan.overlay;
    if (!ref) return undefined;
    try {
      const links = await withSession(this.opts.native, ref, [linksReader.protocol], this.opts.timeoutMs, async (s) =>
        decodeLinks(messagesOf((await s.exchange(linksReader.requests(ref)))[0], 'RTM_GETLINK')));
      const mtu = links.find((l) => l.kind === 'vxlan')?.mtu;
      if (mtu === undefined) {
        this.opts.errors.record(SOURCE, 'no_mtu', ref.name, `overlay probes of network ${plan.network}: no VXLAN device in ${ref.name} to take the MTU from`);
        return undefined;
      }
      this.opts.errors.recovered(SOURCE, 'no_mtu', ref.name);
      return mtu;
    } catch (err) {
      const e = classifyError(err);
      this.opts.errors.record(SOURCE, e.reason, ref.name, `overlay probes of network ${plan.network}: reading the MTU: ${e.message}`);
      return undefined;
    }
  }
}
