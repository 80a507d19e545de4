import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { effectiveCapabilities, missingCapabilities } from '../../src/capabilities.js';

// the status text of a process started with the capabilities dropped, as the kernel prints it
const statusWithout = (caps: string) =>
  execFileSync('setpriv', [`--bounding-set=${caps}`, `--inh-caps=${caps}`, '--', 'cat', '/proc/self/status'], { encoding: 'utf8' });

describe('capabilities', () => {
  it('reads the effective set the kernel reports and names what is missing', () => {
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-sys_admin'))).map((c) => c.name)).toEqual(['CAP_SYS_ADMIN']);
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-net_admin,-sys_admin'))).map((c) => c.name)).toEqual(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-net_raw')))).toEqual([]);
  });

  it('refuses a status without a CapEff line', () => {
    expect(() => effectiveCapabilities('Name:\tnode\n')).toThrow(/CapEff/);
  });
});
