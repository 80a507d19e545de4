import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NEEDED_CAPABILITIES, PROBE_CAPABILITY, effectiveCapabilities, missingCapabilities } from '../../src/capabilities.js';

// the status text of a process started with the capabilities dropped, as the kernel prints it
const statusWithout = (caps: string) =>
  execFileSync('setpriv', [`--bounding-set=${caps}`, `--inh-caps=${caps}`, '--', 'cat', '/proc/self/status'], { encoding: 'utf8' });

describe('capabilities', () => {
  it('reads the effective set the kernel reports and names what is missing', () => {
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-sys_admin'))).map((c) => c.name)).toEqual(['CAP_SYS_ADMIN']);
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-net_admin,-sys_admin'))).map((c) => c.name)).toEqual(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-net_raw')))).toEqual([]);
    // with --probe.overlay, CAP_NET_RAW is needed too
    expect(missingCapabilities(effectiveCapabilities(statusWithout('-net_raw')), [...NEEDED_CAPABILITIES, PROBE_CAPABILITY]).map((c) => c.name)).toEqual(['CAP_NET_RAW']);
  });

  it('refuses a status without a CapEff line', () => {
    expect(() => effectiveCapabilities('Name:\tnode\n')).toThrow(/CapEff/);
  });
});
