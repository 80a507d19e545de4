#!/usr/bin/env node
// @ts-check
// Writes grafana/dashboards/*.json. The JSON files are what Grafana loads and
// what is committed; this script is their source: edit it, then run
//   npm run build:dashboards
// (tsc checks it against @grafana/schema's types (grafana/tsconfig.json), then
// it runs; test/unit/dashboards.test.ts fails when the files and it differ).
//
// Adding a panel: one line in a dashboard's `panels` list, with ts(), stat(),
// table() or timeline() and target(); layout and ids are automatic. Stats count with
// `or vector(0)` (zero(), so they read 0, not "No data"); per-interface and
// per-namespace graphs keep the TOP busiest series (top()), so an "All"
// selection on a node with thousands of interfaces stays readable.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BigValueColorMode, BigValueGraphMode, BigValueJustifyMode, BigValueTextMode, DashboardCursorSync, FieldColorModeId, GraphDrawStyle,
  LegendDisplayMode, MappingType, SortOrder, StackingMode, TableCellHeight, ThresholdsMode, TooltipDisplayMode, VariableHide,
  VariableRefresh, VariableSort, VisibilityMode, VizOrientation,
} from '@grafana/schema';

/** @typedef {import('@grafana/schema').Dashboard} Dashboard */
/** @typedef {import('@grafana/schema').VariableModel} VariableModel */
/** @typedef {import('@grafana/schema').DataSourceRef} DataSourceRef */
/** @typedef {import('@grafana/schema').ThresholdsConfig} ThresholdsConfig */
/** @typedef {import('@grafana/schema').GraphFieldConfig} GraphFieldConfig */
/** @typedef {import('@grafana/schema').OptionsWithLegend & import('@grafana/schema').OptionsWithTooltip} TimeSeriesOptions */
/** @typedef {import('@grafana/schema').SingleStatBaseOptions & { colorMode: BigValueColorMode, graphMode: BigValueGraphMode, textMode: BigValueTextMode, justifyMode: BigValueJustifyMode }} StatOptions */
/** @typedef {{ showHeader: boolean, cellHeight: TableCellHeight }} TableOptions */
/** @typedef {import('@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen').Options} StateTimelineOptions */
/** @typedef {import('@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen').FieldConfig} StateTimelineFieldConfig */
/** @typedef {import('@grafana/schema').ValueMapping} ValueMapping */
/**
 * A Prometheus query of a panel: a DataQuery (checked below) with the Prometheus datasource's fields.
 * @typedef {{ refId: string, datasource?: DataSourceRef, hide?: boolean, expr: string, legendFormat: string, range: boolean, instant?: boolean, format?: 'time_series' | 'table' }} PromQuery
 */
/** @typedef {import('@grafana/schema').Panel & { targets: PromQuery[], gridPos: import('@grafana/schema').GridPos }} Panel */
/** @typedef {Omit<PromQuery, 'refId'>} Target */
/** @type {(q: PromQuery) => import('@grafana/schema').DataQuery} */
const isDataQuery = (q) => q; // eslint-disable-line no-unused-vars
void isDataQuery;
/**
 * @typedef {object} PanelOpts
 * @property {number} [w] width on the 24-column grid
 * @property {number} [h] height
 * @property {string} [unit]
 * @property {string} [description]
 * @property {boolean} [stack]
 * @property {number} [min]
 * @property {number} [decimals]
 * @property {ThresholdsConfig} [thresholds]
 * @property {Record<string, boolean>} [hide] table columns to hide
 * @property {Record<string, string>} [merge] tables: merge the targets' frames into one row per series,
 *   their value columns ("Value #A", ...) renamed by this map
 * @property {ValueMapping[]} [mappings] values shown as text (state timelines, tables)
 */

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'dashboards');
/** @type {DataSourceRef} */
const DS = { type: 'prometheus', uid: '${datasource}' };
/** the busiest series a per-interface or per-namespace graph keeps */
const TOP = 15;

// ---------------------------------------------------------------- variables
/** @type {VariableModel} */
const datasourceVar = {
  name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus',
  current: { text: 'Prometheus', value: 'swarmnet-prometheus' }, hide: VariableHide.dontHide, refresh: VariableRefresh.onDashboardLoad, regex: '', options: [],
};
/**
 * @param {string} name
 * @param {string} label
 * @param {string} query
 * @param {{ multi?: boolean, all?: boolean }} [opts]
 * @returns {VariableModel}
 */
const queryVar = (name, label, query, { multi = true, all = true } = {}) => ({
  name, label, type: 'query', datasource: DS,
  query: { query, refId: `${name}-var` },
  refresh: VariableRefresh.onTimeRangeChanged, sort: VariableSort.alphabeticalAsc, multi, includeAll: all, ...(all ? { allValue: '.*' } : {}),
  current: all ? { text: 'All', value: '$__all' } : { text: '', value: '' }, hide: VariableHide.dontHide, regex: '', options: [],
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
/** a stat's expression that reads 0 when nothing matches, not "No data" */
const zero = (/** @type {string} */ expr) => `${expr} or vector(0)`;
/** the TOP busiest series of a per-interface or per-namespace expression */
const top = (/** @type {string} */ expr) => `topk(${TOP}, ${expr})`;

/**
 * @param {string} expr
 * @param {string} [legend]
 * @param {Partial<Target>} [extra]
 * @returns {Target}
 */
function target(expr, legend = '', extra = {}) {
  return { datasource: DS, expr, legendFormat: legend, range: true, ...extra };
}

/**
 * @param {'timeseries' | 'stat' | 'table' | 'state-timeline'} type
 * @param {string} title
 * @param {Target[]} targets
 * @param {PanelOpts} [opts]
 * @returns {Panel}
 */
function panel(type, title, targets, opts = {}) {
  const { w = 12, h = 8, unit, description = '', stack = false, min, decimals } = opts;
  /** @type {PromQuery[]} */
  const queries = targets.map((t, i) => ({
    ...t, refId: String.fromCharCode(65 + i), ...(type === 'table' ? { instant: true, range: false, format: 'table' } : {}),
  }));
  /** @type {Panel} */
  const p = {
    type, title, description, datasource: DS,
    targets: queries,
    gridPos: { x: 0, y: 0, w, h },
    fieldConfig: {
      defaults: {
        unit: unit ?? 'short', ...(min !== undefined ? { min } : {}), ...(decimals !== undefined ? { decimals } : {}),
        ...(opts.mappings ? { mappings: opts.mappings } : {}),
      },
      overrides: [],
    },
  };
  if (type === 'timeseries') {
    /** @type {GraphFieldConfig} */
    const custom = {
      drawStyle: GraphDrawStyle.Line, lineWidth: 1, fillOpacity: stack ? 30 : 10, showPoints: VisibilityMode.Never,
      stacking: { mode: stack ? StackingMode.Normal : StackingMode.None, group: 'A' },
    };
    p.fieldConfig = { defaults: { ...p.fieldConfig?.defaults, custom: { ...custom } }, overrides: [] };
    /** @type {TimeSeriesOptions} */
    const options = {
      legend: { showLegend: true, displayMode: LegendDisplayMode.Table, placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] },
      tooltip: { mode: TooltipDisplayMode.Multi, sort: SortOrder.Descending },
    };
    p.options = { ...options };
  } else if (type === 'stat') {
    /** @type {StatOptions} */
    const options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: VizOrientation.Auto,
      colorMode: BigValueColorMode.Value, graphMode: BigValueGraphMode.Area, textMode: BigValueTextMode.Auto, justifyMode: BigValueJustifyMode.Auto,
    };
    p.options = { ...options };
    p.fieldConfig = {
      defaults: { ...p.fieldConfig?.defaults, thresholds: opts.thresholds ?? { mode: ThresholdsMode.Absolute, steps: [{ color: 'green', value: null }] } },
      overrides: [],
    };
  } else if (type === 'state-timeline') {
    /** @type {StateTimelineFieldConfig} */
    const custom = { fillOpacity: 80, lineWidth: 0 };
    p.fieldConfig = {
      defaults: {
        ...p.fieldConfig?.defaults, custom: { ...custom }, color: { mode: FieldColorModeId.Thresholds },
        thresholds: opts.thresholds ?? { mode: ThresholdsMode.Absolute, steps: [{ color: 'green', value: null }] },
      },
      overrides: [],
    };
    /** @type {StateTimelineOptions} */
    const options = {
      showValue: VisibilityMode.Never, rowHeight: 0.9, mergeValues: true, alignValue: 'left',
      legend: { showLegend: true, displayMode: LegendDisplayMode.List, placement: 'bottom', calcs: [] },
      tooltip: { mode: TooltipDisplayMode.Single, sort: SortOrder.None },
    };
    p.options = { ...options };
  } else {
    /** @type {TableOptions} */
    const options = { showHeader: true, cellHeight: TableCellHeight.Sm };
    p.options = { ...options };
    p.transformations = [
      ...(opts.merge ? [{ id: 'merge', options: {} }] : []),
      { id: 'organize', options: { excludeByName: { Time: true, __name__: true, job: true, swarm_service: true, ...(opts.hide ?? {}) }, ...(opts.merge ? { renameByName: opts.merge } : {}) } },
    ];
  }
  return p;
}
/** @type {(title: string, targets: Target[], opts?: PanelOpts) => Panel} */
const ts = (title, targets, opts) => panel('timeseries', title, targets, opts);
/** @type {(title: string, targets: Target[], opts?: PanelOpts) => Panel} */
const stat = (title, targets, opts) => panel('stat', title, targets, { w: 6, h: 4, ...opts });
/** @type {(title: string, targets: Target[], opts?: PanelOpts) => Panel} */
const table = (title, targets, opts) => panel('table', title, targets, { w: 24, h: 8, ...opts });
/** @type {(title: string, targets: Target[], opts?: PanelOpts) => Panel} */
const timeline = (title, targets, opts) => panel('state-timeline', title, targets, { w: 24, h: 8, ...opts });
/** @type {ThresholdsConfig} */
const BAD = { mode: ThresholdsMode.Absolute, steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] };

/**
 * Lays panels out left to right, top to bottom, and numbers them.
 * @param {Panel[]} panels
 * @returns {Panel[]}
 */
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

/**
 * @param {{ uid: string, title: string, description: string, panels: Panel[], vars?: VariableModel[], tags?: string[] }} d
 * @returns {Dashboard & { panels: Panel[] }}
 */
function dashboard({ uid, title, description, panels, vars = [], tags = [] }) {
  return {
    uid, title, description,
    tags: ['swarmnet', 'docker-swarm', ...tags],
    editable: true, graphTooltip: DashboardCursorSync.Crosshair, schemaVersion: 39, version: 1,
    time: { from: 'now-1h', to: 'now' }, refresh: '30s', timezone: '',
    templating: { list: [...COMMON_VARS, ...vars] },
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['swarmnet'], asDropdown: true, title: 'swarmnet', includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' }],
    panels: layout(panels),
  };
}

const RATE = '$__rate_interval';
const vxlanOnly = 'and on (job, instance, netns, interface) swarmnet_interface_info{kind="vxlan"}';

// ---------------------------------------------------------------- overview
// Series of deploy/prometheus/rules/swarmnet-recording.rules.yml: per job,
// node and network (and service), so the overview reads a few series per
// network whatever the number of namespaces and interfaces.
/** a recorded series, with the dashboard's selections */
const rec = (/** @type {string} */ name, extra = '') => `${name}{${sel(`network=~"$network"${extra ? `, ${extra}` : ''}`)}}`;
const VX = 'job_node_network:swarmnet_vxlan';
/** a probe path's labels, one row per path in a merged table (no metric name, which would keep the rows apart) */
const PROBE_PATH = 'max by (node, network, netns, peer_node, peer_ip) ';
const overview = dashboard({
  uid: 'swarmnet-overview',
  title: 'Swarm overlay networks',
  description: 'Per overlay network: VXLAN traffic, drops and errors, peers expected against present, layer-2 consistency. Reads the recording rules of deploy/prometheus/rules/swarmnet-recording.rules.yml.',
  tags: ['overview'],
  panels: [
    stat('Exporters up', [target(zero(`sum(up{${sel()}})`))]),
    stat('Exporters down', [target(zero(`count(up{${sel()}} == 0)`))], { thresholds: BAD }),
    stat('Overlay peers missing', [target(zero(`sum(${rec('job_node_network:swarmnet_overlay_peers_missing:count')})`))], {
      thresholds: BAD, description: 'Peers the control plane lists that a node\'s VXLAN FDB lacks, counted over the selected nodes and networks (one per missing peer and node).',
    }),
    stat('Layer-2 inconsistencies', [target(zero(`sum(swarmnet_overlay_l2_inconsistencies{${sel('network=~"$network"')}})`))], { thresholds: BAD }),
    ts('VXLAN traffic by network', [
      target(`sum by (network) (${rec(`${VX}_receive_bytes:rate1m`)})`, '{{network}} receive'),
      target(`sum by (network) (${rec(`${VX}_transmit_bytes:rate1m`)})`, '{{network}} transmit'),
    ], { unit: 'Bps', description: 'Bytes through the VXLAN devices of the overlay namespaces: traffic between nodes, summed over the selected nodes.' }),
    ts('VXLAN drops and errors by network and node', [
      target(`${rec(`${VX}_receive_dropped:rate1m`)}`, '{{network}} {{node}} rx dropped'),
      target(`${rec(`${VX}_transmit_dropped:rate1m`)}`, '{{network}} {{node}} tx dropped'),
      target(`${rec(`${VX}_receive_errors:rate1m`)}`, '{{network}} {{node}} rx errors'),
      target(`${rec(`${VX}_transmit_errors:rate1m`)}`, '{{network}} {{node}} tx errors'),
    ], { unit: 'pps' }),
    ts('Overlay peers: expected against present', [
      target(`swarmnet_overlay_peers_expected{${sel('network=~"$network"')}}`, '{{network}} {{node}} expected'),
      target(`swarmnet_overlay_peers_present{${sel('network=~"$network"')}}`, '{{network}} {{node}} present'),
    ], { description: 'Peers the swarm control plane lists for the network, against the distinct remote VTEPs in the VXLAN FDB of each node.' }),
    ts('Traffic to tasks by service (overlay bridge ports)', [
      target(`sum by (network, service) (${rec('job_node_network_service:swarmnet_task_transmit_bytes:rate1m', 'service=~"$service"')})`, '{{network}} {{service}} to tasks'),
      target(`sum by (network, service) (${rec('job_node_network_service:swarmnet_task_receive_bytes:rate1m', 'service=~"$service"')})`, '{{network}} {{service}} from tasks'),
    ], { unit: 'Bps', description: 'Bridge-side ends of the tasks\' veth pairs: what the overlay delivers to and takes from each service.' }),
    ts('Forwarding database entries by network', [
      target(rec('job_node_network:swarmnet_bridge_fdb_entries:sum'), '{{network}} {{node}} bridge'),
      target(rec(`${VX}_fdb_entries:sum`), '{{network}} {{node}} vxlan'),
    ]),
    ts('VXLAN peers (remote VTEPs) by network', [
      target(rec(`${VX}_peers:sum`), '{{network}} {{node}}'),
    ]),
    table('Overlay networks', [target(`swarmnet_network_info{${sel('network=~"$network", driver="overlay"')}}`)], { hide: { Value: true, instance: true } }),
    table('Peer mismatches (control plane against VXLAN FDB)', [target(`swarmnet_overlay_peer_mismatch{${sel('network=~"$network"')}}`)], { hide: { Value: true } }),
    table('Layer-2 inconsistent endpoints', [target(`swarmnet_overlay_l2_inconsistent_endpoint{${sel('network=~"$network"')}}`)], { hide: { Value: true } }),
    table('Overlay paths losing probes (--probe.overlay)', [
      target(`${PROBE_PATH}(swarmnet_overlay_probe_loss_ratio{${sel('network=~"$network"')}}) > 0`),
      target(`${PROBE_PATH}(swarmnet_overlay_probe_full_size_ok{${sel('network=~"$network"')}}) == 0`),
    ], {
      merge: { 'Value #A': 'small probes lost (last round)', 'Value #B': 'full-size probe answered' },
      description: 'Paths from a node to a peer node of an overlay network whose last probe round lost small probes, or whose full-size probe (the overlay MTU, DF set) was not answered. Empty when every path answers, or when the probes are off. Alerts: SwarmnetOverlayPathDown, SwarmnetOverlayFullSizePathBroken, SwarmnetOverlayPathLossy.',
    }),
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
    stat('Namespaces', [target(zero(`sum(swarmnet_netns_discovered{${sel()}})`))]),
    stat('Overlay namespaces', [target(zero(`sum(swarmnet_netns_discovered{${sel('netns_kind="overlay"')}})`))]),
    stat('Interfaces down', [target(zero(`count(swarmnet_interface_up{${IF()}} == 0)`))], { thresholds: BAD }),
    stat('Namespaces not read', [target(zero(`sum(swarmnet_netns_read_failures{${sel()}})`))], { thresholds: BAD }),
    ts('Namespaces by kind', [target(`sum by (node, netns_kind) (swarmnet_netns_discovered{${sel()}})`, '{{node}} {{netns_kind}}')], { stack: true }),
    ts(`Receive by namespace (top ${TOP})`, [target(top(`sum by (node, netns) (rate(swarmnet_interface_receive_bytes_total{${IF()}}[${RATE}]))`), '{{node}} {{netns}}')], { unit: 'Bps' }),
    ts(`Transmit by namespace (top ${TOP})`, [target(top(`sum by (node, netns) (rate(swarmnet_interface_transmit_bytes_total{${IF()}}[${RATE}]))`), '{{node}} {{netns}}')], { unit: 'Bps' }),
    ts(`Receive by interface (top ${TOP})`, [target(top(`rate(swarmnet_interface_receive_bytes_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}}')], { unit: 'Bps' }),
    ts(`Transmit by interface (top ${TOP})`, [target(top(`rate(swarmnet_interface_transmit_bytes_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}}')], { unit: 'Bps' }),
    ts(`Packets by interface (top ${TOP})`, [
      target(top(`rate(swarmnet_interface_receive_packets_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} rx'),
      target(top(`rate(swarmnet_interface_transmit_packets_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts(`Drops by interface (top ${TOP})`, [
      target(top(`rate(swarmnet_interface_receive_dropped_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} rx'),
      target(top(`rate(swarmnet_interface_transmit_dropped_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts(`Errors by interface (top ${TOP})`, [
      target(top(`rate(swarmnet_interface_receive_errors_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} rx'),
      target(top(`rate(swarmnet_interface_transmit_errors_total{${IF()}}[${RATE}])`), '{{node}} {{netns}} {{interface}} tx'),
    ], { unit: 'pps' }),
    ts(`Bridge FDB entries (top ${TOP})`, [target(top(`sum by (node, netns, bridge, state) (swarmnet_bridge_fdb_entries{${NS('netns=~"$netns"')}})`), '{{node}} {{netns}} {{bridge}} {{state}}')]),
    ts(`VXLAN FDB entries and peers (top ${TOP})`, [
      target(top(`sum by (node, netns, interface, state) (swarmnet_vxlan_fdb_entries{${IF()}})`), '{{node}} {{netns}} {{interface}} {{state}} entries'),
      target(top(`swarmnet_vxlan_peers{${IF()}}`), '{{node}} {{netns}} {{interface}} peers'),
    ]),
    table('Interfaces', [target(`swarmnet_interface_info{${IF()}}`)], { h: 10, hide: { Value: true, instance: true } }),
    table('MTU', [target(`swarmnet_interface_mtu_bytes{${IF()}}`)], { w: 12, hide: { instance: true } }),
    table('VXLAN devices', [target(`swarmnet_vxlan_info{${IF()}}`)], { w: 12, hide: { Value: true, instance: true } }),
    table('Namespaces', [target(`swarmnet_netns_info{${sel('network=~"$network", service=~"$service", netns=~"$netns"')}}`)], { hide: { Value: true, instance: true } }),
    ...signalPanels(),
    ...probePanels(),
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
    stat('Nodes without IPVS', [target(zero(`count(swarmnet_ipvs_up{${sel()}} == 0)`))], { thresholds: BAD }),
    stat('Backends', [target(zero(`sum(swarmnet_lb_service_backends{${LB()}})`))]),
    stat('Dead backends', [target(zero(`count(swarmnet_lb_backend_up{${LB()}} == 0)`))], { thresholds: BAD }),
    stat('Missing backends', [target(zero(`sum(swarmnet_lb_service_missing_backends{${LB()}})`))], { thresholds: BAD }),
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
    stat('Exporters up', [target(zero(`sum(up{${sel()}})`))]),
    stat('Exporters down', [target(zero(`count(up{${sel()}} == 0)`))], { thresholds: BAD }),
    stat('Docker API down', [target(zero(`count(swarmnet_docker_up{${sel()}} == 0)`))], { thresholds: BAD }),
    stat('Collectors failing', [target(zero(`count(swarmnet_scrape_collector_success{${sel()}} == 0)`))], { thresholds: BAD }),
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
    ts('Overlay probe round age', [target(`time() - max by (node) (swarmnet_overlay_probe_last_round_timestamp_seconds{${sel()}})`, '{{node}}')], {
      unit: 's', min: 0,
      description: 'Since the last completed overlay path probe round of each node (--probe.overlay; no series when off). Steady at about the probe interval; climbing: the rounds stopped (SwarmnetOverlayProbeStalled).',
    }),
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

// ---------------------------------------------------------------- overlay path probes
// Panels of the overlay path probes (--probe.overlay: ICMP echo from each node to
// one endpoint on every peer node of each overlay network), appended to the node
// dashboard. Per (node, network, peer_node): the probed endpoint (peer_ip) of a peer
// changes in a rolling update, the path stays one row. Graphs keep the TOP worst paths.
function probePanels() {
  const P = (extra = '') => sel(`network=~"$network"${extra ? `, ${extra}` : ''}`);
  const path = '{{network}}: {{node}} → {{peer_node}}';
  return [
    stat('Overlay paths probed', [target(zero(`count(swarmnet_overlay_probe_loss_ratio{${P()}})`))], {
      description: 'Paths (network, peer node, endpoint) the selected nodes probe. 0 when the probes are off (--probe.overlay).',
    }),
    stat('Overlay paths down', [target(zero(`count(swarmnet_overlay_probe_loss_ratio{${P()}} == 1)`))], {
      thresholds: BAD, description: 'Paths whose last round lost every small probe. Alert: SwarmnetOverlayPathDown, when it lasts.',
    }),
    stat('Overlay paths losing probes', [target(zero(`count(swarmnet_overlay_probe_loss_ratio{${P()}} > 0 < 1)`))], {
      thresholds: BAD, description: 'Paths whose last round lost some of its small probes, not all. Alert: SwarmnetOverlayPathLossy, when it lasts.',
    }),
    stat('Full-size paths failing', [target(zero(`count(swarmnet_overlay_probe_full_size_ok{${P()}} == 0)`))], {
      thresholds: BAD, description: 'Paths whose last full-size probe (the overlay MTU, DF set) was not answered: an MTU blackhole when small probes pass. Alert: SwarmnetOverlayFullSizePathBroken.',
    }),
    timeline(`Probe loss by network and peer (worst ${TOP})`, [
      target(top(`max by (node, network, peer_node) (swarmnet_overlay_probe_loss_ratio{${P()}})`), path),
    ], {
      unit: 'percentunit', min: 0,
      thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.01 }, { color: 'red', value: 1 }] },
      description: 'Share of the small ICMP echo probes of each round lost, from each node to each peer node of each overlay network: green all answered, orange some lost, red all lost.',
    }),
    timeline(`Full-size probe by network and peer (worst ${TOP})`, [
      target(`bottomk(${TOP}, min by (node, network, peer_node) (swarmnet_overlay_probe_full_size_ok{${P()}}))`, path),
    ], {
      thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
      mappings: [{ type: MappingType.ValueToText, options: { 0: { text: 'lost', color: 'red', index: 0 }, 1: { text: 'answered', color: 'green', index: 1 } } }],
      description: 'Whether the full-size probe of each round (as large as the overlay MTU, DF set) was answered. Lost while the small probes pass: the underlay cannot carry the overlay MTU plus 50 bytes of VXLAN (moby#41775).',
    }),
    ts(`Probe round-trip time by network and peer (top ${TOP})`, [
      target(top(`max by (node, network, peer_node) (swarmnet_overlay_probe_rtt_seconds{${P()}})`), path),
    ], { unit: 's', min: 0, description: 'Mean RTT of the answered small probes of each round; a gap when none was answered.' }),
    table('Overlay path probes (last round)', [
      target(`${PROBE_PATH}(swarmnet_overlay_probe_loss_ratio{${P()}})`),
      target(`1000 * ${PROBE_PATH}(swarmnet_overlay_probe_rtt_seconds{${P()}})`),
      target(`${PROBE_PATH}(swarmnet_overlay_probe_full_size_ok{${P()}})`),
      target(`${PROBE_PATH}(swarmnet_overlay_probe_mtu_bytes{${P()}})`),
    ], {
      w: 12,
      merge: { 'Value #A': 'small probes lost', 'Value #B': 'RTT (ms)', 'Value #C': 'full-size answered', 'Value #D': 'full-size bytes' },
      description: 'Every probed path of the selected nodes and networks, with its last round.',
    }),
  ];
}

export const DASHBOARDS = { 'swarmnet-overview.json': overview, 'swarmnet-node.json': node, 'swarmnet-lb.json': lb, 'swarmnet-exporter.json': exporter };

/** @param {Dashboard} d */
export function render(d) {
  return `${JSON.stringify(d, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, d] of Object.entries(DASHBOARDS)) {
    writeFileSync(join(OUT, file), render(d));
    process.stdout.write(`wrote ${join(OUT, file)}: ${d.panels.length} panels\n`);
  }
}
