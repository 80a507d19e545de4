import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, generatedReadme } from '../../src/tools/docs.js';
import { allMetricDefs } from '../../src/metrics/catalog/index.js';
import { flagDefs } from '../../src/config.js';

describe('README', () => {
  const text = readFileSync(README, 'utf8');
  it('has the flag table and metric reference generated from the code (run `npm run docs` when this fails)', () => {
    expect(generatedReadme(text)).toBe(text);
  });
  it('documents every flag and every metric', () => {
    for (const f of flagDefs()) expect(text).toContain(f.type === "bool" ? `--[no-]${f.name}` : `--${f.name}=`);
    for (const d of allMetricDefs()) expect(text).toContain(`\`${d.name}\``);
  });
  it('metric names follow Prometheus conventions', () => {
    const names = allMetricDefs().map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of allMetricDefs()) {
      expect(d.name).toMatch(/^swarmnet_[a-z0-9_]+$/);
      if (d.type === 'counter') expect(d.name).toMatch(/_total$/);
      else expect(d.name).not.toMatch(/_total$/);
      expect(new Set(d.labels).size).toBe(d.labels.length);
    }
  });
});

describe('runbook', () => {
  it('has a README section for every alert, where its runbook_url points', async () => {
    const { readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { parse } = await import('yaml');
    const text = readFileSync(README, 'utf8');
    const dir = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'rules');
    let alerts = 0;
    for (const f of readdirSync(dir)) {
      const doc = parse(readFileSync(join(dir, f), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; annotations?: Record<string, string> }> }> };
      for (const r of doc.groups.flatMap((g) => g.rules)) {
        if (!r.alert) continue;
        alerts++;
        expect(text).toContain(`### Runbook: ${r.alert}\n`);
        expect(r.annotations?.runbook_url).toMatch(new RegExp(`README\\.md#runbook-${r.alert.toLowerCase()}$`));
      }
    }
    expect(alerts).toBeGreaterThanOrEqual(10);
  });
});
