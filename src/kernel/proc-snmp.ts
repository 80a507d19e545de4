// A namespace's UDP counters from /proc/net/snmp. The file shows the namespace
// of the thread that reads it (/proc/thread-self/net/snmp), so the addon reads
// it on the pool thread that entered the namespace, in the same trip as the
// netlink sockets are opened (NsSession.procNetFile): every namespace the UDP
// reader covers gets its counters, Docker's namespace files included. Parsing
// is here, on the kernel's text.

/** The Udp: line of /proc/net/snmp, by field name (InDatagrams, InErrors, RcvbufErrors...). */
export type UdpSnmp = Record<string, number>;

/** The /proc/thread-self/net file the UDP reader asks the addon for. */
export const SNMP_FILE = 'snmp';

/** The named section (e.g. "Udp") of /proc/net/snmp: a header line of names, then a line of values. */
export function parseSnmp(text: string, section: string): Record<string, number> | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith(`${section}: `));
  if (lines.length < 2) return undefined;
  const names = lines[0]!.slice(section.length + 2).trim().split(/\s+/);
  const values = lines[1]!.slice(section.length + 2).trim().split(/\s+/).map(Number);
  if (names.length !== values.length || values.some((v) => !Number.isFinite(v))) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}
