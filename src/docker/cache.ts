// The Docker state cache. It listens to the events stream, refreshes (debounced)
// when something relevant happens, re-reads the control plane on a short
// interval (remote tasks produce no local events) and resyncs in full on a
// long one. A scrape never waits on it: names() and state() are synchronous
// and return immutable objects swapped whole on every successful refresh.
//
// When dockerd is unreachable the last state is kept, up turns 0, one warning
// is logged per outage, and the cache reconnects by itself with backoff. The
// backoff only starts over once a connection has lasted backoffMaxMs: an events
// stream that drops right after each reconnect (each one a full resync) is
// retried ever more slowly, not hammered. Opening the events stream has the
// request timeout too (a daemon that accepts and never answers), and a daemon
// that hangs while connected is noticed by the next periodic refresh timing out.
import type { Logger } from 'pino';
import { type DockerApi, type DockerEvent, type EventStream, classifyDockerError, createDockerApi } from './client.js';
import { type ContainerEntry, fetchRawState } from './fetch.js';
import type { NameIndex } from '../names.js';
import { type TaskLabelMode, buildNameIndex } from './resolve.js';
import { type DockerState, EMPTY_STATE, type RawDockerState, parseDockerState } from './state.js';

export interface DockerCacheOptions {
  /** unix:///var/run/docker.sock, /path/to/docker.sock or tcp://host:port */
  host: string;
  logger: Logger;
  /** full resync: every container re-inspected (default 60 s) */
  resyncIntervalMs?: number;
  /** light refresh: networks' control-plane view (peers, remote tasks), changed containers (default 15 s) */
  refreshIntervalMs?: number;
  /** events are coalesced for this long before a refresh (default 250 ms) */
  debounceMs?: number;
  /** per API request (default 10 s) */
  requestTimeoutMs?: number;
  /** reconnect backoff, doubling from initial to max (default 0.5 s .. 30 s) */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** parallel inspect requests (default 8) */
  inspectConcurrency?: number;
  /**
   * containers named by events and not yet re-read (default 512): past this
   * many the ids are dropped and the next refresh is a full one, so a flood of
   * events while the API does not answer costs a bounded set, not a queue
   */
  maxPendingIds?: number;
  /** how task labels are spelled (default full task names) */
  taskLabel?: TaskLabelMode;
  /** an API other than the HTTP client for `host` (tests) */
  api?: DockerApi;
}

/** What collectors read (Snapshot.docker); the names go through Snapshot.names only. */
export interface DockerView {
  /** 1: the events stream is connected and the last refresh succeeded */
  up: boolean;
  /** the daemon address this cache talks to */
  target: string;
  /** the last state read successfully (EMPTY_STATE, fetchedAt 0, before the first) */
  state: DockerState;
  /** ms since the epoch of the last successful refresh; 0: never */
  lastSuccessAt: number;
  /** how long the last refresh took, successful or not (seconds; 0: none yet) */
  lastRefreshSeconds: number;
  /** failures since start, by reason (unreachable, timeout, api_server_error, events_closed, ...) */
  errors: ReadonlyMap<string, number>;
}

const EVENT_FILTERS = { type: ['container', 'network', 'service', 'node', 'daemon'] };
/** a swarm exit followed this soon by the daemon going away is taken for a shutdown */
const SHUTDOWN_WINDOW_MS = 30_000;
/** container actions that change what we resolve (not exec_*, health_status, attach, top...) */
const CONTAINER_ACTIONS = new Set(['create', 'start', 'restart', 'die', 'stop', 'kill', 'destroy', 'rename', 'update', 'pause', 'unpause']);

export class DockerStateCache {
  private readonly api: DockerApi;
  private readonly log: Logger;
  private readonly opts: Required<Omit<DockerCacheOptions, 'api' | 'logger' | 'host'>>;

  private current: { state: DockerState; names: NameIndex };
  private up = false;
  private lastSuccessAt = 0;
  private lastRefreshSeconds = 0;
  private readonly errors = new Map<string, number>();
  private generation = 0;

  private containers = new Map<string, ContainerEntry>();
  private lastRaw: RawDockerState | undefined;
  private dirty = new Set<string>();

  private started = false;
  private stopped = false;
  private stopSignal!: Promise<void>;
  private signalStop!: () => void;
  private loop: Promise<void> | undefined;
  private stream: EventStream | undefined;
  private timers: NodeJS.Timeout[] = [];
  private debounceTimer: NodeJS.Timeout | undefined;

  private refreshing: Promise<void> = Promise.resolve();
  private draining = false;
  private want = false;
  private wantFull = false;
  private lastRefreshError: unknown;

  private outageSince = 0;
  /** the last state read while this node was an active swarm member, and when it stopped being one */
  private lastActive: { state: DockerState; names: NameIndex } | undefined;
  private leftSwarmAt = 0;
  private waiters: Array<() => void> = [];

  constructor(options: DockerCacheOptions) {
    this.log = options.logger.child({ component: 'docker' });
    this.opts = {
      resyncIntervalMs: options.resyncIntervalMs ?? 60_000,
      refreshIntervalMs: options.refreshIntervalMs ?? 15_000,
      debounceMs: options.debounceMs ?? 250,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      backoffInitialMs: options.backoffInitialMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
      inspectConcurrency: options.inspectConcurrency ?? 8,
      maxPendingIds: options.maxPendingIds ?? 512,
      taskLabel: options.taskLabel ?? 'full',
    };
    this.api = options.api ?? createDockerApi(options.host, { timeoutMs: this.opts.requestTimeoutMs });
    this.current = { state: EMPTY_STATE, names: buildNameIndex(EMPTY_STATE, { taskLabel: this.opts.taskLabel }) };
    this.resetStopSignal();
  }

  /** Begin connecting in the background; never throws, never waits on dockerd. */
  start(): void {
    if (this.started && !this.stopped) return;
    this.started = true;
    this.stopped = false;
    this.resetStopSignal();
    this.timers.push(
      setInterval(() => { if (this.up) void this.schedule(true); }, this.opts.resyncIntervalMs),
      setInterval(() => { if (this.up) void this.schedule(false); }, this.opts.refreshIntervalMs),
    );
    for (const t of this.timers) t.unref();
    this.loop = this.run();
  }

  /** Stop listening and refreshing; the last state stays readable. */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.stopped = true;
    this.signalStop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.stream?.close();
    await this.loop;
    this.setUp(false);
  }

  /** The current name index (synchronous; immutable, swapped on refresh). */
  names(): NameIndex {
    return this.current.names;
  }

  /** What collectors read: the last state, whether dockerd answers, error counts. */
  state(): DockerView {
    return {
      up: this.up,
      target: this.api.target,
      state: this.current.state,
      lastSuccessAt: this.lastSuccessAt,
      lastRefreshSeconds: this.lastRefreshSeconds,
      errors: new Map(this.errors),
    };
  }

  /** What waits inside the cache: container ids named by events and not yet re-read, whenSynced() callers. */
  pending(): { ids: number; waiters: number } {
    return { ids: this.dirty.size, waiters: this.waiters.length };
  }

  /** Number of successful refreshes so far (tests wait on it). */
  get refreshes(): number {
    return this.generation;
  }

  /** Resolves true once connected with a successful refresh behind it, false after timeoutMs. */
  whenSynced(timeoutMs: number): Promise<boolean> {
    if (this.generation > 0 && this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = () => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => {
        // a caller that gave up must not stay queued for the whole outage
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Refresh now and wait for it; rejects with the API error if it failed. */
  async refresh(full = true): Promise<void> {
    await this.schedule(full);
    if (this.lastRefreshError) throw this.lastRefreshError;
  }

  // ---- internals

  private resetStopSignal() {
    this.stopSignal = new Promise((resolve) => { this.signalStop = resolve; });
  }

  private countError(reason: string) {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }

  private setUp(up: boolean, err?: unknown) {
    if (up) {
      if (this.outageSince) {
        this.log.info({ target: this.api.target, downSeconds: Math.round((Date.now() - this.outageSince) / 100) / 10 }, 'docker API reachable again');
      } else if (!this.up) {
        this.log.info({ target: this.api.target }, 'docker API connected');
      }
      this.outageSince = 0;
    } else if (!this.outageSince && !this.stopped) {
      // once per outage; the errors counter tells how many attempts failed
      this.outageSince = Date.now();
      // a stopping dockerd leaves the swarm (and drops its swarm networks) before it
      // stops answering: keep the names it had while it served, not that last gasp
      if (this.lastActive && this.leftSwarmAt && this.outageSince - this.leftSwarmAt <= SHUTDOWN_WINDOW_MS && this.current !== this.lastActive) {
        this.current = this.lastActive;
        this.log.info({ leftSwarmSecondsBefore: (this.outageSince - this.leftSwarmAt) / 1000 }, 'docker left the swarm just before going away (shutdown): keeping the names from before');
      }
      this.log.warn({ target: this.api.target, err: (err as Error)?.message ?? String(err), reason: classifyDockerError(err) },
        this.generation > 0 ? 'docker API unreachable; keeping the last known names until it answers again' : 'docker API unreachable; no swarm names until it answers');
    }
    this.up = up;
  }

  private async run(): Promise<void> {
    let backoff = this.opts.backoffInitialMs;
    while (!this.stopped) {
      let stream: EventStream | undefined;
      let failure: unknown;
      let connectedAt = 0;
      try {
        // stop() does not wait for a daemon that is slow to answer
        const opening = this.api.events(EVENT_FILTERS, (e) => this.onEvent(e));
        stream = await Promise.race([opening, this.stopSignal.then(() => undefined)]);
        if (this.stopped || !stream) {
          opening.then((s) => s.close(), () => undefined);
          break;
        }
        // listen first, then read: nothing that happens in between is lost
        await Promise.race([this.schedule(true), this.stopSignal]);
        if (this.stopped) break;
        if (this.lastRefreshError) throw this.lastRefreshError;
        // from here on, a failed refresh closes the stream (see drain)
        this.stream = stream;
        this.setUp(true);
        for (const w of this.waiters.splice(0)) w();
        connectedAt = Date.now();
        const ended = await Promise.race([stream.ended, this.stopSignal.then(() => undefined)]);
        if (this.stopped) break;
        failure = this.lastRefreshError ?? ended ?? Object.assign(new Error('events stream closed by dockerd'), { code: 'ECONNRESET' });
        if (!this.lastRefreshError) this.countError('events_closed');
      } catch (err) {
        failure = err;
        this.countError(classifyDockerError(err));
      } finally {
        stream?.close();
        this.stream = undefined;
      }
      if (this.stopped) break;
      // a connection that held starts the backoff over; one that dropped at once does not
      if (connectedAt && Date.now() - connectedAt >= this.opts.backoffMaxMs) backoff = this.opts.backoffInitialMs;
      this.setUp(false, failure);
      this.log.debug({ err: (failure as Error)?.message, retryMs: backoff }, 'docker: reconnecting');
      await Promise.race([new Promise((r) => setTimeout(r, backoff).unref()), this.stopSignal]);
      backoff = Math.min(backoff * 2, this.opts.backoffMaxMs);
    }
  }

  private onEvent(e: DockerEvent) {
    const action = e.Action ?? '';
    switch (e.Type) {
      case 'container':
        if (!CONTAINER_ACTIONS.has(action)) return;
        if (e.Actor?.ID) this.dirty.add(e.Actor.ID);
        break;
      case 'network': {
        const container = e.Actor?.Attributes?.container;
        if (container) this.dirty.add(container);
        break;
      }
      case 'service':
      case 'node':
      case 'daemon':
        break;
      default:
        return;
    }
    if (this.dirty.size > this.opts.maxPendingIds) {
      // too many to re-read one by one (an event flood while the API does not answer): re-read everything once
      this.dirty.clear();
      this.wantFull = true;
    }
    if (this.debounceTimer) return; // the pending refresh will see this one too
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.schedule(false);
    }, this.opts.debounceMs);
    this.debounceTimer.unref();
  }

  /** Queue a refresh; refreshes never overlap, requests made meanwhile are merged into the next. */
  private schedule(full: boolean): Promise<void> {
    this.want = true;
    this.wantFull ||= full;
    // `draining` drops in the same tick the loop sees no more work: no request is lost
    if (!this.draining) {
      this.draining = true;
      this.refreshing = this.drain();
    }
    return this.refreshing;
  }

  /** Every exit clears `draining` in the same tick as its last look at `want`. */
  private async drain(): Promise<void> {
    while (this.want && !this.stopped) {
      const full = this.wantFull;
      this.want = false;
      this.wantFull = false;
      const dirty = this.dirty;
      this.dirty = new Set();
      const started = performance.now();
      try {
        const { raw, containers } = await fetchRawState(this.api, {
          full, previous: this.containers, dirty, concurrency: this.opts.inspectConcurrency, previousRaw: this.lastRaw,
          onSoftError: (what, err) => {
            this.countError(classifyDockerError(err));
            this.log.debug({ err: (err as Error)?.message }, `docker: reading ${what} failed; keeping the previous list`);
          },
        });
        const state = parseDockerState(raw, Date.now());
        this.current = { state, names: buildNameIndex(state, { taskLabel: this.opts.taskLabel }) };
        if (state.info.swarmState === 'active') {
          this.lastActive = this.current;
          this.leftSwarmAt = 0;
        } else if (this.lastActive && !this.leftSwarmAt) {
          this.leftSwarmAt = Date.now();
        }
        this.containers = containers;
        this.lastRaw = raw;
        this.lastSuccessAt = state.fetchedAt;
        this.lastRefreshError = undefined;
        this.generation++;
        this.lastRefreshSeconds = (performance.now() - started) / 1000;
      } catch (err) {
        this.lastRefreshSeconds = (performance.now() - started) / 1000;
        // what this refresh should have re-read is still owed: the next one reads it (in full past the bound)
        if (full || this.dirty.size + dirty.size > this.opts.maxPendingIds) {
          this.dirty.clear();
          this.wantFull = true;
        } else {
          for (const id of dirty) this.dirty.add(id);
        }
        this.lastRefreshError = err;
        if (this.stream) {
          // an API failure while connected: count it and go through the reconnect path
          this.countError(classifyDockerError(err));
          this.stream.close();
        }
        this.draining = false;
        return;
      }
    }
    this.draining = false;
  }
}
