// Where things are in the repository, for every test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** the repository root */
export const ROOT = join(import.meta.dirname, '..', '..');
/** the built exporter (npm run build) */
export const DIST_MAIN = join(ROOT, 'dist', 'main.js');
/** the shipped alerting rules, as a rule_files glob */
export const RULES_GLOB = join(ROOT, 'deploy', 'prometheus', 'rules', '*.yml');

/** package.json's version */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
