// What other clients make of an exposition: promtool's linter and the Python
// client's parsers (Debian's python3-prometheus-client; strict for OpenMetrics).
import { spawnSync } from 'node:child_process';

// The Python client's parsers; prints what they found, or exits non-zero with the parser's error.
const PARSE_PY = `
import json, sys
fmt = sys.argv[1]
text = sys.stdin.read()
if fmt == 'openmetrics':
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(text))
print(json.dumps({'families': len(families), 'samples': sum(len(f.samples) for f in families),
                  'types': sorted({f.type for f in families})}))
`;

export function pythonParse(format: 'text' | 'openmetrics', input: string) {
  const r = spawnSync('/usr/bin/python3', ['-c', PARSE_PY, format], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

export function promtool(input: string) {
  const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`, error: r.error };
}
