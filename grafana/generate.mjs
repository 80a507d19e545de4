#!/usr/bin/env node
// Writes grafana/dashboards/*.json. The JSON files are what Grafana loads and
// what is committed; this script is their source: edit it, then run
//   node grafana/generate.mjs
// (test/unit/dashboards.test.ts fails when the files and this script differ).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
const DS = { type: 'prometheus', uid: '${datasource}' };

// ---------------------------------------------------------------- variables
const datasourceVar = {
  name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus',
  current: {}, hide: 0, refresh: 1, regex: '', options: [],
};
const queryVar = (name, label, query, { multi = true, all = true } = {}) => ({
  name, label, type: 'query', datasource: DS,
  definition: query, query: { query, refId: `${name}-var` },
  refresh: 2, sort: 1, multi, includeAll: all, ...(all ? { allValue: '.*' } : {}),
  current: {}, hide: 0, regex: '', options: [],
});
const jobVar = queryVar('job', 'Job', 'label_values(swarmnet_build_info, job)', { multi: false, all: false });
const nodeVar = queryVar('node', 'Node', 'label_values(swarmnet_build_info{job=~"$job"}, node)');
const networkVar = queryVar('network', 'Network', 'label_values(swarmnet_network_info{job=~"$job", driver="overlay"}, network)');
const serviceVar = queryVar('service', 'Service', 'label_values(swarmnet_netns_info{job=~"$job", network=~"$network"}, service)');
const COMMON_VARS = [datasourceVar, jobVar, nodeVar, networkVar, serviceVar];

// ---------------------------------------------------------------- panels
/** the selector every per-node series gets */
const sel = (extra = '') => `job=~"$job", node=~"$node"${extra ? `, ${extra}` : ''}`;
const NS = (extra = '') => sel(`network=~"$network", service=~"$service"${extra ? `, ${extra}` : ''}`);

function target(expr, legend = '', extra = {}) {
  return { datasource: DS, expr, legendFormat: legend, range: true, ...extra };
}

function panel(type, title, targets, opts = {}) {
  const { w = 12, h = 8, unit, description = '', stack = false, min, decimals } = opts;
  const fieldDefaults = { unit: unit ?? 'short', ...(min !== undefined ? { min } : {}), ...(decimals !== undefined ? { decimals } : {}) };
  const p = {
    type, title, description, datasource: DS,
    targets: targets.map((t, i) => ({ ...t, refId: String.fromCharCode(65 + i) })),
    gridPos: { w, h },
    fieldConfig: { defaults: fieldDefaults, overrides: [] },
  };
  if (type === 'timeseries') {
    p.fieldConfig.defaults.custom = { drawStyle: 'line', lineWidth: 1, fillOpacity: stack ? 30 : 10, showPoints: 'never', stacking: { mode: stack ? 'normal' : 'none', group: 'A' } };
    p.options = { legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] }, tooltip: { mode: 'multi', sort: 'desc' } };
  } else if (type === 'stat') {
    p.options = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' };
    p.fieldConfig.defaults.thresholds = opts.thresholds ?? { mode: 'absolute', steps: [{ color: 'green', value: null }] };
  } else if (type === 'table') {
    p.targets = p.targets.map((t) => ({ ...t, instant: true, range: false, format: 'table' }));
    p.options = { showHeader: true, cellHeight: 'sm' };
    p.transformations = [{ id: 'organize', options: { excludeByName: { Time: true, __name__: true, job: true, swarm_service: true, ...(opts.hide ?? {}) } } }];
  }
  return p;
}
const ts = (title, targets, opts) => panel('timeseries', title, targets, opts);
const stat = (title, targets, opts) => panel('stat', title, targets, { w: 6, h: 4, ...opts });
const table = (title, targets, opts) => panel('table', title, targets, { w: 24, h: 8, ...opts });
const BAD = { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] };

/** Lays panels out left to right, top to bottom, and numbers them. */
function layout(panels) {
  let x = 0; let y = 0; let rowH = 0;
  return panels.map((p, i) => {
    const { w, h } = p.gridPos;
    if (x + w > 24) { x = 0; y += rowH; rowH = 0; }
    const placed = { id: i + 1, ...p, gridPos: { x, y, w, h } };
    x += w; rowH = Math.max(rowH, h);
    return placed;
  });
}

function dashboard({ uid, title, description, panels, vars = [], tags = [] }) {
  return {
    uid, title, description,
    tags: ['swarmnet', 'docker-swarm', ...tags],
    editable: true, graphTooltip: 1, schemaVersion: 39, version: 1,
    time: { from: 'now-1h', to: 'now' }, refresh: '30s', timezone: '',
    templating: { list: [...COMMON_VARS, ...vars] },
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['swarmnet'], asDropdown: true, title: 'swarmnet', includeVars: true, keepTime: true }],
    panels: layout(panels),
  };
}

const RATE = '$__rate_interval';
const vxlanOnly = 'and on (job, instance, netns, interface) swarmnet_interface_info{kind="vxlan"}';

// ---------------------------------------------------------------- overview
const overview = dashboard({
  uid: 'swarmnet-overview',
  title: 'Swarm overlay networks',
  description: 'Per overlay network: VXLAN traffic, drops and errors, peers expected against present, layer-2 consistency.',
  tags: ['overview'],
  panels: [
    stat('Exporters up', [target(`sum(up{${sel()}})`)]),
    stat('Exporters down', [target(`count(up{${sel()}}) - sum(up{${sel()}})`)], { thresholds: BAD }),
    stat('Overlay peers missing', [target(`sum(swarmnet_overlay_peers_expected{${sel('network=~"$network"')}} - swarmnet_overlay_peers_present{${sel('network=~"$network"')}})`)], { thresholds: BAD }),
    stat('Layer-2 inconsistencies', [target(`sum(swarmnet_overlay_l2_inconsistencies{${sel('network=~"$network"')}})`)], { thresholds: BAD }),
    ts('VXLAN traffic by network', [
      target(`sum by (network) (rate(swarmnet_interface_receive_bytes_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} receive'),
      target(`sum by (network) (rate(swarmnet_interface_transmit_bytes_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} transmit'),
    ], { unit: 'Bps', description: 'Bytes through the VXLAN devices of the overlay namespaces: traffic between nodes, summed over the selected nodes.' }),
    ts('VXLAN drops and errors by network and node', [
      target(`sum by (network, node) (rate(swarmnet_interface_receive_dropped_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} {{node}} rx dropped'),
      target(`sum by (network, node) (rate(swarmnet_interface_transmit_dropped_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} {{node}} tx dropped'),
      target(`sum by (network, node) (rate(swarmnet_interface_receive_errors_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} {{node}} rx errors'),
      target(`sum by (network, node) (rate(swarmnet_interface_transmit_errors_total{${sel('network=~"$network", netns_kind="overlay"')}}[${RATE}]) ${vxlanOnly})`, '{{network}} {{node}} tx errors'),
    ], { unit: 'pps' }),
    ts('Overlay peers: expected against present', [
      target(`swarmnet_overlay_peers_expected{${sel('network=~"$network"')}}`, '{{network}} {{node}} expected'),
      target(`swarmnet_overlay_peers_present{${sel('network=~"$network"')}}`, '{{network}} {{node}} present'),
    ], { description: 'Peers the swarm control plane lists for the network, against the distinct remote VTEPs in the VXLAN FDB of each node.' }),
    ts('Traffic to tasks by service (overlay bridge ports)', [
      target(`sum by (network, service) (rate(swarmnet_interface_transmit_bytes_total{${NS('netns_kind="overlay", service!=""')}}[${RATE}]))`, '{{network}} {{service}} to tasks'),
      target(`sum by (network, service) (rate(swarmnet_interface_receive_bytes_total{${NS('netns_kind="overlay", service!=""')}}[${RATE}]))`, '{{network}} {{service}} from tasks'),
    ], { unit: 'Bps', description: 'Bridge-side ends of the tasks\' veth pairs: what the overlay delivers to and takes from each service.' }),
    ts('Forwarding database entries by network', [
      target(`sum by (network, node) (swarmnet_bridge_fdb_entries{${sel('network=~"$network", netns_kind="overlay"')}})`, '{{network}} {{node}} bridge'),
      target(`sum by (network, node) (swarmnet_vxlan_fdb_entries{${sel('network=~"$network", netns_kind="overlay"')}})`, '{{network}} {{node}} vxlan'),
    ]),
    ts('VXLAN peers (remote VTEPs) by network', [
      target(`sum by (network, node) (swarmnet_vxlan_peers{${sel('network=~"$network", netns_kind="overlay"')}})`, '{{network}} {{node}}'),
    ]),
    table('Overlay networks', [target(`swarmnet_network_info{${sel('network=~"$network", driver="overlay"')}}`)], { hide: { Value: true, instance: true } }),
    table('Peer mismatches (control plane against VXLAN FDB)', [target(`swarmnet_overlay_peer_mismatch{${sel('network=~"$network"')}}`)], { hide: { Value: true } }),
    table('Layer-2 inconsistent endpoints', [target(`swarmnet_overlay_l2_inconsistent_endpoint{${sel('network=~"$network"')}}`)], { hide: { Value: true } }),
  ],
});

// ---------------------------------------------------------------- node drill-down
const netnsVar = queryVar('netns', 'Namespace', 'label_values(swarmnet_interface_up{job=~"$job", node=~"$node", network=~"$network", service=~"$service"}, netns)');
const interfaceVar = queryVar('interface', 'Interface', 'label_values(swarmnet_interface_up{job=~"$job", node=~"$node", netns=~"$netns"}, interface)');
const IF = (extra = '') => NS(`netns=~"$netns", interface=~"$interface"${extra ? `, ${extra}` : ''}`);
const node = dashboard({
  uid: 'swarmnet-node',
  title: 'Swarm node namespaces and interfaces',
  description: 'One node (or a few): its network namespaces by kind, and every interface\'s traffic, drops, errors, bridge and VXLAN forwarding entries.',
  tags: ['node'],
  vars: [netnsVar, interfaceVar],
  panels: [
    stat('Namespaces', [target(`sum(swarmnet_netns_discovered{${sel()}})`)]),
    stat('Overlay namespaces', [target(`sum(swarmnet_netns_discovered{${sel('netns_kind="overlay"')}})`)]),
    stat('Interfaces down', [target(`count(swarmnet_interface_up{${IF()}}) - sum(swarmnet_interface_up{${IF()}})`)], { thresholds: BAD }),
    stat('Namespaces not read', [target(`sum(swarmnet_netns_read_failures{${sel()}})`)], { thresholds: BAD }),
    ts('Namespaces by kind', [target(`sum by (node, netns_kind) (swarmnet_netns_discovered{${sel()}})`, '{{node}} {{netns_kind}}')], { stack: true }),
    ts('Receive by namespace', [target(`sum by (node, netns) (rate(swarmnet_interface_receive_bytes_total{${IF()}}[${RATE}]))`, '{{node}} {{netns}}')], { unit: 'Bps' }),
    ts('Transmit by namespace', [target(`sum by (node, netns) (rate(swarmnet_interface_transmit_bytes_total{${IF()}}[${RATE}]))`, '{{node}} {{netns}}')], { unit: 'Bps' }),
    ts('Receive by interface', [target(`rate(swarmnet_interface_receive_bytes_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}}')], { unit: 'Bps' }),
    ts('Transmit by interface', [target(`rate(swarmnet_interface_transmit_bytes_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}}')], { unit: 'Bps' }),
    ts('Packets by interface', [
      target(`rate(swarmnet_interface_receive_packets_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} rx'),
      target(`rate(swarmnet_interface_transmit_packets_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts('Drops by interface', [
      target(`rate(swarmnet_interface_receive_dropped_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} rx'),
      target(`rate(swarmnet_interface_transmit_dropped_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts('Errors by interface', [
      target(`rate(swarmnet_interface_receive_errors_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} rx'),
      target(`rate(swarmnet_interface_transmit_errors_total{${IF()}}[${RATE}])`, '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts('Bridge FDB entries', [target(`sum by (node, netns, bridge, state) (swarmnet_bridge_fdb_entries{${NS('netns=~"$netns"')}})`, '{{node}} {{netns}} {{bridge}} {{state}}')]),
    ts('VXLAN FDB entries and peers', [
      target(`sum by (node, netns, interface, state) (swarmnet_vxlan_fdb_entries{${IF()}})`, '{{node}} {{netns}} {{interface}} {{state}} entries'),
      target(`swarmnet_vxlan_peers{${IF()}}`, '{{node}} {{netns}} {{interface}} peers'),
    ]),
    table('Interfaces', [target(`swarmnet_interface_info{${IF()}}`)], { h: 10, hide: { Value: true, instance: true } }),
    table('MTU', [target(`swarmnet_interface_mtu_bytes{${IF()}}`)], { w: 12, hide: { instance: true } }),
    table('VXLAN devices', [target(`swarmnet_vxlan_info{${IF()}}`)], { w: 12, hide: { Value: true, instance: true } }),
    table('Namespaces', [target(`swarmnet_netns_info{${sel('network=~"$network", service=~"$service", netns=~"$netns"')}}`)], { hide: { Value: true, instance: true } }),
    ...signalPanels(),
  ],
});

// ---------------------------------------------------------------- load balancer
const LB = (extra = '') => NS(extra);
const lb = dashboard({
  uid: 'swarmnet-lb',
  title: 'Swarm load balancer (IPVS)',
  description: 'Service VIPs (lb_<network>) and published ports (ingress_sbox): connections and traffic per service and backend, backends present, missing and dead.',
  tags: ['loadbalancer'],
  panels: [
    stat('Nodes without IPVS', [target(`count(swarmnet_ipvs_up{${sel()}}) - sum(swarmnet_ipvs_up{${sel()}})`)], { thresholds: BAD }),
    stat('Backends', [target(`sum(swarmnet_lb_service_backends{${LB()}})`)]),
    stat('Dead backends', [target(`count(swarmnet_lb_backend_up{${LB()}}) - sum(swarmnet_lb_backend_up{${LB()}})`)], { thresholds: BAD }),
    stat('Missing backends', [target(`sum(swarmnet_lb_service_missing_backends{${LB()}})`)], { thresholds: BAD }),
    ts('New connections by service', [target(`sum by (network, service, vip) (rate(swarmnet_lb_service_connections_total{${LB()}}[${RATE}]))`, '{{service}} {{vip}} ({{network}})')], { unit: 'cps' }),
    ts('Traffic by service', [
      target(`sum by (service) (rate(swarmnet_lb_service_receive_bytes_total{${LB()}}[${RATE}]))`, '{{service}} from clients'),
      target(`sum by (service) (rate(swarmnet_lb_service_transmit_bytes_total{${LB()}}[${RATE}]))`, '{{service}} to clients'),
    ], { unit: 'Bps' }),
    ts('Packets by service', [
      target(`sum by (service) (rate(swarmnet_lb_service_receive_packets_total{${LB()}}[${RATE}]))`, '{{service}} from clients'),
      target(`sum by (service) (rate(swarmnet_lb_service_transmit_packets_total{${LB()}}[${RATE}]))`, '{{service}} to clients'),
    ], { unit: 'pps' }),
    ts('Backends per service', [
      target(`sum by (node, service, vip) (swarmnet_lb_service_backends{${LB()}})`, '{{node}} {{service}} {{vip}} present'),
      target(`sum by (node, service, vip) (swarmnet_lb_service_missing_backends{${LB()}})`, '{{node}} {{service}} {{vip}} missing'),
    ]),
    ts('New connections by backend', [target(`sum by (service, backend) (rate(swarmnet_lb_backend_connections_total{${LB()}}[${RATE}]))`, '{{service}} {{backend}}')], { unit: 'cps' }),
    ts('Traffic by backend', [
      target(`sum by (service, backend) (rate(swarmnet_lb_backend_receive_bytes_total{${LB()}}[${RATE}]))`, '{{service}} {{backend}} in'),
      target(`sum by (service, backend) (rate(swarmnet_lb_backend_transmit_bytes_total{${LB()}}[${RATE}]))`, '{{service}} {{backend}} out'),
    ], { unit: 'Bps' }),
    ts('Connections held by backend', [
      target(`sum by (service, backend) (swarmnet_lb_backend_active_connections{${LB()}})`, '{{service}} {{backend}} active'),
      target(`sum by (service, backend) (swarmnet_lb_backend_inactive_connections{${LB()}})`, '{{service}} {{backend}} inactive'),
    ]),
    ts('Backend weight', [target(`swarmnet_lb_backend_weight{${LB()}}`, '{{node}} {{service}} {{backend}}')], { description: 'Weight 0: draining (swarm sets it before removing a task).' }),
    table('Backends (1 = up)', [target(`swarmnet_lb_backend_up{${LB()}}`)], { h: 10, hide: { instance: true } }),
  ],
});

// ---------------------------------------------------------------- exporter health
const exporter = dashboard({
  uid: 'swarmnet-exporter',
  title: 'swarmnet-exporter health',
  description: 'The exporters themselves: targets up, scrape and collector durations, failures by reason, Docker API state, process resources.',
  tags: ['exporter'],
  panels: [
    stat('Exporters up', [target(`sum(up{${sel()}})`)]),
    stat('Exporters down', [target(`count(up{${sel()}}) - sum(up{${sel()}})`)], { thresholds: BAD }),
    stat('Docker API down', [target(`count(swarmnet_docker_up{${sel()}}) - sum(swarmnet_docker_up{${sel()}})`)], { thresholds: BAD }),
    stat('Collectors failing', [target(`count(swarmnet_scrape_collector_success{${sel()}}) - sum(swarmnet_scrape_collector_success{${sel()}})`)], { thresholds: BAD }),
    ts('Collection duration', [
      target(`swarmnet_scrape_duration_seconds{${sel()}}`, '{{node}} collection'),
      target(`scrape_duration_seconds{${sel()}}`, '{{node}} scrape (Prometheus)'),
    ], { unit: 's' }),
    ts('Collector duration', [target(`swarmnet_scrape_collector_duration_seconds{${sel()}}`, '{{node}} {{collector}}')], { unit: 's' }),
    ts('Collector success', [target(`swarmnet_scrape_collector_success{${sel()}}`, '{{node}} {{collector}}')], { min: 0 }),
    ts('Errors by source and reason', [target(`sum by (node, source, reason) (rate(swarmnet_exporter_errors_total{${sel()}}[${RATE}]))`, '{{node}} {{source}} {{reason}}')], { unit: 'ops' }),
    ts('Namespaces and read failures', [
      target(`sum by (node) (swarmnet_netns_discovered{${sel()}})`, '{{node}} namespaces'),
      target(`sum by (node, reason) (swarmnet_netns_read_failures{${sel()}})`, '{{node}} not read: {{reason}}'),
    ]),
    ts('Docker state age', [target(`swarmnet_docker_state_age_seconds{${sel()}}`, '{{node}}')], { unit: 's' }),
    ts('Samples per scrape', [target(`scrape_samples_scraped{${sel()}}`, '{{node}}')]),
    ts('Resident memory', [target(`process_resident_memory_bytes{${sel()}}`, '{{node}}')], { unit: 'bytes' }),
    ts('CPU', [target(`rate(process_cpu_seconds_total{${sel()}}[${RATE}])`, '{{node}}')], { unit: 'percentunit' }),
    ts('Event loop lag (p99)', [target(`nodejs_eventloop_lag_p99_seconds{${sel()}}`, '{{node}}')], { unit: 's' }),
    table('Versions', [target(`swarmnet_build_info{${sel()}}`)], { hide: { Value: true } }),
  ],
});

// ---------------------------------------------------------------- kernel signals
// Panels of the kernel signals (neighbour tables, VXLAN receive path, overlay MTU), appended to the node
// dashboard. Kept in this block of their own: a function declaration, so the
// dashboards above can call it.
function signalPanels() {
  const NB = sel;
  return [
    ts('Neighbour table fill (of gc_thresh3)', [
      target(`swarmnet_neighbour_table_entries{${NB()}} / ignoring (level) swarmnet_neighbour_table_threshold{${NB('level="3"')}}`, '{{node}} {{family}}'),
    ], { unit: 'percentunit', min: 0, description: 'ARP (ipv4) and ND (ipv6) entries of all namespaces of the node against the hard limit gc_thresh3 (global to the node). Alerts: SwarmnetNeighbourTableNearFull at 90%.' }),
    ts('Neighbour table overflows and forced GC', [
      target(`increase(swarmnet_neighbour_table_fulls_total{${NB()}}[${RATE}])`, '{{node}} {{family}} table full'),
      target(`increase(swarmnet_neighbour_table_forced_gc_runs_total{${NB()}}[${RATE}])`, '{{node}} {{family}} forced GC'),
    ], { description: 'Table full: an entry could not be created, packets dropped ("neighbour table overflow", moby#32195; alert SwarmnetNeighbourTableOverflow). Forced GC: over gc_thresh2.' }),
    ts('Neighbour table entries and thresholds', [
      target(`swarmnet_neighbour_table_entries{${NB()}}`, '{{node}} {{family}} entries'),
      target(`swarmnet_neighbour_table_threshold{${NB()}}`, '{{node}} {{family}} gc_thresh{{level}}'),
    ]),
    ts('Neighbour entries by namespace (top 10)', [
      target(`topk(10, sum by (node, netns, network, family) (swarmnet_neighbour_entries{${NS('netns=~"$netns"')}}))`, '{{node}} {{netns}} {{network}} {{family}}'),
    ], { description: 'Which namespaces hold the neighbour entries that count against the node\'s global limits.' }),
    ts('VXLAN socket drops', [
      target(`rate(swarmnet_udp_socket_drops_total{${sel()}}[${RATE}])`, '{{node}} {{netns}} :{{port}} socket drops'),
      target(`rate(swarmnet_udp_receive_buffer_errors_total{${sel()}}[${RATE}])`, '{{node}} {{netns}} UDP RcvbufErrors'),
    ], { unit: 'pps', description: 'Datagrams the kernel UDP socket of a VXLAN port dropped (overlay packets lost before decapsulation; alert SwarmnetVxlanSocketDrops), and the namespace\'s UDP receive-buffer errors (all sockets).' }),
    ts('VXLAN socket receive queue (of its buffer)', [
      target(`swarmnet_udp_socket_receive_queue_bytes{${sel()}} / swarmnet_udp_socket_receive_buffer_bytes{${sel()}}`, '{{node}} {{netns}} :{{port}}'),
    ], { unit: 'percentunit', min: 0, description: 'A queue that reaches its buffer drops.' }),
    ts('Overlay interfaces with a mismatched MTU', [
      target(`sum by (node, network, direction) (swarmnet_overlay_mtu_mismatched_interfaces{${NS()}})`, '{{node}} {{network}} {{direction}}'),
    ], { description: 'Interfaces of each overlay network whose MTU differs from the underlay MTU less 50 bytes of VXLAN (above: too large, alert SwarmnetOverlayMtuTooLarge).' }),
    table('Overlay MTU mismatches', [
      target(`swarmnet_overlay_interface_mtu_mismatch_bytes{${NS()}}`),
      target(`swarmnet_overlay_mtu_expected_bytes{${NS()}}`),
    ], { w: 12, hide: { instance: true } }),
  ];
}

export const DASHBOARDS = { 'swarmnet-overview.json': overview, 'swarmnet-node.json': node, 'swarmnet-lb.json': lb, 'swarmnet-exporter.json': exporter };

export function render(d) {
  return `${JSON.stringify(d, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, d] of Object.entries(DASHBOARDS)) {
    writeFileSync(join(OUT, file), render(d));
    process.stdout.write(`wrote ${join(OUT, file)}: ${d.panels.length} panels\n`);
  }
}
