// The exporter's flags: their table, and their translation into options.
import { allCollectors } from './collectors/index.js';
import type { Collector } from './collectors/types.js';
import { DurationError, parseDuration } from './duration.js';
import { FlagError, type FlagDef, type FlagValue, helpText, parseFlags } from './flags.js';
import { LOG_FORMATS, type LogFormat } from './log.js';
import { NETNS_KINDS, type NetnsKind, type NetnsRef } from './kernel/netns.js';

export const DEFAULT_PORT = 9477;

export function flagDefs(): FlagDef[] {
  return [
    { name: 'web.listen-address', type: 'string', default: `:${DEFAULT_PORT}`, placeholder: '[HOST]:PORT', help: 'Address to listen on for /metrics, /healthz and the landing page.' },
    { name: 'web.config.file', type: 'string', default: '', placeholder: 'PATH', help: 'Exporter-toolkit web config file (YAML) enabling TLS and/or basic auth.' },
    { name: 'web.disable-compression', type: 'bool', default: false, help: 'Never gzip /metrics, even when the request accepts it (Prometheus always does); the exposition is then about ten times larger on the wire.' },
    { name: 'netns.dir', type: 'list', default: ['/var/run/docker/netns'], placeholder: 'DIR', help: 'Directory of network namespace files to sample; repeat the flag for several (e.g. /var/run/netns). Repeating replaces the default.' },
    { name: 'netns.host', type: 'string', default: 'self', placeholder: 'self|none|PATH', help: 'Namespace reported as netns="host": "self" is the exporter\'s own (the host\'s when it runs with the host network), a path (e.g. /proc/1/ns/net with pid: host), or "none".' },
    { name: 'netns.kinds', type: 'list', default: [...NETNS_KINDS], placeholder: 'KIND', help: `Namespace kinds to sample (${NETNS_KINDS.join(', ')}); repeatable.` },
    { name: 'netns.exclude', type: 'string', default: '', placeholder: 'REGEX', help: 'Namespaces whose file name matches are not sampled.' },
    { name: 'interface.exclude', type: 'string', default: '^lo$', placeholder: 'REGEX', help: 'Interfaces whose name matches are left out of the output; the loopback of every sandbox by default (set it empty to keep them).' },
    { name: 'network.include', type: 'string', default: '', placeholder: 'REGEX', help: 'Only series of these swarm networks (by name) are kept; namespaces that resolve to no network are kept.' },
    { name: 'network.exclude', type: 'string', default: '', placeholder: 'REGEX', help: 'Series of these swarm networks (by name) are dropped.' },
    { name: 'scrape.timeout', type: 'string', default: '10s', placeholder: 'DURATION', help: 'Upper bound of one collection; Prometheus\' X-Prometheus-Scrape-Timeout-Seconds shortens it.' },
    { name: 'netns.watch', type: 'bool', default: true, help: 'Keep one netlink socket per namespace subscribed to its link and FDB changes: a namespace whose links did not change since its last full link dump has only its counters read (RTM_GETSTATS), and one whose FDB did not change is not dumped again; together about two thirds of the kernel time of a scrape. A socket keeps its namespace alive, so each is closed the moment its namespace file is removed, and within a second of its unmounting (Docker unmounts first). --no-netns.watch: full dumps of every namespace on every scrape, no socket kept between scrapes.' },
    { name: 'scrape.concurrency', type: 'string', default: '2', placeholder: 'N', help: 'Namespaces read at the same time (kernel dumps serialise on RTNL; more rarely helps).' },
    { name: 'docker.host', type: 'string', default: 'unix:///var/run/docker.sock', placeholder: 'URL', help: 'Docker Engine API endpoint for swarm names (unix:///path or tcp://host:port).' },
    { name: 'docker.resync-interval', type: 'string', default: '60s', placeholder: 'DURATION', help: 'Full resynchronisation of the Docker state cache, on top of the events stream.' },
    { name: 'docker.refresh-interval', type: 'string', default: '15s', placeholder: 'DURATION', help: 'Light refresh of networks and the control plane view (peers, services, tasks on other nodes), which produce no local events.' },
    { name: 'docker.timeout', type: 'string', default: '10s', placeholder: 'DURATION', help: 'Timeout of one Docker API request.' },
    { name: 'docker.task-label', type: 'string', default: 'full', placeholder: 'full|slot', help: 'How the task label is spelled: full task name (<service>.<slot>.<task id>), or slot (<service>.<slot>, global: <service>.<node id>) so a replacement task continues its predecessor\'s series.' },
    { name: 'log.level', type: 'string', default: 'info', placeholder: 'LEVEL', help: 'Log level: debug, info, warn, error.' },
    { name: 'log.format', type: 'string', default: 'json', placeholder: 'json|logfmt', help: `Log format: ${LOG_FORMATS.join(' or ')} (logfmt as the Go exporters write it: ts=... level=info msg="...").` },
    { name: 'collector.overlay.max-endpoint-series', type: 'string', default: '100', placeholder: 'N', help: 'Upper bound of per-endpoint layer-2 inconsistency series per scrape (the per-network counts are always complete).' },
    { name: 'collector.ipvs.netns-kinds', type: 'list', default: ['lb', 'ingress_sbox'], placeholder: 'KIND', help: 'Namespace kinds where IPVS services and backends are read; repeatable (swarm programs IPVS only in lb and ingress_sbox).' },
    { name: 'collector.udp.ports', type: 'list', default: ['4789'], placeholder: 'PORT', help: 'UDP ports whose sockets the udp collector reports (queue, buffer, drops): the VXLAN port, and the swarm\'s data-path port if it was changed (docker swarm init --data-path-port); repeatable. Ports of the VXLAN devices the exporter sees are added.' },
    { name: 'collector.netdev.extended-stats', type: 'bool', default: false, help: 'Also export the physical-layer interface error counters (length, CRC, frame, FIFO-less aborts, heartbeat, window, collisions, nohandler, otherhost): 9 more series per interface.' },
    { name: 'probe.overlay', type: 'bool', default: false, help: 'Probe every overlay network\'s path to each peer node: ICMP echo from a namespace of this node on the network (its lb_ endpoint, ingress_sbox, or a task sandbox) to one task endpoint on every peer node, count small probes and one full-size probe at the overlay MTU with DF, every interval, off the scrape path (the scrape reads the last round). Needs CAP_NET_RAW, or the exporter\'s group in net.ipv4.ping_group_range of those namespaces.' },
    { name: 'probe.overlay.interval', type: 'string', default: '15s', placeholder: 'DURATION', help: 'Time between two probe rounds (a round never overlaps the next).' },
    { name: 'probe.overlay.timeout', type: 'string', default: '1s', placeholder: 'DURATION', help: 'How long one network\'s probes wait for replies (networks are probed one after another); under the interval.' },
    { name: 'probe.overlay.count', type: 'string', default: '3', placeholder: 'N', help: 'Small probes per peer node per round (1 to 100), on top of the one full-size probe.' },
    ...allCollectors().map((c): FlagDef => ({ name: `collector.${c.name}`, type: 'bool', default: c.defaultEnabled, help: `Enable the ${c.name} collector: ${c.help}.` })),
    { name: 'help', type: 'bool', default: false, help: 'Show this help.' },
    { name: 'version', type: 'bool', default: false, help: 'Show the version.' },
  ];
}

export interface Config {
  listenHost: string;
  listenPort: number;
  webConfigFile?: string;
  disableCompression: boolean;
  netnsDirs: string[];
  hostNetns: string | null | false;
  netnsKinds: Set<NetnsKind>;
  netnsExclude?: RegExp;
  interfaceExclude?: RegExp;
  networkInclude?: RegExp;
  networkExclude?: RegExp;
  scrapeTimeoutMs: number;
  concurrency: number;
  /** remember link tables and FDBs per namespace, read again only what its watch says changed */
  watch: boolean;
  dockerHost: string;
  dockerResyncMs: number;
  dockerRefreshMs: number;
  dockerTimeoutMs: number;
  dockerTaskLabel: 'full' | 'slot';
  logLevel: string;
  logFormat: LogFormat;
  collectors: Collector[];
  ipvsKinds: NetnsKind[];
  /** --probe.overlay and its settings; undefined when off */
  probe?: { intervalMs: number; timeoutMs: number; count: number };
  help: boolean;
  version: boolean;
}

function duration(s: string, flag: string): number {
  try {
    return parseDuration(s);
  } catch (err) {
    if (err instanceof DurationError) throw new FlagError(`--${flag}: ${err.message}`);
    throw err;
  }
}

function logFormat(v: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(v)) throw new FlagError(`--log.format: "${v}" is not one of ${LOG_FORMATS.join(', ')}`);
  return v as LogFormat;
}

function regex(v: FlagValue, flag: string): RegExp | undefined {
  if (v === '') return undefined;
  try {
    return new RegExp(v as string);
  } catch (err) {
    throw new FlagError(`--${flag}: ${(err as Error).message}`);
  }
}

export function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  if (i < 0) throw new FlagError(`--web.listen-address: "${s}" needs a port (e.g. :${DEFAULT_PORT})`);
  const host = s.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(s.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FlagError(`--web.listen-address: bad port in "${s}"`);
  return { host, port };
}

export function loadConfig(argv: string[]): Config {
  const v = parseFlags(flagDefs(), argv);
  const str = (k: string) => v.get(k) as string;
  const listen = parseListen(str('web.listen-address'));
  const kinds = netnsKinds(v.get('netns.kinds') as string[], 'netns.kinds');
  const host = str('netns.host');
  const concurrency = Number(str('scrape.concurrency'));
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) throw new FlagError('--scrape.concurrency: an integer from 1 to 16');
  if (!['debug', 'info', 'warn', 'error'].includes(str('log.level'))) throw new FlagError(`--log.level: "${str('log.level')}" is not one of debug, info, warn, error`);
  return {
    listenHost: listen.host,
    listenPort: listen.port,
    webConfigFile: str('web.config.file') || undefined,
    disableCompression: v.get('web.disable-compression') === true,
    watch: v.get('netns.watch') === true,
    netnsDirs: v.get('netns.dir') as string[],
    hostNetns: host === 'self' ? null : host === 'none' ? false : host,
    netnsKinds: new Set(kinds),
    netnsExclude: regex(v.get('netns.exclude')!, 'netns.exclude'),
    interfaceExclude: regex(v.get('interface.exclude')!, 'interface.exclude'),
    networkInclude: regex(v.get('network.include')!, 'network.include'),
    networkExclude: regex(v.get('network.exclude')!, 'network.exclude'),
    scrapeTimeoutMs: duration(str('scrape.timeout'), 'scrape.timeout'),
    concurrency,
    dockerHost: str('docker.host'),
    dockerResyncMs: duration(str('docker.resync-interval'), 'docker.resync-interval'),
    dockerRefreshMs: duration(str('docker.refresh-interval'), 'docker.refresh-interval'),
    dockerTimeoutMs: duration(str('docker.timeout'), 'docker.timeout'),
    dockerTaskLabel: taskLabel(str('docker.task-label')),
    logLevel: str('log.level'),
    logFormat: logFormat(str('log.format')),
    collectors: allCollectors({
      netdevExtendedStats: v.get('collector.netdev.extended-stats') === true,
      overlayMaxEndpointSeries: positiveInt(str('collector.overlay.max-endpoint-series'), 'collector.overlay.max-endpoint-series'),
      udpPorts: (v.get('collector.udp.ports') as string[]).map((p) => port(p, 'collector.udp.ports')),
    })
      .filter((c) => v.get(`collector.${c.name}`) === true),
    ipvsKinds: netnsKinds(v.get('collector.ipvs.netns-kinds') as string[], 'collector.ipvs.netns-kinds'),
    probe: v.get('probe.overlay') === true ? probeConfig(str) : undefined,
    help: v.get('help') === true,
    version: v.get('version') === true,
  };
}

function probeConfig(str: (k: string) => string): NonNullable<Config['probe']> {
  const intervalMs = duration(str('probe.overlay.interval'), 'probe.overlay.interval');
  const timeoutMs = duration(str('probe.overlay.timeout'), 'probe.overlay.timeout');
  const count = Number(str('probe.overlay.count'));
  if (intervalMs < 1000) throw new FlagError('--probe.overlay.interval: at least 1s');
  if (timeoutMs < 10 || timeoutMs >= intervalMs) throw new FlagError('--probe.overlay.timeout: from 10ms to less than --probe.overlay.interval');
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new FlagError(`--probe.overlay.count: "${str('probe.overlay.count')}" is not an integer from 1 to 100`);
  return { intervalMs, timeoutMs, count };
}

function netnsKinds(kinds: string[], flag: string): NetnsKind[] {
  for (const k of kinds) {
    if (!(NETNS_KINDS as readonly string[]).includes(k)) throw new FlagError(`--${flag}: unknown kind "${k}" (one of ${NETNS_KINDS.join(', ')})`);
  }
  return kinds as NetnsKind[];
}

function taskLabel(v: string): 'full' | 'slot' {
  if (v !== 'full' && v !== 'slot') throw new FlagError(`--docker.task-label: "${v}" is not full or slot`);
  return v;
}

function port(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new FlagError(`--${flag}: "${v}" is not a port (1-65535)`);
  return n;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new FlagError(`--${flag}: "${v}" is not a non-negative integer`);
  return n;
}

export function netnsFilter(cfg: Config): (ref: NetnsRef) => boolean {
  return (ref) => cfg.netnsKinds.has(ref.kind) && !(cfg.netnsExclude?.test(ref.name) ?? false);
}

export const usage = (): string =>
  helpText(flagDefs(), 'Usage: swarmnet-exporter [flags]\n\nPrometheus exporter for the Docker Swarm overlay data plane: interfaces, bridge FDB,\nVXLAN peers and IPVS load balancers of every network namespace Docker made, labelled\nwith swarm network, service and task names.');
