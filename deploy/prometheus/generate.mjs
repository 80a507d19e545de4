#!/usr/bin/env node
// Writes deploy/prometheus/rules/swarmnet.rules.yml from the rules below and a
// small configuration, the way the Prometheus mixins do with their _config:
//
//   node deploy/prometheus/generate.mjs                      # the shipped file
//   node deploy/prometheus/generate.mjs --selector 'job="swarm-net"' --out my.rules.yml
//   node deploy/prometheus/generate.mjs --out -              # to stdout
//
// Options (each also --<name> <value> on the command line):
//   selector         label matchers every exporter series is selected with
//                    (default job="swarmnet", the job of deploy/prometheus/prometheus.yml)
//   runbookUrl       where the README's runbook sections are
//   vxlanDropShare   share of a VXLAN device's packets dropped or errored that alerts
//   vxlanDropFloor   packets/s dropped or errored under which a device is left alone
//   lbDrainWindow    how long a load-balancer backend may stay at weight 0 (draining)
//                    before it is suspect; the alert fires after twice this
//
// The committed rules file is this script's output with the defaults; a unit test
// (test/unit/rules.test.ts) checks that they agree.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaults = {
  selector: 'job="swarmnet"',
  runbookUrl: 'https://github.com/swarmnet/swarmnet-exporter/blob/main/README.md',
  vxlanDropShare: 0.01,
  vxlanDropFloor: 0.1,
  lbDrainWindow: '30m',
};

/** The rule groups for a configuration. */
export function groups(config = {}) {
  const c = { ...defaults, ...config };
  /** a selector: the configured one and these matchers */
  const s = (...matchers) => `{${[c.selector, ...matchers].filter(Boolean).join(', ')}}`;
  const runbook = (alert) => `${c.runbookUrl}#runbook-${alert.toLowerCase()}`;
  const rule = (r) => ({ ...r, annotations: { ...r.annotations, runbook_url: runbook(r.alert) } });

  const vxlanBad = (indent) => [
    `rate(swarmnet_interface_receive_dropped_total${s('netns_kind="overlay"')}[5m])`,
    `+ rate(swarmnet_interface_transmit_dropped_total${s('netns_kind="overlay"')}[5m])`,
    `+ rate(swarmnet_interface_receive_errors_total${s('netns_kind="overlay"')}[5m])`,
    `+ rate(swarmnet_interface_transmit_errors_total${s('netns_kind="overlay"')}[5m])`,
  ].map((l, i) => `${indent}${i === 0 ? '  ' : ''}${l}`);
  const vxlanPackets = (indent) => [
    `+ rate(swarmnet_interface_receive_packets_total${s('netns_kind="overlay"')}[5m])`,
    `+ rate(swarmnet_interface_transmit_packets_total${s('netns_kind="overlay"')}[5m])`,
  ].map((l) => `${indent}${l}`);
  const drainFor = c.lbDrainWindow;

  return [
    {
      name: 'swarmnet-overlay',
      rules: [
        rule({
          alert: 'SwarmnetVxlanDropsRising',
          comment: [
            'drops and errors on the VXLAN device of an overlay network namespace',
            '(found by link kind, not by name: vxlan0 today, vxlan1 in older engines),',
            `as a share of the packets it handles (over ${c.vxlanDropShare * 100}%), at least`,
            `${c.vxlanDropFloor} packets/s so that an idle device's stray drop is left alone`,
          ],
          expr: [
            '(',
            '    (',
            ...vxlanBad('      '),
            '    )',
            '  /',
            '    (',
            ...vxlanBad('      '),
            ...vxlanPackets('      '),
            '    )',
            `  > ${c.vxlanDropShare}`,
            'and',
            '    (',
            ...vxlanBad('      '),
            '    )',
            `  > ${c.vxlanDropFloor}`,
            ')',
            '* on (job, instance, netns, interface) group_left (kind)',
            `  swarmnet_interface_info${s('netns_kind="overlay"', 'kind="vxlan"')}`,
          ],
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'VXLAN drops/errors on overlay {{ $labels.network }} on node {{ $labels.node }}',
            description: [
              'The VXLAN device {{ $labels.interface }} of overlay network {{ $labels.network }}',
              '(namespace {{ $labels.netns }}) on node {{ $labels.node }} has dropped or errored',
              '{{ $value | humanizePercentage }} of its packets for 15 minutes. Transmit drops usually mean',
              'no forwarding entry or route to a remote VTEP; receive drops/errors point at',
              'MTU, checksum offload or UDP 4789 filtering between nodes.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetOverlayPeersMissing',
          comment: [
            'peers the control plane lists that the VXLAN FDB has no VTEP for, counted from',
            'the per-peer series: a stale VTEP (state="unknown") does not hide a missing one',
          ],
          expr: [
            'count without (peer_node, peer_ip, state) (',
            `  swarmnet_overlay_peer_mismatch${s('state="missing"')}`,
            ')',
          ],
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Overlay {{ $labels.network }} on node {{ $labels.node }} is missing {{ $value }} VXLAN peer(s)',
            description: [
              'The swarm control plane lists {{ $value }} peer node(s) of overlay network {{ $labels.network }}',
              'that node {{ $labels.node }} has no VTEP for in its VXLAN forwarding database, for 5 minutes.',
              "Containers on this node cannot reach the network's tasks on those nodes.",
              'swarmnet_overlay_peer_mismatch{state="missing"} names them.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetOverlayL2Inconsistent',
          expr: [`swarmnet_overlay_l2_inconsistencies${s()} > 0`],
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Layer-2 inconsistency ({{ $labels.kind }}) on overlay {{ $labels.network }}, node {{ $labels.node }}',
            description: [
              '{{ $value }} remote endpoint(s) of overlay network {{ $labels.network }} on node',
              '{{ $labels.node }} have {{ if eq $labels.kind "missing_fdb" }}a permanent neighbour',
              'entry but no VXLAN FDB entry{{ else }}a VXLAN FDB entry pointing at the wrong node',
              '(VTEP){{ end }}: traffic to them is black-holed (moby#52661, moby#31588).',
              'swarmnet_overlay_l2_inconsistent_endpoint lists the endpoints.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetFdbGrowth',
          comment: [
            "an overlay bridge's FDB grew by more than 500 entries and by half in an",
            'hour: leaked entries (tasks long gone) or a MAC flood, unless a service',
            'was scaled up by that much',
          ],
          expr: [
            '(',
            `    sum without (state, bridge) (swarmnet_bridge_fdb_entries${s('netns_kind="overlay"')})`,
            `  - sum without (state, bridge) (swarmnet_bridge_fdb_entries${s('netns_kind="overlay"')} offset 1h)`,
            ') > 500',
            'and',
            `  sum without (state, bridge) (swarmnet_bridge_fdb_entries${s('netns_kind="overlay"')})`,
            `> 1.5 * sum without (state, bridge) (swarmnet_bridge_fdb_entries${s('netns_kind="overlay"')} offset 1h)`,
          ],
          for: '30m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'FDB of overlay {{ $labels.network }} on node {{ $labels.node }} grew by {{ $value }} entries in an hour',
            description: [
              'The bridge forwarding database of overlay network {{ $labels.network }}',
              '(namespace {{ $labels.netns }}) on node {{ $labels.node }} grew by {{ $value }}',
              'entries (over 50%) in the last hour and kept growing for 30 minutes. Unless a',
              'service on this network was scaled up by as much, entries are leaking.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-loadbalancer',
      rules: [
        rule({
          alert: 'SwarmnetLbBackendDown',
          comment: [
            'a backend IPVS still sends new connections to (weight above 0) whose task is',
            'not running or unknown to the swarm (moby#33790, #35671, #38841); a draining',
            'backend (weight 0) gets no new connections and is SwarmnetLbBackendDrainingTooLong\'s',
          ],
          expr: [
            `swarmnet_lb_backend_weight${s()} > 0`,
            'and',
            `swarmnet_lb_backend_up${s()} == 0`,
          ],
          for: '2m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Dead load-balancer backend {{ $labels.backend }} for service {{ $labels.service }} on node {{ $labels.node }}',
            description: [
              'IPVS in {{ $labels.netns }} (network {{ $labels.network }}) on node {{ $labels.node }}',
              'still sends connections for VIP {{ $labels.vip }} (fwmark {{ $labels.fwmark }}) of service',
              '{{ $labels.service }} to backend {{ $labels.backend }} (weight {{ $value }}), whose task is',
              'not running or unknown to the swarm: connections sent to it fail.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetLbBackendDrainingTooLong',
          comment: [
            'swarm sets a stopping task\'s backend to weight 0 for its stop grace period,',
            `then removes it: at weight 0 in every scrape of ${drainFor}, for ${drainFor} more, is`,
            'longer than any plausible grace period (a leaked backend, or a task stuck in shutdown);',
            'max_over_time lets an exporter restart or a missed scrape pass',
          ],
          expr: [`max_over_time(swarmnet_lb_backend_weight${s()}[${drainFor}]) == 0`],
          for: drainFor,
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Load-balancer backend {{ $labels.backend }} of service {{ $labels.service }} draining for too long on node {{ $labels.node }}',
            description: [
              'IPVS in {{ $labels.netns }} (network {{ $labels.network }}) on node {{ $labels.node }}',
              `has held backend {{ $labels.backend }} of service {{ $labels.service }} (VIP {{ $labels.vip }}, fwmark {{ $labels.fwmark }})`,
              `at weight 0 (draining) for more than ${durationTimes(drainFor, 2)}, far longer than a stop grace period:`,
              'swarm did not remove it. It gets no new connections, but it is a leaked entry',
              'or a task that does not stop.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetLbServiceMissingBackends',
          comment: [
            'a task the control plane lists that IPVS does not balance to; missing in every scrape of',
            '2 minutes, so a new task seen by the control plane a scrape before IPVS (every rolling',
            'update, every scale-up) does not even go pending',
          ],
          expr: [
            `min_over_time(swarmnet_lb_service_missing_backends${s()}[2m]) > 0`,
            'unless',
            `swarmnet_lb_service_backends${s()} == 0`,
          ],
          for: '3m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Service {{ $labels.service }} has {{ $value }} task(s) missing from the load balancer on node {{ $labels.node }}',
            description: [
              'The swarm lists {{ $value }} running task(s) of service {{ $labels.service }} on network',
              '{{ $labels.network }} that IPVS in {{ $labels.netns }} on node {{ $labels.node }} does not',
              'balance to (VIP {{ $labels.vip }}, fwmark {{ $labels.fwmark }}): their share of the',
              'traffic goes to the other tasks.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetLbVipWithoutBackends',
          comment: ['no backend at all; a service scaled to 0 (nothing missing) is left out'],
          expr: [
            `swarmnet_lb_service_backends${s()} == 0`,
            'unless',
            `swarmnet_lb_service_missing_backends${s()} == 0`,
          ],
          for: '2m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'VIP {{ $labels.vip }} of service {{ $labels.service }} has no backends on node {{ $labels.node }}',
            description: [
              'IPVS in {{ $labels.netns }} (network {{ $labels.network }}) on node {{ $labels.node }}',
              'has no backend for VIP {{ $labels.vip }} (fwmark {{ $labels.fwmark }})',
              'of service {{ $labels.service }}: every connection to the service from this node fails.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-exporter',
      rules: [
        rule({
          alert: 'SwarmnetExporterDown',
          expr: [`up${s()} == 0`],
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'swarmnet-exporter on node {{ $labels.node }} is down',
            description: [
              'Prometheus could not scrape swarmnet-exporter at {{ $labels.instance }} on node',
              '{{ $labels.node }} for 5 minutes: the overlay data plane of that node is not watched.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetExporterAbsent',
          comment: ['no exporter target at all: every other rule here is silent'],
          expr: [`absent(up${s()})`],
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'No swarmnet-exporter target at all',
            description: [
              `Prometheus has had no target matching up${s()} for 10 minutes: no node's overlay`,
              'data plane is watched and no swarmnet alert can fire. The exporter service is',
              'gone or scaled to nothing, or service discovery or its relabelling finds no task.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetDockerDown',
          comment: [
            "the exporter's Docker state cache cannot reach the Docker API (dockerd stopped,",
            'socket not mounted, API too slow) in over a quarter of the scrapes of 10 minutes:',
            'an API failing every other refresh is seen, a dockerd restart of a minute or two is not',
          ],
          expr: [`avg_over_time(swarmnet_docker_up${s()}[10m]) < 0.75`],
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Docker API unreachable from swarmnet-exporter on node {{ $labels.node }}',
            description: [
              'The Docker API on node {{ $labels.node }} ({{ $labels.instance }}) answered swarmnet-exporter',
              'in only {{ $value | humanizePercentage }} of the last 10 minutes, for 5 minutes. Swarm names are',
              'frozen at their last known values and the control-plane checks (overlay peers,',
              'load-balancer backends up) stop; dockerd itself may be down on that node.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetNetnsDirUnreadable',
          comment: [
            "a namespace directory (--netns.dir) cannot be listed: wrong or missing mount;",
            'the series with reason="<errno>" exists only while failing, min_over_time bridges',
            'a missed scrape',
          ],
          expr: [`min_over_time(swarmnet_netns_dir_up${s()}[5m]) == 0`],
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Namespace directory {{ $labels.dir }} unreadable by swarmnet-exporter on node {{ $labels.node }}',
            description: [
              'swarmnet-exporter on node {{ $labels.node }} ({{ $labels.instance }}) cannot list the',
              'namespace directory {{ $labels.dir }} ({{ $labels.reason }}) for 10 minutes: no namespace in it',
              'is watched. The bind mount of /var/run/docker/netns is missing or wrong, or its',
              'propagation is not rslave.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetCollectorFailing',
          comment: [
            'a share of scrapes, not every scrape: a collector failing every other scrape is',
            'broken too; the docker collector is SwarmnetDockerDown\'s',
          ],
          expr: [`avg_over_time(swarmnet_scrape_collector_success${s('collector!="docker"')}[15m]) < 0.9`],
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'swarmnet-exporter collector {{ $labels.collector }} failing on node {{ $labels.node }}',
            description: [
              'The {{ $labels.collector }} collector of swarmnet-exporter on node {{ $labels.node }}',
              'succeeded in only {{ $value | humanizePercentage }} of the scrapes of the last 15 minutes, for',
              '10 minutes; its metrics are missing or partial. swarmnet_exporter_errors_total and',
              "the exporter's log say why.",
            ],
          },
        }),
        rule({
          alert: 'SwarmnetNodeWithoutExporter',
          comment: [
            "Managers list the swarm's nodes (swarmnet_swarm_node_info, node and node_id);",
            'every exporter says which node it runs on (swarmnet_node_info, node_id). Ready,',
            'active nodes whose id no exporter target reports are left; a target that still',
            'exists but fails keeps its node covered for an hour (that is SwarmnetExporterDown).',
            'Joined on node_id and instance, so any target labels do; label_replace gives back',
            'the listed node as `node` where a target label `node` renamed it exported_node.',
            'Drained nodes run no tasks, global ones included, and are left out.',
          ],
          expr: [
            'max by (node, node_id) (',
            '  label_replace(',
            `    swarmnet_swarm_node_info${s('state="ready"', 'availability!="drain"')},`,
            '    "node", "$1", "exported_node", "(.+)"',
            '  )',
            ')',
            'unless on (node_id)',
            '  (',
            `      last_over_time(swarmnet_node_info${s()}[1h])`,
            `    and on (instance)`,
            `      up${s()}`,
            '  )',
          ],
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Swarm node {{ $labels.node }} has no swarmnet-exporter scraped',
            description: [
              'Swarm node {{ $labels.node }} (id {{ $labels.node_id }}) is ready and active, but',
              'Prometheus has had no swarmnet-exporter target on it for 10 minutes: the global',
              'service has no running task there, or discovery does not see it.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-neighbour',
      rules: [
        rule({
          alert: 'SwarmnetNeighbourTableNearFull',
          comment: [
            'entries of every namespace together against gc_thresh3, the hard limit; permanent entries',
            '(the static ARP/ND entries Docker programs for every overlay peer) are exempt from the limit',
            'since Linux 4.19, so they are taken out: a big swarm must not page for them',
          ],
          expr: [
            '(',
            `  swarmnet_neighbour_table_entries${s()}`,
            '    - on (job, instance, family) group_left ()',
            '  (',
            `    sum by (job, instance, family) (swarmnet_neighbour_entries${s('state="permanent"')})`,
            '      or on (job, instance, family)',
            `    swarmnet_neighbour_table_entries${s()} * 0`,
            '  )',
            ')',
            '  / ignoring (level)',
            `swarmnet_neighbour_table_threshold${s('level="3"')}`,
            '> 0.9',
          ],
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Neighbour table ({{ $labels.family }}) on node {{ $labels.node }} is {{ $value | humanizePercentage }} of gc_thresh3',
            description: [
              "The kernel's {{ $labels.family }} neighbour table on node {{ $labels.node }} holds",
              '{{ $value | humanizePercentage }} of its hard limit gc_thresh3 (all namespaces together,',
              'permanent entries left out as the kernel leaves them out) for 5 minutes. At the limit new',
              'neighbours cannot be resolved ("neighbour table',
              'overflow", moby#32195) and traffic to them is dropped. swarmnet_neighbour_entries',
              'shows which namespaces hold the entries.',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetNeighbourTableOverflow',
          comment: ['any "table full": a neighbour entry could not be created, packets were dropped'],
          expr: [`increase(swarmnet_neighbour_table_fulls_total${s()}[5m]) > 0`],
          for: '0m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Neighbour table ({{ $labels.family }}) overflowed on node {{ $labels.node }}',
            description: [
              "The kernel's {{ $labels.family }} neighbour table on node {{ $labels.node }} was full",
              '{{ $value | humanize }} time(s) in the last 5 minutes: new neighbour entries could not be',
              'created and packets to those neighbours were dropped (the kernel logs "neighbour table',
              'overflow", moby#32195). Raise gc_thresh1-3 or find the namespaces filling the table.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-vxlan-receive',
      rules: [
        rule({
          alert: 'SwarmnetVxlanSocketDrops',
          comment: ["the kernel's UDP socket of the VXLAN port drops datagrams: overlay packets lost before decapsulation"],
          expr: [`rate(swarmnet_udp_socket_drops_total${s()}[5m]) > 0`],
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'VXLAN UDP socket on port {{ $labels.port }} drops packets on node {{ $labels.node }}',
            description: [
              'The UDP socket bound to VXLAN port {{ $labels.port }} (namespace {{ $labels.netns }}) on',
              'node {{ $labels.node }} has dropped {{ $value | humanize }} datagrams/s for 10 minutes:',
              'overlay packets arriving from other nodes are lost before they are decapsulated.',
              'Compare swarmnet_udp_socket_receive_queue_bytes with swarmnet_udp_socket_receive_buffer_bytes,',
              'and ss -uam on the node.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-overlay-mtu',
      rules: [
        rule({
          alert: 'SwarmnetOverlayMtuTooLarge',
          comment: ['interfaces of an overlay network whose MTU the underlay cannot carry once VXLAN adds its 50 bytes'],
          expr: [`swarmnet_overlay_mtu_mismatched_interfaces${s('direction="above"')} > 0`],
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Overlay {{ $labels.network }} on node {{ $labels.node }} has {{ $value }} interface(s) with an MTU too large for the underlay',
            description: [
              '{{ $value }} interface(s) of overlay network {{ $labels.network }} (namespace {{ $labels.netns }})',
              'on node {{ $labels.node }} have an MTU above the underlay MTU less 50 bytes of VXLAN',
              'encapsulation (swarmnet_overlay_mtu_expected_bytes). Full-size packets between nodes are',
              'dropped or fragmented: small requests work, large transfers stall.',
              'swarmnet_overlay_interface_mtu_mismatch_bytes names the interfaces.',
            ],
          },
        }),
      ],
    },
    {
      name: 'swarmnet-overlay-probes',
      rules: [
        rule({
          alert: 'SwarmnetOverlayPathDown',
          comment: [
            'every small probe to a peer node lost in every round of 3 minutes (12 rounds at',
            'the default 15 s), for 3 minutes more: a loss run of 6 minutes; a peer restarting',
            'or leaving the network (a rolling update, a scale-down, a drain) loses a few',
            'rounds, then answers again or its series goes. Per (network, peer node): the',
            "series of the peer's previous endpoint (peer_ip changed in a rolling update)",
            'still count while in the window; range functions bridge an exporter restart.',
            'No series (probes off, --probe.overlay not given) is no alert.',
          ],
          expr: [
            'min without (peer_ip) (',
            `  min_over_time(swarmnet_overlay_probe_loss_ratio${s()}[3m])`,
            ') == 1',
          ],
          for: '3m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Overlay {{ $labels.network }}: node {{ $labels.node }} cannot reach peer node {{ $labels.peer_node }}',
            description: [
              'Every ICMP echo probe from node {{ $labels.node }} (namespace {{ $labels.netns }}) to peer node',
              '{{ $labels.peer_node }} on overlay network {{ $labels.network }} was lost, in every round,',
              'for 6 minutes (3 for a peer first probed): tasks on this node cannot reach tasks on',
              'that node over this network. Likely VXLAN (UDP 4789 or the data-path port) or ESP (encrypted overlays)',
              'dropped between the two nodes, or a missing forwarding entry (SwarmnetOverlayPeersMissing).',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetOverlayFullSizePathBroken',
          comment: [
            'the MTU blackhole (moby#41775): small probes to a peer node get through (under half',
            'of them lost over 5 minutes), while the full-size probe at the overlay MTU with DF',
            'set was not answered once in 5 minutes, for 5 minutes more; a path that is down',
            'altogether is SwarmnetOverlayPathDown\'s. The value is the probe size in bytes.',
          ],
          expr: [
            'max without (peer_ip) (',
            `  max_over_time(swarmnet_overlay_probe_mtu_bytes${s()}[5m])`,
            ')',
            'and',
            '  max without (peer_ip) (',
            `    max_over_time(swarmnet_overlay_probe_full_size_ok${s()}[5m])`,
            '  ) == 0',
            'and',
            '  min without (peer_ip) (',
            `    avg_over_time(swarmnet_overlay_probe_loss_ratio${s()}[5m])`,
            '  ) < 0.5',
          ],
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Overlay {{ $labels.network }}: full-size packets from node {{ $labels.node }} to peer node {{ $labels.peer_node }} are lost',
            description: [
              'Small ICMP echo probes from node {{ $labels.node }} (namespace {{ $labels.netns }}) to peer node',
              '{{ $labels.peer_node }} on overlay network {{ $labels.network }} are answered, but the',
              '{{ $value }}-byte probe (the overlay MTU, DF set) has not been once in 10 minutes (5 for',
              'a peer first probed): an MTU blackhole (moby#41775). Pings and small requests work; TLS handshakes, large',
              'responses and bulk transfers between these nodes hang. The underlay path between',
              'the nodes carries less than the overlay MTU plus 50 bytes of VXLAN (plus ESP on',
              'encrypted overlays).',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetOverlayPathLossy',
          comment: [
            'part of the small probes to a peer node lost in more than a quarter of the rounds of',
            '15 minutes (quantile_over_time(0.75, ...) > 0), for 20 minutes: sustained loss, not a',
            'burst. A peer restart or an outage of any length loses rounds in a row: the',
            'condition holds for at most the outage plus 7.5 minutes, and from 10 minutes of',
            'total loss on (SwarmnetOverlayPathDown fires) it is suspended, so it does not follow',
            'an outage with a warning. The value is the share of small probes lost over 15 minutes.',
          ],
          expr: [
            'min without (peer_ip) (',
            `  avg_over_time(swarmnet_overlay_probe_loss_ratio${s()}[15m])`,
            ')',
            'and',
            '  min without (peer_ip) (',
            `    quantile_over_time(0.75, swarmnet_overlay_probe_loss_ratio${s()}[15m])`,
            '  ) > 0',
            'unless',
            '  min without (peer_ip) (',
            `    min_over_time(swarmnet_overlay_probe_loss_ratio${s()}[10m])`,
            '  ) == 1',
          ],
          for: '20m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Overlay {{ $labels.network }}: packet loss from node {{ $labels.node }} to peer node {{ $labels.peer_node }}',
            description: [
              'ICMP echo probes from node {{ $labels.node }} (namespace {{ $labels.netns }}) to peer node',
              '{{ $labels.peer_node }} on overlay network {{ $labels.network }} lost {{ $value | humanizePercentage }}',
              'of the small probes over 15 minutes, with loss in more than a quarter of the rounds,',
              'for 20 minutes: TCP between tasks on these nodes retransmits and slows down. Look',
              'at the underlay between the nodes (errors, congestion, a flapping link or bond)',
              'and at VXLAN drops on both nodes (SwarmnetVxlanDropsRising, SwarmnetVxlanSocketDrops).',
            ],
          },
        }),
        rule({
          alert: 'SwarmnetOverlayProbeStalled',
          comment: [
            "the probe rounds of a node stopped: no path's last-round timestamp moved in 10 minutes",
            'while the exporter still exports them (cached results, frozen), for 5 minutes; the',
            'alerts above would stay as the last rounds left them. changes(), not time() - the',
            "timestamp, so the node's clock does not matter; an exporter restart's new series move",
            'within a round; probes turned off (series gone) are no alert',
          ],
          expr: [
            'max without (network, netns, peer_node, peer_ip) (',
            `  changes(swarmnet_overlay_probe_last_round_timestamp_seconds${s()}[10m])`,
            ') == 0',
            'and',
            '  max without (network, netns, peer_node, peer_ip) (',
            `    swarmnet_overlay_probe_last_round_timestamp_seconds${s()}`,
            '  )',
          ],
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Overlay path probes of node {{ $labels.node }} have stopped',
            description: [
              'swarmnet-exporter on node {{ $labels.node }} ({{ $labels.instance }}) still exports overlay path',
              'probe results, but no probe round has completed for 15 minutes: the results are stale and',
              'SwarmnetOverlayPathDown, SwarmnetOverlayFullSizePathBroken and SwarmnetOverlayPathLossy',
              "cannot see a path break from this node. The exporter's log and swarmnet_exporter_errors_total",
              'say why; restarting its task restarts the probes.',
            ],
          },
        }),
      ],
    },
  ];
}

/** "30m" twice: "1h" (whole hours and minutes only) */
function durationTimes(d, n) {
  const m = /^(\d+)([mh])$/.exec(d);
  if (!m) return `${n} × ${d}`;
  const minutes = Number(m[1]) * (m[2] === 'h' ? 60 : 1) * n;
  return minutes % 60 === 0 ? `${minutes / 60} hour${minutes === 60 ? '' : 's'}` : `${minutes} minutes`;
}

const q = (v) => JSON.stringify(v);
const indentLines = (lines, pad) => lines.map((l) => (l === '' ? '' : `${pad}${l}`)).join('\n');

/** The rules file text for a configuration. */
export function render(config = {}) {
  const c = { ...defaults, ...config };
  const out = [
    '# Alerts on the Docker Swarm overlay data plane, from swarmnet-exporter.',
    '# GENERATED by deploy/prometheus/generate.mjs: edit that, then run',
    '#   node deploy/prometheus/generate.mjs',
    `# Selector: ${c.selector} (generate.mjs --selector '...' for another job).`,
    '# Each alert\'s runbook is the README section #runbook-<alert name in lower case>.',
    '# Annotations name the node from the target label `node` that',
    '# deploy/prometheus/prometheus.yml adds; no expression depends on it.',
    'groups:',
  ];
  for (const g of groups(c)) {
    out.push(`  - name: ${g.name}`, '    rules:');
    g.rules.forEach((r, i) => {
      if (i > 0) out.push('');
      out.push(`      - alert: ${r.alert}`);
      for (const l of r.comment ?? []) out.push(`        # ${l}`);
      out.push('        expr: |', indentLines(r.expr, '          '));
      out.push(`        for: ${r.for}`, '        labels:');
      for (const [k, v] of Object.entries(r.labels)) out.push(`          ${k}: ${v}`);
      out.push('        annotations:');
      out.push(`          summary: ${q(r.annotations.summary)}`);
      out.push('          description: >-', indentLines(r.annotations.description, '            '));
      out.push(`          runbook_url: ${r.annotations.runbook_url}`);
    });
    out.push('');
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

function main(argv) {
  const config = {};
  let outFile = join(dirname(fileURLToPath(import.meta.url)), 'rules', 'swarmnet.rules.yml');
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-zA-Z]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    if (m[1] === 'out') { outFile = value; continue; }
    if (!(m[1] in defaults)) throw new Error(`unknown option --${m[1]} (options: ${Object.keys(defaults).join(', ')}, out)`);
    config[m[1]] = typeof defaults[m[1]] === 'number' ? Number(value) : value;
  }
  const text = render(config);
  if (outFile === '-') process.stdout.write(text);
  else writeFileSync(outFile, text);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
