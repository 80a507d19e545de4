// The deployment files, statically: what the exporter's stack grants, what the
// monitoring stack publishes and how it is secured, the agent variant, and the
// secrets script. The e2e tests run them; this says what they must keep saying.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './promql-exprs.js';
import { SHIPPED_NODE_FLAGS } from '../../src/bench/exporter-process.js';

interface Service {
  command?: string[]; cap_add?: string[]; cap_drop?: string[]; read_only?: boolean; user?: string;
  environment?: Record<string, string>; secrets?: string[]; healthcheck?: { test: string[] };
  ports?: Array<{ target: number; published: string | number; mode?: string }>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
}
const load = (f: string) => parseYaml(readFileSync(join(ROOT, f), 'utf8')) as { services: Record<string, Service>; secrets?: Record<string, { external?: boolean }> };
const stack = load('deploy/stack.yml');
const mon = load('deploy/stack-monitoring.yml');
const agent = load('deploy/stack-agent.yml');

describe('deploy/stack.yml', () => {
  const ex = stack.services.exporter!;
  it('drops every capability but SYS_ADMIN and NET_ADMIN, on a read-only root file system', () => {
    expect(ex.cap_drop).toEqual(['ALL']);
    expect([...ex.cap_add!].sort()).toEqual(['NET_ADMIN', 'SYS_ADMIN']);
    expect(ex.read_only).toBe(true);
    expect(ex.user).toBeUndefined();
  });
  it('gives the exporter the host\'s network namespace file, read-only, as --netns.host', () => {
    const host = ex.volumes!.find((v) => v.target === '/host/proc/1/ns/net')!;
    expect(host).toMatchObject({ type: 'bind', source: '${SWARMNET_HOST_NETNS:-/proc/1/ns/net}', read_only: true });
    expect(ex.command).toContain(`--netns.host=${host.target}`);
  });
  it('runs node with the heap settings the benchmark measures, in the image, in npm start, and not overridden', () => {
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(entry!)).toEqual(['/nodejs/bin/node', ...SHIPPED_NODE_FLAGS, 'dist/main.js']);
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toBe(['node', ...SHIPPED_NODE_FLAGS, 'dist/main.js'].join(' '));
    expect((ex as { entrypoint?: unknown }).entrypoint).toBeUndefined();
    // node itself takes them (an unknown V8 flag would stop it before main.js)
    expect(execFileSync(process.execPath, [...SHIPPED_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' })).toBe('ok');
  });
  it('checks health with the image\'s static binary, not a second node', () => {
    expect(ex.healthcheck!.test).toEqual(['CMD', '/app/healthcheck']);
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD \["\/app\/healthcheck"\]/);
  });
});

describe('deploy/stack-monitoring.yml', () => {
  const prom = mon.services.prometheus!;
  const grafana = mon.services.grafana!;
  it('publishes Prometheus and Grafana in host mode on their own node, not through the routing mesh', () => {
    for (const s of [prom, grafana]) for (const p of s.ports!) expect(p.mode).toBe('host');
  });
  it('Prometheus: basic auth from its web config secret; no lifecycle or admin API', () => {
    expect(prom.command).toContain('--web.config.file=/run/secrets/swarmnet_prometheus_web_config');
    expect(prom.secrets).toContain('swarmnet_prometheus_web_config');
    expect(prom.command!.filter((f) => /enable-(lifecycle|admin-api)/.test(f))).toEqual([]);
    // its own scrape authenticates with the password secret
    const cfg = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; basic_auth?: { username: string; password_file: string } }> };
    expect(cfg.scrape_configs.find((j) => j.job_name === 'prometheus')!.basic_auth).toEqual({ username: 'swarmnet', password_file: '/run/secrets/swarmnet_prometheus_password' });
    expect(prom.secrets).toContain('swarmnet_prometheus_password');
  });
  it('Grafana: admin password from a secret, anonymous access and sign-up off, datasource with basic auth', () => {
    expect(grafana.environment).toMatchObject({
      GF_SECURITY_ADMIN_PASSWORD__FILE: '/run/secrets/swarmnet_grafana_admin_password',
      GF_AUTH_ANONYMOUS_ENABLED: 'false',
      GF_USERS_ALLOW_SIGN_UP: 'false',
    });
    expect(grafana.environment!.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(grafana.secrets!.sort()).toEqual(['swarmnet_grafana_admin_password', 'swarmnet_prometheus_password']);
    const ds = parseYaml(readFileSync(join(ROOT, 'grafana/provisioning/datasources/swarmnet.yml'), 'utf8')) as { datasources: Array<Record<string, any>> };
    expect(ds.datasources[0]).toMatchObject({ basicAuth: true, basicAuthUser: 'swarmnet', secureJsonData: { basicAuthPassword: '$__file{/run/secrets/swarmnet_prometheus_password}' } });
  });
  it('takes every secret from outside (deploy/make-secrets.sh): none is in the repository', () => {
    expect(Object.values(mon.secrets!).every((s) => s.external === true)).toBe(true);
    expect(Object.keys(mon.secrets!).sort()).toEqual(['swarmnet_grafana_admin_password', 'swarmnet_prometheus_password', 'swarmnet_prometheus_web_config']);
  });
});

describe('deploy/stack-agent.yml and deploy/prometheus/prometheus-agent.yml', () => {
  it('runs Prometheus in agent mode, remote-writing with basic auth from a secret', () => {
    const a = agent.services.agent!;
    expect(a.command).toContain('--enable-feature=agent');
    expect(a.command).toContain('--config.file=/etc/prometheus/prometheus-agent.yml');
    expect(a.ports).toBeUndefined();
    const cfg = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/prometheus-agent.yml'), 'utf8')) as { remote_write: Array<{ url: string; basic_auth: { password_file: string } }>; rule_files?: unknown };
    expect(cfg.rule_files).toBeUndefined();
    expect(cfg.remote_write).toHaveLength(1);
    expect(cfg.remote_write[0]!.basic_auth.password_file).toBe('/run/secrets/swarmnet_remote_write_password');
    expect(a.secrets).toEqual(['swarmnet_remote_write_password']);
    const out = execFileSync('/usr/bin/promtool', ['check', 'config', '--agent', join(ROOT, 'deploy/prometheus/prometheus-agent.yml')], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
  });
});

describe('deploy/make-secrets.sh --out', () => {
  it('writes the password, a web config that promtool accepts, and the Grafana password, readable by the owner only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarmnet-secrets-'));
    try {
      execFileSync('sh', [join(ROOT, 'deploy/make-secrets.sh'), '--out', dir], { env: { ...process.env, PROMETHEUS_PASSWORD: 'pw1', GRAFANA_ADMIN_PASSWORD: 'pw2' }, stdio: 'pipe' });
      expect(readFileSync(join(dir, 'swarmnet_prometheus_password'), 'utf8')).toBe('pw1');
      expect(readFileSync(join(dir, 'swarmnet_grafana_admin_password'), 'utf8')).toBe('pw2');
      const web = readFileSync(join(dir, 'swarmnet_prometheus_web_config'), 'utf8');
      expect((parseYaml(web) as { basic_auth_users: Record<string, string> }).basic_auth_users.swarmnet).toMatch(/^\$2[aby]\$10\$/);
      const check = spawnSync('/usr/bin/promtool', ['check', 'web-config', join(dir, 'swarmnet_prometheus_web_config')], { encoding: 'utf8' });
      expect(check.status).toBe(0);
      expect(`${check.stdout}${check.stderr}`).toContain('SUCCESS');
      for (const f of ['swarmnet_prometheus_password', 'swarmnet_prometheus_web_config', 'swarmnet_grafana_admin_password']) expect(statSync(join(dir, f)).mode & 0o077, f).toBe(0);
      // random passwords when none is given, printed once on stderr
      const random = mkdtempSync(join(tmpdir(), 'swarmnet-secrets-'));
      try {
        const env = { ...process.env };
        delete env.PROMETHEUS_PASSWORD;
        delete env.GRAFANA_ADMIN_PASSWORD;
        execFileSync('sh', [join(ROOT, 'deploy/make-secrets.sh'), '--out', random], { env, stdio: 'pipe' });
        expect(readFileSync(join(random, 'swarmnet_prometheus_password'), 'utf8')).toMatch(/^[A-Za-z0-9]{20,}$/);
      } finally {
        rmSync(random, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
