// Defects the fuzz properties found, each as its shrunk counterexample: fixed
// cases that keep the fix in place whatever seed the properties run with.
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { parseReply } from '../../src/kernel/nl/message.js';
import { decodeLinks } from '../../src/kernel/rtnl/link.js';
import { decodeNeighbours } from '../../src/kernel/rtnl/neigh.js';
import { type RawDockerState, parseDockerState } from '../../src/docker/state.js';
import { parseWebConfig } from '../../src/web/schema.js';
import { WebConfigError } from '../../src/web/fields.js';
import { applyMutations, loadCapture } from './netlink-mutate.js';

describe('netlink: a negative ifindex is refused, not decoded', () => {
  it('links.bin, first link with ifi_index 0x80000000', () => {
    const cap = loadCapture('rtnl', 'links', 16, [[18], [18, 2]]);
    // counterexample: [{"kind":"fixedField","msg":0,"at":5711,"value":2147483648}] (5711 % 13 = 4: ifi_index)
    const bytes = applyMutations(cap, [{ kind: 'fixedField', msg: 0, at: 4, value: 0x8000_0000 }]);
    expect(() => decodeLinks(parseReply(bytes, cap, 'links'))).toThrow(DecodeError);
    expect(() => decodeLinks(parseReply(bytes, cap, 'links'))).toThrow(/ifindex -2147483648/);
  });

  it('neigh.bin and fdb.bin, first entry with ndm_ifindex -1', () => {
    for (const name of ['neigh', 'fdb']) {
      const cap = loadCapture('rtnl', name, 12);
      // counterexample: [{"kind":"fixedField","msg":0,"at":13,"value":4294967295}] (13 % 9 = 4: ndm_ifindex)
      const bytes = applyMutations(cap, [{ kind: 'fixedField', msg: 0, at: 4, value: 0xffff_ffff }]);
      expect(() => decodeNeighbours(parseReply(bytes, cap, name))).toThrow(/ifindex -1/);
      // the collectors' filter sees the header first; what it keeps is still refused
      expect(() => decodeNeighbours(parseReply(bytes, cap, name), () => true)).toThrow(DecodeError);
    }
  });
});

describe('netlink: vxlan parameters belong to a vxlan link only', () => {
  it('a second IFLA_LINKINFO of kind bridge drops the vxlan data of the first', () => {
    // shrunk counterexample from the synthetic link replies (attr.test.ts), sequence 4242, port 31337
    const bytes = Uint8Array.from([
      76, 0, 0, 0, 16, 0, 2, 0, 146, 16, 0, 0, 105, 122, 0, 0, // RTM_NEWLINK, 76 bytes
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifinfomsg, ifindex 0
      20, 0, 18, 0, 4, 0, 2, 128, 10, 0, 1, 0, 118, 120, 108, 97, 110, 0, 0, 0, // IFLA_LINKINFO { INFO_DATA {}, INFO_KIND "vxlan" }
      6, 0, 3, 0, 97, 0, 0, 0, // IFLA_IFNAME "a"
      16, 0, 18, 0, 11, 0, 1, 128, 98, 114, 105, 100, 103, 101, 0, 0, // IFLA_LINKINFO { INFO_KIND "bridge" }
      40, 0, 0, 0, 16, 0, 2, 0, 146, 16, 0, 0, 105, 122, 0, 0, // a second RTM_NEWLINK
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      6, 0, 3, 0, 48, 0, 0, 0,
    ]);
    const [first] = decodeLinks(parseReply(bytes, { seq: 4242, port: 31337 }, 'links'));
    expect(first!.kind).toBe('bridge');
    expect(first!.vxlan).toBeUndefined();
  });
});

describe('Docker: parseDockerState never throws', () => {
  const empty = { fetchedAt: 7, nodes: [], services: [], networks: [], containers: [] };
  it('an answer that is not a list counts as empty', () => {
    // counterexample: [{"info":[],"nodes":[],"services":[],"networks":null,"containers":[]}]
    const raw = { info: [], nodes: [], services: [], networks: null, containers: [] } as unknown as RawDockerState;
    expect(parseDockerState(raw, 7)).toMatchObject(empty);
    const odd = { info: 'x', nodes: {}, services: 5, networks: { Id: 'n' }, containers: 'c' } as unknown as RawDockerState;
    expect(parseDockerState(odd, 7)).toMatchObject(empty);
  });

  it('a raw state that is not an object is an empty state', () => {
    // counterexamples: [0], and a captured state with its root deleted (null)
    for (const raw of [0, null, undefined, [], 'x']) {
      expect(parseDockerState(raw as unknown as RawDockerState, 7)).toMatchObject({ ...empty, info: { nodeId: '', role: '' } });
    }
  });
});

describe('Docker: a subnet VNI is a VNI (24-bit integer) or absent, never NaN', () => {
  const VXLANID_LIST = 'com.docker.network.driver.overlay.vxlanid_list';
  const subnetsOf = (options: unknown, ipam?: unknown) =>
    parseDockerState({ info: {}, nodes: null, services: null, networks: [{ Id: 'n1', Driver: 'overlay', Options: options, IPAM: ipam }], containers: [] }, 0)
      .networks[0]!.subnets;

  it('an unreadable VNI list and no IPAM config: no VNI', () => {
    // counterexample: [[{"Id":"n1","Driver":"overlay","Options":{"com.docker.network.driver.overlay.vxlanid_list":":"}}]]
    expect(subnetsOf({ [VXLANID_LIST]: ':' })).toEqual([]);
    expect(subnetsOf({ [VXLANID_LIST]: '4097' })).toEqual([{ subnet: '', gateway: '', vni: 4097 }]);
  });

  it('a negative or out-of-range VNI is dropped', () => {
    // counterexample: node1-api.json with the first overlay's vxlanid_list replaced by the number -2147483648
    const ipam = { Config: [{ Subnet: '198.19.77.0/24', Gateway: '198.19.77.1' }, { Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24' }] };
    expect(subnetsOf({ [VXLANID_LIST]: -2147483648 }, ipam)[0]).toEqual({ subnet: '198.19.77.0/24', gateway: '198.19.77.1' });
    expect(subnetsOf({ [VXLANID_LIST]: '16777216,1.5,16777215' }, ipam).map((s) => s.vni)).toEqual([undefined, undefined, 16777215]);
  });
});

describe('web config: a header named like an Object property is refused, not a TypeError', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('http_server_config.headers.%s', (name) => {
    // counterexample: "http_server_config:\n  http2: false\n  headers:\n    __proto__: deny\n..."
    const text = `http_server_config:\n  http2: false\n  headers:\n    ${name}: deny\n    X-Content-Type-Options: nosniff\n`;
    expect(() => parseWebConfig(text, '/etc/web.yml')).toThrow(WebConfigError);
    expect(() => parseWebConfig(text, '/etc/web.yml')).toThrow(`http_server_config.headers.${name}: header can not be configured`);
  });
});

describe('web config: TLS names like Object properties are unknown, not taken', () => {
  const tls = (extra: string) => `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n${extra}`;
  it('curve_preferences: [CurveP256, constructor]', () => {
    // counterexample: a valid TLS file with "curve_preferences: [CurveP256, constructor]" (ecdhCurve became "P-256:function Object() ...")
    expect(() => parseWebConfig(tls('  curve_preferences: [CurveP256, constructor]\n'), '/etc/web.yml')).toThrow('unknown curve "constructor"');
  });
  it('cipher_suites: [toString]', () => {
    expect(() => parseWebConfig(tls('  cipher_suites: [toString]\n'), '/etc/web.yml')).toThrow('unknown cipher suite "toString"');
  });
  it('min_version and max_version: constructor, __proto__', () => {
    expect(() => parseWebConfig(tls('  min_version: constructor\n'), '/etc/web.yml')).toThrow('"constructor" is not one of TLS10');
    expect(() => parseWebConfig(tls('  max_version: __proto__\n'), '/etc/web.yml')).toThrow('"__proto__" is not one of TLS10');
  });
});
