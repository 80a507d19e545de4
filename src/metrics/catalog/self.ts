// The exporter's own health.
import { metric } from '../family.js';

export const collectorDuration = metric('swarmnet_scrape_collector_duration_seconds', 'gauge',
  'Time a collector took in this scrape. collector="netns" is the shared kernel read of every namespace; collector="docker" is the last refresh of the Docker state cache, which runs on its own schedule, never in the scrape.', ['collector']);
export const collectorSuccess = metric('swarmnet_scrape_collector_success', 'gauge',
  '1 if the collector succeeded in this scrape, 0 if it failed (a collector also fails when a namespace read it needs failed). collector="docker" is 1 while the Docker API answers (swarmnet_docker_up).', ['collector']);
export const errorsTotal = metric('swarmnet_exporter_errors_total', 'counter',
  'Failures while reading, by source and reason (vanished namespace, permission, timeout, deadline, decode, netlink, docker...).', ['source', 'reason']);
export const namespaces = metric('swarmnet_netns_discovered', 'gauge',
  'Network namespaces found in the configured directories in this scrape, by kind.', ['netns_kind']);
export const namespaceReadFailures = metric('swarmnet_netns_read_failures', 'gauge',
  'Namespaces that could not be read in this scrape, by kind and reason.', ['netns_kind', 'reason']);
export const namespaceDirUp = metric('swarmnet_netns_dir_up', 'gauge',
  '1 if a configured namespace directory could be listed, 0 if not.', ['dir', 'reason']);
export const tableReads = metric('swarmnet_netns_table_reads_total', 'counter',
  'Namespace tables read since start. table="links": read="full" is an RTM_GETLINK dump (names, kinds, masters, counters: a namespace\'s first read, and again whenever one of its links changed), read="counters_only" an RTM_GETSTATS dump put on the links remembered from the last full one. table="fdb": read="full" is an RTM_GETNEIGH dump of the bridge and VXLAN forwarding entries, read="remembered" the entries of the last dump, taken while no entry and no link changed. Full reads that keep pace with the scrapes mean those tables change all the time (or --no-netns.watch).', ['table', 'read']);
export const scrapeDuration = metric('swarmnet_scrape_duration_seconds', 'gauge',
  'Time the whole collection took for this scrape.', []);
export const buildInfo = metric('swarmnet_build_info', 'info',
  'Build facts: version, git revision, Node.js version.', ['version', 'revision', 'nodejs']);
