// A real rolling update of a VIP service whose tasks live out a stop grace period of
// minutes, watched by the real exporter and a real Prometheus with the shipped rules, in
// a guest kernel with IPVS (guest-lb-rolling.sh): the old tasks' backends drain at weight
// 0 for the whole grace period, and no load-balancer alert goes pending (the rule that
// paged on swarmnet_lb_backend_up == 0 would have, all that time).
// The exporter runs as the built dist/main.js, so the guest needs no internal API.
// Slow under TCG: dockerd's setup takes minutes, then the grace period itself.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths.js';
import { VM_DIR, type VmRun, cleanup, compileForGuest, guestResult, runVm } from '../harness/vm.js';

const GRACE_S = Number(process.env.SWARMNET_VM_GRACE_S ?? 180);
const TIMEOUT_S = Number(process.env.SWARMNET_VM_ROLLING_TIMEOUT_S ?? 1200);
const RULES_DIR = join(ROOT, 'deploy', 'prometheus', 'rules');

interface Alert { labels: Record<string, string>; state: string }
interface Series { metric: Record<string, string>; value: [number, string] }
interface Poll { t: number; ipvs: string; alerts: { data: { alerts: Alert[] } }; weight0: { data: { result: Series[] } }; oldRule: { data: { result: Series[] } } }
interface Result { grace: string; updateAt: number; doneAt: number | null; oldBackends: string; before: { data: { alerts: Alert[] } }; exporterLog: string }

let root: string | undefined;
let run: VmRun | undefined;
let r: Result;
let polls: Poll[] = [];

describe('a rolling update with a long stop grace period, in a guest kernel with IPVS', () => {
  beforeAll(async () => {
    root = await compileForGuest(['main.js']);
    run = await runVm(join(VM_DIR, 'guest-lb-rolling.sh'), [join(root, 'dist'), '/out', RULES_DIR, `${GRACE_S}s`], TIMEOUT_S);
    r = guestResult<Result>(run);
    polls = readFileSync(join(run.out, 'polls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Poll);
    const drain = polls.filter((p) => p.weight0.data.result.length > 0);
    console.log(`VM run: ${run.accel}, ${run.wallSeconds.toFixed(1)} s; update at ${r.updateAt} s, done at ${r.doneAt} s; `
      + `${polls.length} polls, backends at weight 0 in ${drain.length} of them over ${drain.length ? (drain.at(-1)!.t - drain[0]!.t).toFixed(0) : 0} s`);
  }, (TIMEOUT_S + 120) * 1000);
  afterAll(() => cleanup(root, run?.out));

  it('the update finished: the old backends are gone, two new ones serve', () => {
    expect(r.doneAt, r.exporterLog).not.toBeNull();
    expect(r.oldBackends.trim().split(/\s+/)).toHaveLength(2);
  });

  it('the old backends drained at weight 0 for most of the grace period, seen by Prometheus', () => {
    const drain = polls.filter((p) => p.weight0.data.result.length > 0);
    expect(drain.length).toBeGreaterThan(0);
    expect(drain.at(-1)!.t - drain[0]!.t).toBeGreaterThan(GRACE_S * 0.7);
    // what the old rule (swarmnet_lb_backend_up == 0, for 2m) saw: down all that time
    const oldRule = polls.filter((p) => p.oldRule.data.result.length > 0);
    expect(oldRule.at(-1)!.t - oldRule[0]!.t).toBeGreaterThan(120);
  });

  it('no load-balancer alert was pending before, during or after the update', () => {
    expect(r.before.data.alerts.filter((a) => a.labels.alertname!.startsWith('SwarmnetLb'))).toEqual([]);
    const lb = polls.flatMap((p) => p.alerts.data.alerts.filter((a) => a.labels.alertname!.startsWith('SwarmnetLb')).map((a) => `${p.t}: ${a.labels.alertname} ${a.state} ${a.labels.backend ?? ''}`));
    expect(lb).toEqual([]);
  });
});
