// Mutations of a JSON document (a captured Docker API answer) as fast-check
// arbitraries: a field removed, a value replaced by one of the wrong type, null,
// a huge or odd number, or a key that means something to JavaScript objects.
import { fc } from '@fast-check/vitest';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

/** Every path in the document, the root ([]) included. */
export function pathsOf(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) pathsOf(v[k]!, [...at, k], out);
  return out;
}

/** Set an own property, as JSON.parse does (a plain assignment to "__proto__" would change the prototype). */
function setOwn(o: object, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/** Numbers JSON can carry that a parser may not expect: 1e999 parses to Infinity. */
const oddNumber = fc.constantFrom(0, -0, -1, 0.5, -0.5, 1e21, 1e308, -1e308, Infinity, -Infinity, 2 ** 53 + 2, -(2 ** 31), 2 ** 32, 4294967295, 65536);

/** Keys that mean something to a JavaScript object, and keys the parsers look for. */
export const oddKey = fc.constantFrom(
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'length', '',
  'Id', 'ID', 'Name', 'Labels', 'Containers', 'Services', 'Peers', 'Options', 'Config',
  'com.docker.swarm.service.name', 'com.docker.swarm.task.name', 'com.docker.network.driver.overlay.vxlanid_list',
);

/** A JSON value of the wrong type for wherever it lands. */
export const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  oddNumber,
  fc.constantFrom('', '<nil>', '-1', '1.5', 'NaN', '1e999', '0x10', 'abc,4097', ' 4097 ', '4097,,4098', '/', ':', '[', '[::1'),
  fc.string({ maxLength: 12 }),
  fc.constantFrom<Json>([], {}, [null], [[]], { '': null }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.tuple(oddKey, fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => {
    const o = {};
    setOwn(o, k, v);
    return o as Json;
  }),
);

export type JsonMutation =
  | { op: 'delete'; path: number }
  | { op: 'replace'; path: number; value: Json }
  | { op: 'addKey'; path: number; key: string; value: Json }
  | { op: 'copy'; path: number; from: number };

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('delete' as const), path: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('replace' as const), path: fc.nat(), value: oddValue }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('addKey' as const), path: fc.nat(), key: fc.oneof(oddKey, fc.string({ maxLength: 6 })), value: oddValue }), weight: 2 },
  // a value of the right shape from elsewhere in the document (an id where a name goes...)
  fc.record({ op: fc.constant('copy' as const), path: fc.nat(), from: fc.nat() }),
);

function get(root: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, root);
}

/** Apply one mutation to the document, in place where it can; returns the new root. */
function applyJsonMutation(root: Json, m: JsonMutation): Json {
  const paths = pathsOf(root);
  const path = paths[m.path % paths.length]!;
  const value = m.op === 'replace' ? m.value : m.op === 'copy' ? structuredClone(get(root, paths[m.from % paths.length]!)) : undefined;
  if (m.op === 'addKey') {
    const target = get(root, path);
    if (target === null || typeof target !== 'object' || Array.isArray(target)) return root;
    setOwn(target, m.key, m.value);
    return root;
  }
  if (path.length === 0) return m.op === 'delete' ? null : value!;
  const parent = get(root, path.slice(0, -1)) as Record<string | number, Json> | Json[];
  const key = path[path.length - 1]!;
  if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else {
    setOwn(parent, key, value);
  }
  return root;
}

/** Apply mutations to a copy of the document. */
export const applyJsonMutations = (doc: Json, ms: JsonMutation[]): Json => ms.reduce(applyJsonMutation, structuredClone(doc));

/** The keys the Docker state parsers read (state.ts), so that generated documents reach them. */
const DOCKER_KEYS = [
  'Addr', 'Attachable', 'Availability', 'Config', 'Containers', 'ControlAvailable', 'Description', 'Driver', 'Endpoint', 'EndpointID',
  'EndpointIP', 'Gateway', 'Host IP', 'Hostname', 'ID', 'IP', 'IPAM', 'IPAddress', 'IPv4Address', 'Id', 'Info', 'Ingress', 'Internal',
  'Labels', 'Leader', 'LocalLBIndex', 'LocalNodeState', 'MacAddress', 'ManagerStatus', 'Name', 'NetworkID', 'NetworkSettings', 'Networks',
  'NodeAddr', 'NodeID', 'Options', 'Peers', 'Ports', 'Protocol', 'PublishMode', 'PublishedPort', 'Role', 'Running', 'SandboxID',
  'SandboxKey', 'Scope', 'ServerVersion', 'Services', 'Spec', 'State', 'Status', 'Subnet', 'Swarm', 'TargetPort', 'Tasks', 'VIP',
  'com.docker.swarm.service.name', 'com.docker.swarm.service.id', 'com.docker.swarm.task.name', 'com.docker.swarm.task.id',
  'com.docker.swarm.node.id', 'com.docker.stack.namespace', 'com.docker.network.driver.overlay.vxlanid_list',
  'lb-ingress', 'ingress-sbox', 'docker_gwbridge', 'overlay', '__proto__', 'constructor',
];

/** Strings the parsers split, strip or convert: VNI lists, addresses with prefixes and ports, task names. */
const dockerString = fc.oneof(
  fc.constantFrom('4097', '4097,4098', 'abc', '-1', '1.5', ' 4097 ', '16777216', '4294967296', '99999999999999999999', '1e3', '0x1001', ',',
    '10.0.0.2/24', '10.0.0.2', '/24', '[::1]:2377', '[::1', '0.0.0.0', '10.0.0.1:2377', ':', '<nil>', 'overlay', 'ingress', 'docker_gwbridge',
    'svc.1.abc', 'svc.node.abc', 'svc', '.', '..', 'Target: 80, Publish: 8080', 'Target: x', '/run/docker/netns/abc', 'active', 'locked',
    'manager', 'worker', 'tcp', ''),
  fc.string({ maxLength: 10 }),
);

/** A JSON document shaped like the Docker API's: its keys, with values of every type. */
export const dockerish: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: dockerString as fc.Arbitrary<Json>, weight: 3 },
    oddValue,
    fc.array(fc.tuple(fc.constantFrom(...DOCKER_KEYS), tie('value')), { maxLength: 6 }).map((entries) => {
      const o = {};
      for (const [k, v] of entries) setOwn(o, k, v);
      return o as Json;
    }),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value;
