import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpa, gva } from '../common/address';
import { DebugOwners } from './debug-owners';
import type { DebugConfig, HwSlot } from './debug';

const exec = (a: number): HwSlot => ({ addr: gva(BigInt(a)), kind: 'exec', len: 1 });
const write = (a: number): HwSlot => ({ addr: gva(BigInt(a)), kind: 'write', len: 4 });
const cfg = (slots: Array<HwSlot | null>, int3: number[] = [], extra: Partial<DebugConfig> = {}): DebugConfig => ({ slots, softwareBreakpoints: int3.length > 0, int3: int3.map((a) => gpa(a)), ...extra });

test('one owner alone keeps its own slot and watchpoint numbers (what a machine with one front end sees)', () => {
  const d = new DebugOwners(64);
  const m = d.set('default', cfg([null, write(0x10), null, exec(0x20)], [0x100], { softWatch: [{ slot: 64, physical: gpa(0x30), len: 4 }] }));
  assert.deepEqual(m.slots.slice(0, 4), [null, write(0x10), null, exec(0x20)]);
  assert.equal(m.slots.length, 64);
  assert.deepEqual(m.softWatch, [{ slot: 64, physical: gpa(0x30), len: 4 }]);
  assert.deepEqual(m.int3, [gpa(0x100)]);
  assert.equal(m.softwareBreakpoints, true);
  assert.deepEqual(d.ownSlots('default', [1, 64]), [1, 64]);
});

test('two owners: both keep their breakpoints, slots are shared out, and a stop maps back to each owner', () => {
  const d = new DebugOwners(4);
  d.set('dap', cfg([write(0x10), exec(0x20)], [0x100, 0x200]));
  let m = d.set('gdb', cfg([exec(0x40), null, null, null], [0x200, 0x300]));
  // gdb's slot 0 is taken by the debug adapter: it goes to the lowest free slot.
  assert.deepEqual(m.slots, [write(0x10), exec(0x20), exec(0x40), null]);
  assert.deepEqual([...m.int3!].sort(), [gpa(0x100), gpa(0x200), gpa(0x300)].sort());
  assert.deepEqual(d.ownSlots('gdb', [2]), [0]);
  assert.deepEqual(d.ownSlots('dap', [2]), []);
  assert.deepEqual(d.slotOwners([0, 2]), ['dap', 'gdb']);
  assert.deepEqual(d.int3Owners(gpa(0x200)), ['dap', 'gdb']);
  assert.deepEqual(d.int3Owners(gpa(0x300)), ['gdb']);
  assert.deepEqual(d.execOwners(0x40n), ['gdb']);
  // The debug adapter drops its first slot and keeps the second where it was.
  m = d.set('dap', cfg([null, exec(0x20)], [0x100]));
  assert.deepEqual(m.slots, [null, exec(0x20), exec(0x40), null]);
  assert.deepEqual([...m.int3!].sort(), [gpa(0x100), gpa(0x200), gpa(0x300)].sort(), 'gdb still wants 0x200');
  // gdb adds a second slot: it keeps slot 2 for its first (a stop under way still names it) and takes 0 for the new one.
  m = d.set('gdb', cfg([exec(0x40), write(0x50), null, null], []));
  assert.deepEqual(m.slots, [write(0x50), exec(0x20), exec(0x40), null]);
  assert.deepEqual(d.ownSlots('gdb', [0, 2]).sort(), [0, 1]);
});

test('slots beyond the machine\'s are unplaced and the owner is told; clearing an owner frees its slots', () => {
  const d = new DebugOwners(4);
  d.set('dap', cfg([exec(1), exec(2), exec(3)]));
  const m = d.set('gdb', cfg([exec(4), exec(5), null, null]));
  assert.deepEqual(m.slots, [exec(1), exec(2), exec(3), exec(4)]);
  assert.deepEqual(d.unplaced('gdb'), [1]);
  assert.deepEqual(d.unplaced('dap'), []);
  d.clear('dap');
  assert.deepEqual(d.set('gdb', cfg([exec(4), exec(5), null, null])).slots, [null, exec(5), null, exec(4)], 'slot 0 stays where it was, slot 1 gets its own number');
  assert.deepEqual(d.unplaced('gdb'), []);
});

test('software watchpoints of two owners never share a number, nor one with a hardware slot', () => {
  const d = new DebugOwners(4);
  d.set('dap', cfg([null], [], { softWatch: [{ slot: 4, physical: gpa(0x10), len: 4 }] }));
  const m = d.set('gdb', cfg([null], [], { softWatch: [{ slot: 4, physical: gpa(0x20), len: 2 }] }));
  assert.deepEqual(m.softWatch, [
    { slot: 4, physical: gpa(0x10), len: 4 },
    { slot: 5, physical: gpa(0x20), len: 2 },
  ]);
  assert.deepEqual(d.ownSlots('gdb', [5]), [4]);
});

test('exit filters: every owner\'s run; tracing when anyone wants it', () => {
  const d = new DebugOwners(4);
  d.setExits('dap', [{ id: 'io', codes: [2] }], true);
  const all = d.setExits('gdb', [{ id: 'hlt', codes: [5] }], false);
  assert.deepEqual(all.filters.map((f) => f.id), ['io', 'hlt']);
  assert.equal(all.trace, true);
  assert.deepEqual(d.exitOwners('hlt'), ['gdb']);
});
