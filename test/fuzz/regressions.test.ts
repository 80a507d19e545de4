// Defects the fuzz properties found, each as its shrunk counterexample: fixed
// cases that keep the fix in place whatever seed the properties run with.
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/kernel/nl/attr.js';
import { parseReply } from '../../src/kernel/nl/message.js';
import { decodeLinks } from '../../src/kernel/rtnl/link.js';
import { decodeNeighbours } from '../../src/kernel/rtnl/neigh.js';
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
