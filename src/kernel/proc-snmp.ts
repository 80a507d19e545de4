// A namespace's UDP counters from /proc/<pid>/net/snmp (the file shows the
// namespace of the process it belongs to): only where a process of that
// namespace is known, i.e. our own (/proc/self) or a namespace named by a
// /proc/<pid>/ns/net path. Docker's namespace files name no process: there the
// counters are not read.
import { readFile } from 'node:fs/promises';

/** The Udp: line of /proc/net/snmp, by field name (InDatagrams, InErrors, RcvbufErrors...). */
export type UdpSnmp = Record<string, number>;

/** The snmp file that shows the namespace at `nsPath` (null: our own), if any. */
export function snmpPathOf(nsPath: string | null): string | undefined {
  if (nsPath === null) return '/proc/self/net/snmp';
  const m = /^\/proc\/(\d+|self)\/ns\/net$/.exec(nsPath);
  return m ? `/proc/${m[1]}/net/snmp` : undefined;
}

/** The named section (e.g. "Udp") of /proc/net/snmp: a header line of names, then a line of values. */
export function parseSnmp(text: string, section: string): Record<string, number> | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith(`${section}: `));
  if (lines.length < 2) return undefined;
  const names = lines[0]!.slice(section.length + 2).trim().split(/\s+/);
  const values = lines[1]!.slice(section.length + 2).trim().split(/\s+/).map(Number);
  if (names.length !== values.length || values.some((v) => !Number.isFinite(v))) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

export async function readUdpSnmp(nsPath: string | null): Promise<UdpSnmp | undefined> {
  const path = snmpPathOf(nsPath);
  if (!path) return undefined;
  return parseSnmp(await readFile(path, 'utf8'), 'Udp');
}
