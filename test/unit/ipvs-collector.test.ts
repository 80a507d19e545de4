// The IPVS collector over decoded fixture replies (test/fixtures/ipvs): what it
// says when IPVS is absent or unread, and how it labels from the kernel alone.
// The VM test checks it against live numbers and a control-plane view.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ipvsCollector } from '../../src/collectors/ipvs.js';
import { NoDataError, type Snapshot } from '../../src/collectors/types.js';
import { decodeFamily } from '../../src/kernel/genl/ctrl.js';
import { type IpvsServiceKey, decodeDests, decodeServices, serviceKey } from '../../src/kernel/genl/ipvs.js';
import type { IpvsNsResult, IpvsStatus } from '../../src/kernel/readers/ipvs.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { parseReply } from '../../src/kernel/nl/message.js';
import type { NsSample } from '../../src/kernel/readers/types.js';
import { FamilySet } from '../../src/metrics/family.js';
import { renderPrometheus } from '../../src/metrics/render.js';
import { EMPTY_NAMES, type NameIndex } from '../../src/names.js';
import { sampleOf, snapshotOf } from '../support/snapshot.js';
import { parseProm } from '../helpers/prom.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'ipvs');
const bin = (n: string) => new Uint8Array(readFileSync(join(dir, `${n}.bin`)));
const reply = (n: string) => ({
  seq: Number(readFileSync(join(dir, `${n}.seq`), 'utf8')),
  port: Number(readFileSync(join(dir, `${n}.port`), 'utf8')),
});
const family = decodeFamily(parseReply(bin('family'), reply('family'), 'f')).id;
const keys = JSON.parse(readFileSync(join(dir, 'dests-keys.json'), 'utf8')) as IpvsServiceKey[];
const table: IpvsNsResult = {
  available: true,
  services: decodeServices(parseReply(bin('services'), reply('services'), 's'), family).map((s) => {
    const i = keys.findIndex((k) => JSON.stringify(k) === JSON.stringify(serviceKey(s)));
    return { ...s, destinations: decodeDests(parseReply(bin(`dests-${i}`), reply(`dests-${i}`), 'd'), family, s.af) };
  }),
};

const sample = (ref: NetnsRef, ipvs?: IpvsNsResult): NsSample => sampleOf(ref, { ipvs });
const snapshot = (samples: NsSample[], status?: IpvsStatus): Snapshot => snapshotOf(samples, { kernel: status ? { ipvs: status } : {} });
const collect = (snap: Snapshot) => {
  const out = new FamilySet();
  ipvsCollector.collect(snap, out);
  return parseProm(renderPrometheus(out.all()).toString('utf8'));
};
const lb: NetnsRef = { name: 'lb_abc', kind: 'lb', path: '/run/docker/netns/lb_abc' };

describe('ipvs collector', () => {
  it('without IPVS says so, and nothing else', () => {
    const got = collect(snapshot([sample(lb, { available: false, services: [] })]));
    expect(got).toEqual([{ name: 'swarmnet_ipvs_up', labels: {}, value: 0 }]);
  });

  it("takes the reader's status when the scrape carries it, even with no load-balancer namespace", () => {
    expect(collect(snapshot([], { available: true, familyId: family }))).toEqual([{ name: 'swarmnet_ipvs_up', labels: {}, value: 1 }]);
    expect(collect(snapshot([], { available: false }))).toEqual([{ name: 'swarmnet_ipvs_up', labels: {}, value: 0 }]);
  });

  it('has no data when IPVS was not read at all', () => {
    expect(() => collect(snapshot([sample({ name: 'host', kind: 'host', path: null })]))).toThrow(NoDataError);
  });

  it('labels services and backends from the kernel alone with a plain name index', () => {
    const got = collect(snapshot([sample(lb, table)]));
    const conns = got.filter((s) => s.name === 'swarmnet_lb_service_connections_total');
    expect(conns).toHaveLength(table.services.length);
    const fwm = conns.find((s) => s.labels.fwmark === '257')!;
    expect(fwm.labels).toEqual({ netns: 'lb_abc', netns_kind: 'lb', network: '', service: '', task: '', vip: '', fwmark: '257', protocol: '', port: '', scheduler: 'lc' });
    const udp = conns.find((s) => s.labels.protocol === 'udp')!;
    expect(udp.labels).toMatchObject({ vip: '203.0.113.10', port: '53', fwmark: '', scheduler: 'wrr' });
    const backends = got.filter((s) => s.name === 'swarmnet_lb_backend_weight');
    expect(backends).toHaveLength(table.services.reduce((n, s) => n + s.destinations.length, 0));
    expect(backends.map((b) => b.labels.backend)).toContain('198.51.100.22:0');
    expect(got.some((s) => s.name === 'swarmnet_lb_backend_up' || s.name === 'swarmnet_lb_service_missing_backends')).toBe(false);
    expect(got.find((s) => s.name === 'swarmnet_ipvs_up')!.value).toBe(1);
  });

  it('judges no backend where the control plane knows no service (Docker unreachable or the network unseen)', () => {
    const names: NameIndex = { ...EMPTY_NAMES, lbServices: () => new Map(), taskOfEndpoint: () => undefined };
    const got = collect({ ...snapshot([sample(lb, table)]), names });
    expect(got.filter((s) => s.name === 'swarmnet_lb_backend_weight').length).toBeGreaterThan(0);
    expect(got.some((s) => s.name === 'swarmnet_lb_backend_up' || s.name === 'swarmnet_lb_service_missing_backends')).toBe(false);
  });
});
