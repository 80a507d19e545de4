// Discover the network namespaces Docker made, and classify them by file name.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export type NetnsKind = 'host' | 'overlay' | 'lb' | 'ingress_sbox' | 'sandbox' | 'other';
export const NETNS_KINDS: readonly NetnsKind[] = ['host', 'overlay', 'lb', 'ingress_sbox', 'sandbox', 'other'];

export interface NetnsRef {
  /** label value: the file name, or "host" */
  name: string;
  kind: NetnsKind;
  /** null: the exporter's own namespace */
  path: string | null;
}

export function classifyNetns(name: string): NetnsKind {
  if (name.startsWith('1-')) return 'overlay';
  if (name.startsWith('lb_')) return 'lb';
  if (name === 'ingress_sbox') return 'ingress_sbox';
  // a sandbox file is named after the first 12 hex characters of the sandbox id
  if (/^[0-9a-f]{12}$/.test(name)) return 'sandbox';
  return 'other';
}

export interface DiscoveryResult {
  namespaces: NetnsRef[];
  /** directories that could not be listed, with the reason */
  dirErrors: Array<{ dir: string; code: string }>;
}

/**
 * List every file in the configured directories. A missing directory is not an
 * error worth failing for (no swarm network yet), but it is reported.
 * hostPath: the namespace reported as "host" (null: our own).
 */
export async function discoverNetns(dirs: string[], hostPath: string | null | false): Promise<DiscoveryResult> {
  const namespaces: NetnsRef[] = [];
  const dirErrors: DiscoveryResult['dirErrors'] = [];
  if (hostPath !== false) namespaces.push({ name: 'host', kind: 'host', path: hostPath });
  const seen = new Set<string>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      dirErrors.push({ dir, code: (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN' });
      continue;
    }
    for (const name of entries.sort()) {
      if (name.startsWith('.') || name === 'default') continue;
      // the same name in two directories would collide on the netns label
      const label = seen.has(name) ? join(dir, name) : name;
      seen.add(name);
      namespaces.push({ name: label, kind: classifyNetns(name), path: join(dir, name) });
    }
  }
  return { namespaces, dirErrors };
}
