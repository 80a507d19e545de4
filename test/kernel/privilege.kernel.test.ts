// Least privilege: the exporter started without CAP_SYS_ADMIN and CAP_NET_ADMIN
// (setpriv drops them from the bounding set, so root loses them at exec) serves
// what it can, says once which capabilities it lacks and what that costs, and
// counts the denied namespaces instead of warning about each one.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { one, parseProm, pick } from '../helpers/prom.js';
import { TestNamespaces } from '../helpers/netns.js';

const ROOT = join(import.meta.dirname, '..', '..');
const prefix = `swp${process.pid}-`;
const nss = new TestNamespaces(prefix);
const PORT = 19000 + (process.pid % 1000);
const N = 5;

let proc: ChildProcess | undefined;
const logLines: string[] = [];

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${PORT}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

beforeAll(async () => {
  for (let i = 0; i < N; i++) nss.add(`n${i}`);
  proc = spawn('setpriv', ['--bounding-set=-sys_admin,-net_admin', '--inh-caps=-sys_admin,-net_admin', '--',
    process.execPath, join(ROOT, 'dist', 'main.js'),
    `--web.listen-address=127.0.0.1:${PORT}`, '--netns.dir=/run/netns', `--netns.exclude=^(?!${prefix}|host$)`,
    '--docker.host=unix:///nonexistent/docker.sock', '--log.format=logfmt'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buffered = '';
  const collect = (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    logLines.push(...lines);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  for (let t = 0; ; t++) {
    try {
      await metrics();
      break;
    } catch (err) {
      if (t > 100 || proc.exitCode !== null) throw new Error(`exporter did not come up: ${(err as Error).message}\n${logLines.join('\n')}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
});
afterAll(() => {
  proc?.kill('SIGTERM');
  nss.destroy();
});

describe('without CAP_SYS_ADMIN and CAP_NET_ADMIN', () => {
  it('serves the host namespace and counts every denied namespace, logging one line that names the missing capabilities', async () => {
    const first = parseProm(await metrics());
    const second = parseProm(await metrics());
    // the exporter's own namespace needs no capability
    expect(pick(second, 'swarmnet_interface_up', { netns: 'host' }).length).toBeGreaterThan(0);
    // each of our namespaces was denied, in each scrape, and counted as such
    expect(one(second, 'swarmnet_netns_read_failures', { reason: 'permission' }).value).toBe(N);
    const denied = (s: typeof first) => one(s, 'swarmnet_exporter_errors_total', { source: 'netns', reason: 'permission' }).value;
    expect(denied(second) - denied(first)).toBe(N);
    expect(pick(second, 'swarmnet_interface_up', {}).filter((s) => s.labels.netns!.startsWith(prefix))).toEqual([]);

    const capabilityLines = logLines.filter((l) => l.includes('missing capabilities'));
    expect(capabilityLines).toHaveLength(1);
    expect(capabilityLines[0]).toContain('CAP_SYS_ADMIN');
    expect(capabilityLines[0]).toContain('CAP_NET_ADMIN');
    // no per-namespace warning: the denials are explained by that one line
    expect(logLines.filter((l) => l.includes('level=warn') && l.includes(prefix))).toEqual([]);
  });
});
