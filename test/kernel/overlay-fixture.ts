// A node's overlay data plane in miniature, for the commands and the topology
// page: an "overlay" namespace (bridge br0, vxlan0 with FDB entries towards
// remote VTEPs, one veth port per container) and "container" namespaces on the
// other ends. A directory of its own lists them under Docker's file names
// (1-<network id>, <12 hex> sandboxes), as symlinks to the `ip netns` files.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNamespaces, sh } from '../helpers/netns.js';

export const VNI = 4101;
export const REMOTES = ['203.0.113.2', '203.0.113.3'];

export interface OverlayFixture {
  nss: TestNamespaces;
  dir: string;
  /** file name in `dir` -> `ip netns` name */
  files: Map<string, string>;
  overlay: string;
  sandboxes: string[];
  /** sandbox file name -> its eth0 address */
  addr: Map<string, string>;
  /** flags that point a command or the exporter at this fixture only */
  flags: string[];
  destroy(): void;
}

export function buildOverlayFixture(stem: string, containers = 3): OverlayFixture {
  const prefix = `${stem}${process.pid}-`;
  const nss = new TestNamespaces(prefix);
  const dir = mkdtempSync(join(tmpdir(), `${stem}-`));
  const files = new Map<string, string>();
  const addr = new Map<string, string>();
  const hex = (n: number) => randomBytes(n).toString('hex').slice(0, n);
  const ov = nss.add('ov');
  sh(`ip -n ${ov} link add br0 type bridge
ip -n ${ov} link set br0 up
ip -n ${ov} link add vxlan0 type vxlan id ${VNI} dstport 4789 nolearning local 203.0.113.1
ip -n ${ov} link set vxlan0 master br0 up`);
  REMOTES.forEach((ip, i) => sh(`ip netns exec ${ov} bridge fdb add 02:42:c6:33:71:0${i} dev vxlan0 dst ${ip} self permanent`));
  const overlay = `1-${hex(10)}`;
  files.set(overlay, ov);
  const sandboxes: string[] = [];
  for (let h = 1; h <= containers; h++) {
    const c = nss.add(`c${h}`);
    sh(`ip -n ${ov} link add veth${h} type veth peer name eth0 netns ${c}
ip -n ${ov} link set veth${h} master br0 up
ip -n ${c} addr add 198.51.100.${h}/24 dev eth0
ip -n ${c} link set eth0 up`);
    const file = `${h}${hex(11)}`;
    files.set(file, c);
    sandboxes.push(file);
    addr.set(file, `198.51.100.${h}`);
  }
  for (const [file, ns] of files) symlinkSync(`/run/netns/${ns}`, join(dir, file));
  return {
    nss, dir, files, overlay, sandboxes, addr,
    flags: [`--netns.dir=${dir}`, '--netns.host=none', '--docker.host=unix:///nonexistent/docker.sock'],
    destroy() {
      nss.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface IpLink { ifindex: number; ifname: string; master?: string; link_index?: number; link_netnsid?: number; link?: string; linkinfo?: { info_kind?: string } }
export const ipLinkJson = (ns: string): IpLink[] => JSON.parse(sh(`ip -n ${ns} -d -j link show`)) as IpLink[];
