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
export const linkDumps = metric('swarmnet_netns_link_dumps_total', 'counter',
  'Link tables read since start, by dump: "full" (RTM_GETLINK: names, kinds, masters, counters; a namespace\'s first read, and again whenever one of its links changed) or "stats" (RTM_GETSTATS: only the counters, put on the links remembered from the last full dump). A full count that keeps pace with the scrapes means links change all the time.', ['dump']);
export const scrapeDuration = metric('swarmnet_scrape_duration_seconds', 'gauge',
  'Time the whole collection took for this scrape.', []);
export const buildInfo = metric('swarmnet_build_info', 'info',
  'Build facts: version, git revision, Node.js version.', ['version', 'revision', 'nodejs']);
