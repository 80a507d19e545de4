// Fuzzing the Docker API conversion: parseDockerState never throws, whatever
// JSON dockerd (or something in its place) answers, and what it returns is
// typed as promised (strings, finite numbers, booleans, VNIs that are VNIs);
// the name index built from it answers every lookup without throwing.
import { describe, expect, test } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { type DockerState, type RawDockerState, parseDockerState, parseInfo } from '../../src/docker/state.js';
import { buildNameIndex, lbNetnsName, overlayNetnsName } from '../../src/docker/resolve.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { loadApi } from '../fixtures/docker/load.js';
import { TIMEOUT, runs } from './runs.js';
import { type Json, applyJsonMutations, dockerish, jsonMutation, oddValue } from './json-mutate.js';
import { show } from './invariants.js';

function fail(what: string, value: unknown): never {
  throw new Error(`${what}: ${show(value)}`);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function strings(o: object, keys: string[], what: string): void {
  for (const k of keys) if (!isStr((o as Record<string, unknown>)[k])) fail(`${what}.${k} is not a string`, o);
}

/** Every field of a parsed state has the type it is declared with; entries without an id were dropped. */
function checkState(s: DockerState, fetchedAt: number): void {
  if (s.fetchedAt !== fetchedAt) fail('fetchedAt', s.fetchedAt);
  strings(s.info, ['nodeId', 'hostname', 'engineVersion', 'role', 'nodeAddr', 'swarmState'], 'info');
  if (!['', 'manager', 'worker'].includes(s.info.role)) fail('info.role', s.info.role);
  for (const n of s.nodes) {
    strings(n, ['id', 'hostname', 'address', 'role', 'state', 'availability'], 'node');
    if (n.id === '' || typeof n.leader !== 'boolean') fail('node', n);
  }
  for (const sv of s.services) {
    strings(sv, ['id', 'name'], 'service');
    if (sv.id === '') fail('service without id', sv);
    for (const p of sv.ports) {
      strings(p, ['protocol', 'publishMode'], 'service port');
      if (p.protocol === '' || !isNum(p.published) || !isNum(p.target)) fail('service port', p);
    }
  }
  for (const n of s.networks) {
    strings(n, ['id', 'name', 'driver', 'scope'], 'network');
    if (n.id === '') fail('network without id', n);
    for (const k of ['ingress', 'attachable', 'internal', 'verbose'] as const) if (typeof n[k] !== 'boolean') fail(`network.${k}`, n);
    for (const sub of n.subnets) {
      strings(sub, ['subnet', 'gateway'], 'subnet');
      if (sub.vni !== undefined && !(Number.isInteger(sub.vni) && sub.vni >= 0 && sub.vni < 2 ** 24)) fail('subnet.vni is not a VNI', sub);
    }
    for (const p of n.peers) {
      strings(p, ['name', 'ip'], 'peer');
      if (p.ip === '') fail('peer without ip', p);
    }
    for (const e of n.endpoints) strings(e, ['key', 'name', 'endpointId', 'mac', 'ipv4'], 'endpoint');
    for (const cs of n.services) {
      strings(cs, ['name', 'vip'], 'control service');
      if (!isNum(cs.localLbIndex) || !cs.ports.every((p) => isStr(p) && p !== '')) fail('control service', cs);
      for (const t of cs.tasks) strings(t, ['name', 'endpointId', 'endpointIp', 'hostIp'], 'control task');
    }
  }
  for (const c of s.containers) {
    strings(c, ['id', 'name', 'sandboxId', 'sandboxKey', 'service', 'serviceId', 'task', 'taskId', 'nodeId', 'stack'], 'container');
    if (c.id === '' || typeof c.running !== 'boolean') fail('container', c);
    for (const n of c.networks) strings(n, ['network', 'networkId', 'endpointId', 'mac', 'ip'], 'container network');
  }
}

/** Build the name index and ask it about every namespace, MAC and IP the state mentions. */
function checkNames(s: DockerState): void {
  for (const taskLabel of ['full', 'slot'] as const) {
    const names = buildNameIndex(s, { taskLabel });
    const refs: NetnsRef[] = [{ name: 'ingress_sbox', kind: 'ingress_sbox', path: null }, { name: 'host', kind: 'host', path: null }];
    for (const n of s.networks) {
      refs.push({ name: overlayNetnsName(n.id), kind: 'overlay', path: null }, { name: lbNetnsName(n.id), kind: 'lb', path: `/run/docker/netns/${lbNetnsName(n.id)}` });
    }
    for (const c of s.containers) refs.push({ name: c.sandboxKey.split('/').pop() || c.sandboxId.slice(0, 12), kind: 'sandbox', path: null });
    const macs = [...s.containers.flatMap((c) => c.networks.map((n) => n.mac)), ...s.networks.flatMap((n) => n.endpoints.map((e) => e.mac)), undefined];
    const ips = [...s.containers.flatMap((c) => c.networks.map((n) => n.ip)), ...s.networks.flatMap((n) => n.services.flatMap((x) => x.tasks.map((t) => t.endpointIp)))];
    for (const ref of refs) {
      for (const [k, v] of Object.entries(names.netns(ref))) if (!isStr(v)) fail(`netns identity ${k}`, v);
      for (const mac of macs) {
        const net = names.networkOfSandboxInterface(ref, mac);
        if (net !== undefined && !isStr(net)) fail('network of interface', net);
      }
      for (const [fwmark, svc] of names.lbServices(ref)) {
        if (svc.fwmark !== fwmark || !isNum(fwmark) || fwmark <= 0) fail('lb service fwmark', svc);
        strings(svc, ['service'], 'lb service');
        if (!svc.ports.every(isStr) || !svc.tasks.every((t) => isStr(t.task) && isStr(t.endpointIp))) fail('lb service', svc);
      }
      for (const ip of ips) {
        const owner = names.taskOfEndpoint(ref, ip);
        if (owner && !(isStr(owner.task) && isStr(owner.service) && typeof owner.running === 'boolean')) fail('endpoint owner', owner);
      }
      names.networkOf(ref);
    }
  }
}

function parseChecked(raw: unknown): void {
  const s = parseDockerState(raw as RawDockerState, 1234);
  checkState(s, 1234);
  checkNames(s);
}

const captures = (['node1', 'node2'] as const).map((n) => ({ node: n, api: loadApi(n) as unknown as Json }));
const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;
const anyList = fc.oneof(fc.array(fc.oneof(json, oddValue), { maxLength: 4 }), oddValue);

describe('Docker state fuzz', () => {
  it.prop([json], runs())('parseDockerState over any JSON value never throws', (raw) => {
    parseChecked(raw);
  }, TIMEOUT);

  it.prop([fc.record({ info: fc.oneof(json, oddValue), nodes: anyList, services: anyList, networks: anyList, containers: anyList })], runs())(
    'parseDockerState over answers of any shape never throws', (raw) => {
      parseChecked(raw);
    }, TIMEOUT);

  it.prop([fc.record({ info: dockerish, nodes: fc.array(dockerish, { maxLength: 3 }), services: fc.array(dockerish, { maxLength: 3 }),
    networks: fc.array(dockerish, { maxLength: 4 }), containers: fc.array(dockerish, { maxLength: 4 }) })], runs())(
    'parseDockerState over documents shaped like the API\'s never throws, fields keep their types', (raw) => {
      parseChecked(raw);
    }, TIMEOUT);

  const vniList = fc.oneof(fc.array(fc.oneof(fc.integer({ min: -2, max: 2 ** 24 }).map(String), fc.constantFrom('abc', '1.5', ' ', '1e3', '-0', '99999999999999999999')),
    { maxLength: 3 }).map((xs) => xs.join(',')), fc.string({ maxLength: 8 }));
  const network = fc.record({
    Id: fc.constantFrom('n1', 'abcdef0123456789'),
    Driver: fc.constant('overlay'),
    Options: fc.oneof(vniList.map((v) => ({ 'com.docker.network.driver.overlay.vxlanid_list': v })), oddValue),
    IPAM: fc.oneof(fc.constant(undefined), oddValue, fc.record({ Config: fc.array(fc.oneof(fc.record({ Subnet: fc.constant('10.0.0.0/24') }), oddValue), { maxLength: 3 }) })),
  }, { requiredKeys: ['Id', 'Driver', 'Options'] });
  it.prop([fc.array(network, { minLength: 1, maxLength: 3 })], runs())('overlay networks with any VNI list: every subnet VNI is a VNI or absent', (networks) => {
    parseChecked({ info: {}, nodes: null, services: null, networks, containers: [] });
  }, TIMEOUT);

  it.prop([fc.oneof(json, oddValue)], runs(0.5))('parseInfo over any JSON value: six strings', (raw) => {
    const info = parseInfo(raw);
    expect(Object.values(info).every(isStr)).toBe(true);
  }, TIMEOUT);

  describe.each(captures)('captured state of $node', ({ api }) => {
    test('parses as captured', () => {
      parseChecked(api);
    });

    it.prop([fc.array(jsonMutation, { minLength: 1, maxLength: 8 })], runs())('mutated: never throws, fields keep their types', (ms) => {
      parseChecked(applyJsonMutations(api, ms));
    }, TIMEOUT);
  });
});
