// The commands on a real two-node swarm (test/harness/swarm.ts): task and
// container names from dockerd, `netns exec` into a task by its name, and
// `links` from a task's eth0 to the overlay bridge and the VXLAN device whose
// remote VTEP is named by the other node.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkPath } from '../../src/topology/follow.js';
import { type Swarm, type SwarmNode, startSwarm } from '../harness/swarm.js';

const MAIN = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js');
let swarm: Swarm;
let node1: SwarmNode;
let node2: SwarmNode;
let flags: string[];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  swarm = await startSwarm({ nodes: 2 });
  [node1, node2] = swarm.nodes as [SwarmNode, SwarmNode];
  await swarm.docker(['network', 'create', '-d', 'overlay', '--subnet', '198.19.90.0/24', 'clinet']);
  await swarm.createService({ name: 'cli', networks: ['clinet'], replicas: 2, maxPerNode: 1, endpointMode: 'dnsrr' });
  await swarm.waitTasks('cli', 2);
  flags = [`--netns.dir=${node1.netnsDir}`, `--netns.host=${node1.netnsFile}`, `--docker.host=${node1.host}`, '--docker.wait=20s'];
}, 300_000);

afterAll(async () => {
  await swarm?.down();
});

interface Row { name: string; kind: string; network?: string; task?: string; container?: string; service?: string; interfaces: number }

describe('commands on a two-node swarm', () => {
  it('netns ls names the overlay network and the local task; exec enters the task by its names; links reach the peer node\'s VTEP', async () => {
    const ls = cli('netns', 'ls', '--json', ...flags);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = JSON.parse(ls.stdout) as Row[];
    expect(rows[0]!.name).toBe('host');
    const overlay = rows.find((r) => r.kind === 'overlay' && r.network === 'clinet')!;
    expect(overlay).toBeDefined();
    const task = rows.find((r) => r.kind === 'sandbox' && r.service === 'cli')!;
    expect(task.task).toMatch(/^cli\.[12]\./);
    expect(task.container).toBeTruthy();

    // the task's own address, as dockerd reports it
    const [cid] = await swarm.taskContainers(node1, 'cli');
    const ip = (await node1.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "clinet").IPAddress}}', cid!])).trim();
    for (const name of [task.task!, task.container!, task.task!.split('.').slice(0, 2).join('.')]) {
      const r = cli('netns', 'exec', ...flags, name, '--', 'ip', '-j', 'addr', 'show');
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const addrs = (JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string }> }>).flatMap((l) => l.addr_info.map((a) => a.local));
      expect(addrs, name).toContain(ip);
    }
    expect(cli('netns', 'exec', ...flags, task.task!, '--', 'sh', '-c', 'exit 3').code).toBe(3);
    // a service with a task on each node has one here: it resolves; the network resolves to its overlay namespace
    const vx = cli('netns', 'exec', ...flags, 'clinet', '--', 'ip', '-j', '-d', 'link', 'show', 'type', 'vxlan');
    expect(vx.code, vx.stderr).toBe(0);
    expect((JSON.parse(vx.stdout) as unknown[]).length).toBe(1);

    const links = cli('links', '--json', ...flags, task.task!, 'eth0');
    expect(links.code, links.stderr).toBe(0);
    const [path] = JSON.parse(links.stdout) as LinkPath[];
    expect(path!.hops).toHaveLength(2);
    const port = path!.hops[1]!;
    expect(port.netns).toBe(overlay.name);
    expect(port.owner).toBe('network=clinet');
    expect(port.bridge).toBeDefined();
    const remotes = port.vxlan[0]!.vxlan!.remotes;
    expect(remotes.find((r) => r.ip === node2.address)?.node).toBe(node2.name);
    const text = cli('links', ...flags, task.task!, 'eth0');
    expect(text.stdout).toContain(`${node2.address} (${node2.name})`);
  });
});
