// The cache's lifecycle against an in-process API serving the captured JSON:
// refresh on events, outage handling and reconnection, deterministically and
// fast. (The same behaviour against a real dockerd: test/e2e/swarm.e2e.test.ts.)
import { basename } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerStateCache } from '../../src/docker/cache.js';
import type { DockerApi, DockerEvent, EventStream } from '../../src/docker/client.js';
import { overlayNetnsName } from '../../src/docker/resolve.js';
import type { NetnsRef } from '../../src/kernel/netns.js';
import { waitFor } from '../harness/swarm.js';
import { type Json, loadApi } from '../fixtures/docker/load.js';

const raw = loadApi('node1');
const enoent = () => Object.assign(new Error('connect ENOENT /fixture.sock'), { code: 'ENOENT' });

class FixtureApi implements DockerApi {
  readonly target = 'unix:///fixture.sock';
  /** every call fails (ENOENT), as with the daemon gone */
  down = false;
  infoJson: Json = raw.info;
  networkJson: Json[] = raw.networks;
  private readonly calls = new Map<string, number>();
  private emit?: (e: DockerEvent) => void;
  private end?: (err?: Error) => void;

  private call<T>(what: string, value: () => T): Promise<T> {
    this.calls.set(what, (this.calls.get(what) ?? 0) + 1);
    return this.down ? Promise.reject(enoent()) : Promise.resolve(value());
  }
  count(what: string) { return this.calls.get(what) ?? 0; }
  info() { return this.call('info', () => this.infoJson); }
  nodes() { return this.call('nodes', () => raw.nodes!); }
  services() { return this.call('services', () => raw.services!); }
  networks() { return this.call('networks', () => this.networkJson.map((n) => ({ Id: n.Id, Scope: n.Scope }))); }
  network(id: string) { return this.call('network', () => this.networkJson.find((n) => n.Id === id)); }
  containers() { return this.call('containers', () => raw.containers.map((c) => ({ Id: c.Id, State: c.State.Status }))); }
  container(id: string) { return this.call(`container:${id}`, () => raw.containers.find((c) => c.Id === id)); }
  async events(_filters: Record<string, string[]>, onEvent: (e: DockerEvent) => void): Promise<EventStream> {
    await this.call('events', () => undefined);
    this.emit = onEvent;
    let settle!: (e: Error | undefined) => void;
    const ended = new Promise<Error | undefined>((r) => { settle = r; });
    this.end = (err) => settle(err);
    return { ended, close: () => settle(undefined) };
  }
  send(e: DockerEvent) { this.emit?.(e); }
  /** dockerd goes away: the stream ends, every call fails */
  crash() {
    this.down = true;
    this.end?.(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  }
}
const makeApi = () => new FixtureApi();

const lines: Array<Record<string, unknown>> = [];
const logger = pino({ level: 'debug' }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
const appnet = raw.networks.find((n: Json) => n.Name === 'appnet');
const overlayRef: NetnsRef = { name: overlayNetnsName(appnet.Id), kind: 'overlay', path: null };
const caches: DockerStateCache[] = [];
const newCache = (api: DockerApi) => {
  const c = new DockerStateCache({ host: api.target, api, logger, debounceMs: 20, backoffInitialMs: 20, backoffMaxMs: 50, refreshIntervalMs: 60_000, resyncIntervalMs: 60_000 });
  caches.push(c);
  return c;
};
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.stop()));
  lines.length = 0;
});
const warnings = () => lines.filter((l) => l.component === 'docker' && l.level === 40);

describe('DockerStateCache', () => {
  it('answers synchronously before, and names everything after, the first refresh', async () => {
    const api = makeApi();
    const cache = newCache(api);
    expect(cache.names().netns(overlayRef)).toEqual({});
    expect(cache.state()).toMatchObject({ up: false, lastSuccessAt: 0 });
    cache.start();
    expect(await cache.whenSynced(5_000)).toBe(true);
    expect(cache.names().netns(overlayRef).network).toBe('appnet');
    expect(cache.state().up).toBe(true);
    expect(cache.state().state.containers).toHaveLength(raw.containers.length);
  });

  it('on an event, refreshes once (debounced) and re-inspects only the containers it names', async () => {
    const api = makeApi();
    const cache = newCache(api);
    cache.start();
    await cache.whenSynced(5_000);
    const [a, b] = raw.containers as [Json, Json];
    const before = { a: api.count(`container:${a.Id}`), b: api.count(`container:${b.Id}`), info: api.count('info') };
    for (const action of ['start', 'exec_start: sh', 'health_status: healthy']) api.send({ Type: 'container', Action: action, Actor: { ID: a.Id } });
    api.send({ Type: 'network', Action: 'connect', Actor: { ID: appnet.Id, Attributes: { container: a.Id } } });
    const gen = cache.refreshes;
    await waitFor('a refresh', () => cache.refreshes > gen, { timeoutMs: 5_000, intervalMs: 10 });
    expect(api.count('info') - before.info).toBe(1);
    expect(api.count(`container:${a.Id}`) - before.a).toBe(1);
    expect(api.count(`container:${b.Id}`) - before.b).toBe(0);
  });

  it('dockerd gone: up 0, names kept, one warning per outage, errors counted; back: reconnects', async () => {
    const api = makeApi();
    const cache = newCache(api);
    cache.start();
    await cache.whenSynced(5_000);
    api.crash();
    await waitFor('up to drop', () => !cache.state().up, { timeoutMs: 5_000, intervalMs: 10 });
    await waitFor('a few reconnect attempts', () => (cache.state().errors.get('unreachable') ?? 0) >= 3, { timeoutMs: 5_000, intervalMs: 10 });
    expect(cache.names().netns(overlayRef).network).toBe('appnet');
    expect(cache.state().errors.get('events_closed')).toBe(1);
    expect(warnings()).toHaveLength(1);
    const gen = cache.refreshes;
    api.down = false;
    await waitFor('reconnection', () => cache.state().up && cache.refreshes > gen, { timeoutMs: 5_000, intervalMs: 10 });
    expect(lines.filter((l) => l.msg === 'docker API reachable again')).toHaveLength(1);
    api.crash();
    await waitFor('second outage', () => !cache.state().up, { timeoutMs: 5_000, intervalMs: 10 });
    expect(warnings()).toHaveLength(2);
  });

  it('never reachable: up 0, empty names, one warning, keeps trying', async () => {
    const api = makeApi();
    api.down = true;
    const cache = newCache(api);
    cache.start();
    await waitFor('attempts', () => api.count('events') >= 3, { timeoutMs: 5_000, intervalMs: 10 });
    expect(cache.state().up).toBe(false);
    expect(cache.names().netns(overlayRef)).toEqual({});
    expect(warnings()).toHaveLength(1);
    api.down = false;
    expect(await cache.whenSynced(5_000)).toBe(true);
  });

  it('a daemon that leaves the swarm just before it goes away (shutdown) keeps its swarm names', async () => {
    const api = makeApi();
    const cache = newCache(api);
    cache.start();
    await cache.whenSynced(5_000);
    // what a stopping dockerd answers: swarm inactive, swarm networks and tasks gone
    api.infoJson = { ...raw.info, Swarm: { ...raw.info.Swarm, LocalNodeState: 'inactive', ControlAvailable: false, NodeID: '' } };
    api.networkJson = raw.networks.filter((n: Json) => n.Scope !== 'swarm');
    await cache.refresh(false);
    expect(cache.names().netns(overlayRef)).toEqual({});
    api.crash();
    await waitFor('up to drop', () => !cache.state().up, { timeoutMs: 5_000, intervalMs: 10 });
    expect(cache.names().netns(overlayRef).network).toBe('appnet');
    expect(cache.state().state.info.role).toBe('manager');
    const sandbox = basename(raw.containers[0].NetworkSettings.SandboxKey);
    expect(cache.names().netns({ name: sandbox, kind: 'sandbox', path: null }).container).toBe(raw.containers[0].Name.slice(1));
  });

  it('stop() ends the loop promptly, even while reconnecting', async () => {
    const api = makeApi();
    api.down = true;
    const cache = newCache(api);
    cache.start();
    await waitFor('an attempt', () => api.count('events') >= 1, { timeoutMs: 5_000, intervalMs: 10 });
    const t0 = Date.now();
    await cache.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    const attempts = api.count('events');
    await new Promise((r) => setTimeout(r, 100));
    expect(api.count('events')).toBe(attempts);
  });
});
