// Exposition of FamilySet in the Prometheus text format (0.0.4) and OpenMetrics 1.0.
import type { Family, Labels, SampleValue } from './family.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

const escapeLabel = (v: string): string =>
  v.includes('\\') || v.includes('"') || v.includes('\n')
    ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : v;
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

// Collectors share one labels object across the families of an interface:
// format it once per scrape, not once per family.
const formatted = new WeakMap<Labels, string>();

function formatLabels(labels: Labels): string {
  const cached = formatted.get(labels);
  if (cached !== undefined) return cached;
  const out = buildLabels(labels);
  formatted.set(labels, out);
  return out;
}

function buildLabels(labels: Labels): string {
  let out = '';
  for (const key in labels) {
    out += `${out ? ',' : ''}${key}="${escapeLabel(labels[key]!)}"`;
  }
  return out ? `{${out}}` : '';
}

function formatValue(v: SampleValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Sample lines of a family; a duplicate series would make Prometheus reject the scrape, so only the first is kept. */
function sampleLines(f: Family, parts: string[]): void {
  const seen = new Set<string>();
  for (const s of f.samples) {
    const l = formatLabels(s.labels);
    if (seen.has(l)) continue;
    seen.add(l);
    parts.push(`${f.name}${l} ${formatValue(s.value)}\n`);
  }
}

export function renderPrometheus(families: Family[]): string {
  const parts: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    parts.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type === 'info' ? 'gauge' : f.type}\n`);
    sampleLines(f, parts);
  }
  return parts.join('');
}

/** OpenMetrics without the trailing "# EOF", so other registries can be appended. */
export function renderOpenMetrics(families: Family[]): string {
  const parts: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    const base = f.type === 'counter' ? f.name.slice(0, -'_total'.length) : f.type === 'info' ? f.name.slice(0, -'_info'.length) : f.name;
    parts.push(`# TYPE ${base} ${f.type}\n# HELP ${base} ${escapeHelp(f.help)}\n`);
    sampleLines(f, parts);
  }
  return parts.join('');
}
