// The topology page in a real headless Chromium (Debian's /usr/bin/chromium
// through playwright-core), served by the built exporter (node dist/main.js)
// behind basic auth, over namespaces this test builds. The DOM must show every
// namespace and every veth pair of the kernel's topology; the page must load
// nothing from anywhere but the exporter; and it must stay usable with 400
// namespaces (served from a made-up document through request interception).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import bcrypt from 'bcryptjs';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Topology } from '../../src/topology/model.js';
import { type OverlayFixture, REMOTES, VNI, buildOverlayFixture } from '../kernel/overlay-fixture.js';
import { syntheticTopology } from './topology-synthetic.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const OUTPUT = process.env.SWARMNET_TEST_OUTPUT ?? join(tmpdir(), 'swarmnet-test-output');
const USER = 'prom';
const PASSWORD = 'topology-test';

let fx: OverlayFixture;
let exporter: ChildProcess;
let base: string;
let scratch: string;
let context: BrowserContext;
const foreign: string[] = [];

const freePort = () => new Promise<number>((ok, fail) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => ok(port));
  }).on('error', fail);
});
const auth = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

beforeAll(async () => {
  fx = buildOverlayFixture('swtopo');
  scratch = mkdtempSync(join(tmpdir(), 'swtopo-'));
  writeFileSync(join(scratch, 'web.yml'), `basic_auth_users:\n  ${USER}: ${bcrypt.hashSync(PASSWORD, 4)}\n`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  exporter = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), `--web.listen-address=127.0.0.1:${port}`,
    `--web.config.file=${join(scratch, 'web.yml')}`, ...fx.flags, '--log.level=error'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}healthz`, { headers: auth })).ok) break;
    } catch { /* not listening yet */ }
    if (i > 100) throw new Error('exporter did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  context = await chromium.launchPersistentContext(join(scratch, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    httpCredentials: { username: USER, password: PASSWORD },
    viewport: { width: 1400, height: 900 },
  });
  context.on('request', (r) => {
    if (!r.url().startsWith(base)) foreign.push(r.url());
  });
  mkdirSync(OUTPUT, { recursive: true });
}, 120_000);

afterAll(async () => {
  await context?.close();
  exporter?.kill('SIGTERM');
  fx?.destroy();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('topology routes', () => {
  it('are behind the same basic auth as /metrics, and linked from the landing page', async () => {
    for (const path of ['metrics', 'topology', 'topology.html']) {
      expect((await fetch(base + path)).status, path).toBe(401);
      expect((await fetch(base + path, { headers: auth })).status, path).toBe(200);
    }
    expect(await (await fetch(base, { headers: auth })).text()).toContain('href="topology.html"');
  });

  it('GET /topology has every namespace, veth pair and the VXLAN device with its VNI and remote VTEPs', async () => {
    const topo = (await (await fetch(`${base}topology`, { headers: auth })).json()) as Topology;
    expect(topo.namespaces.map((n) => n.name).sort()).toEqual([...fx.files.keys()].sort());
    expect(topo.edges).toHaveLength(fx.sandboxes.length);
    const vx = topo.namespaces.find((n) => n.name === fx.overlay)!.interfaces.find((i) => i.name === 'vxlan0')!;
    expect(vx.vxlan?.vni).toBe(VNI);
    expect(vx.vxlan?.remotes.map((r) => r.ip)).toEqual(REMOTES);
  });
});

describe('topology page in headless Chromium', () => {
  it('draws every namespace as a box and every veth pair as an edge; loads nothing from elsewhere', async () => {
    const topo = (await (await fetch(`${base}topology`, { headers: auth })).json()) as Topology;
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}topology.html`);
    await page.waitForSelector('body[data-loaded]');
    for (const ns of fx.files.keys()) expect(await page.locator(`.ns[data-ns="${ns}"]`).count(), ns).toBe(1);
    const drawn = await page.$$eval('path.veth', (ps) => ps.map((p) => [(p as SVGElement).dataset.a, (p as SVGElement).dataset.b].sort().join(' ')));
    const expected = topo.edges.map((e) => [`${e.a.netns}/${e.a.interface}`, `${e.b.netns}/${e.b.interface}`].sort().join(' '));
    expect(drawn.sort()).toEqual(expected.sort());
    // each edge ends on its interfaces' rows
    for (const e of topo.edges) expect(await page.locator(`.if[data-ns="${e.b.netns}"][data-if="${e.b.interface}"]`).count()).toBe(1);
    const overlay = page.locator(`.ns[data-ns="${fx.overlay}"]`);
    expect(await overlay.innerText()).toContain(`VNI ${VNI}`);
    for (const ip of REMOTES) expect(await overlay.innerText()).toContain(ip);
    await page.screenshot({ path: join(OUTPUT, 'topology.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('stays usable at 400 namespaces: groups fold, search and the network filter narrow it down', async () => {
    const nets = Array.from({ length: 8 }, (_, i) => `net${i}`);
    const big = syntheticTopology(nets, 48); // 1 host + 8 * (overlay + lb + 48 tasks) = 401 namespaces
    expect(big.namespaces.length).toBeGreaterThanOrEqual(400);
    const page = await context.newPage();
    await page.route(`${base}topology`, (r) => r.fulfill({ contentType: 'application/json', body: JSON.stringify(big) }));
    const t0 = Date.now();
    await page.goto(`${base}topology.html`);
    await page.waitForSelector('body[data-loaded]');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await page.locator('.ns').count()).toBe(big.namespaces.length);
    expect(await page.locator('path.veth').count()).toBe(big.edges.length);
    // sandboxes start folded to their header line
    expect(await page.locator('.kind-sandbox .nsbody').count()).toBe(0);
    await page.selectOption('#network', 'net3');
    // net3's overlay, lb and 48 sandboxes
    expect(await page.locator('.ns').count()).toBe(50);
    await page.selectOption('#network', '');
    const task = big.namespaces.find((n) => n.kind === 'sandbox' && n.network === undefined && n.task?.startsWith('net5_app.7.'))!;
    await page.fill('#search', task.task!);
    expect(await page.locator('.ns').count()).toBe(1);
    expect(await page.locator(`.ns[data-ns="${task.name}"] .nsbody`).count()).toBe(1);
    await page.fill('#search', '');
    await page.click('#collapse');
    expect(await page.locator('.ns').count()).toBe(0);
    expect(await page.locator('h2[data-group-head]').count()).toBe(4); // host, overlay, lb, sandbox
    await page.close();
  });

  it('colours IPVS backends by health and names remote VTEPs by peer node', async () => {
    const small = syntheticTopology(['web', 'api'], 3);
    const page = await context.newPage();
    await page.route(`${base}topology`, (r) => r.fulfill({ contentType: 'application/json', body: JSON.stringify(small) }));
    await page.goto(`${base}topology.html`);
    await page.waitForSelector('body[data-loaded]');
    expect(await page.locator('.be.h-up').count()).toBe(4);
    expect(await page.locator('.be.h-down').count()).toBe(2);
    expect(await page.locator('.be.h-missing').count()).toBe(1);
    expect(await page.locator('.vtep', { hasText: 'node-2 10.0.0.12' }).count()).toBe(2);
    await page.screenshot({ path: join(OUTPUT, 'topology-swarm.png'), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT) await page.screenshot({ path: join(ROOT, 'docs', 'topology.png'), fullPage: true });
    await page.close();
  });
});
