// Version facts for swarmnet_build_info and --version.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export const VERSION: string = (JSON.parse(read(join(root, 'package.json')) ?? '{}') as { version?: string }).version ?? 'unknown';
/** set at image build time (SWARMNET_REVISION) or read from a REVISION file beside package.json */
export const REVISION: string = process.env.SWARMNET_REVISION ?? read(join(root, 'REVISION')) ?? 'unknown';
