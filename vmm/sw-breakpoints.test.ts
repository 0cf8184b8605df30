// Unit tests for the software breakpoint shadow (sw-breakpoints.ts), over a
// plain byte array standing in for guest memory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpa, type Gpa } from '../common/address';
import { SoftwareBreakpoints, type BreakpointMemory } from './sw-breakpoints';

function memory(size = 64): BreakpointMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size).map((_, i) => i);
  return {
    bytes,
    read: (a: Gpa, n: number) => bytes.slice(a, a + n),
    write: (a: Gpa, d: Uint8Array) => bytes.set(d, a),
    isBacked: (a: Gpa, n: number) => a + n <= size,
  };
}

test('planting puts 0xcc over the byte, hide() shows the original, removing restores it', () => {
  const m = memory();
  const bp = new SoftwareBreakpoints(m);
  assert.deepEqual(bp.set([gpa(4), gpa(9)]), []);
  assert.equal(m.bytes[4], 0xcc);
  assert.equal(m.bytes[9], 0xcc);
  const seen = m.read(gpa(2), 8);
  bp.hide(gpa(2), seen);
  assert.deepEqual([...seen], [2, 3, 4, 5, 6, 7, 8, 9]);
  bp.set([gpa(9)]);
  assert.equal(m.bytes[4], 4);
  assert.equal(m.bytes[9], 0xcc);
  assert.deepEqual([bp.size, bp.has(gpa(9))], [1, true]);
});

test('addresses outside memory are skipped and reported', () => {
  const bp = new SoftwareBreakpoints(memory(16));
  assert.deepEqual(bp.set([gpa(3), gpa(100)]), [100]);
  assert.equal(bp.size, 1);
});

test('a debugger write over an int3 becomes its shadow and the int3 stays', () => {
  const m = memory();
  const bp = new SoftwareBreakpoints(m);
  bp.set([gpa(10)]);
  bp.write(gpa(8), Uint8Array.of(0xa0, 0xa1, 0xa2, 0xa3));
  assert.deepEqual([...m.bytes.slice(8, 12)], [0xa0, 0xa1, 0xcc, 0xa3]);
  const seen = m.read(gpa(10), 1);
  bp.hide(gpa(10), seen);
  assert.equal(seen[0], 0xa2);
  bp.set([]);
  assert.equal(m.bytes[10], 0xa2);
});

test('lift and replant: the original byte is in memory while a vCPU steps off', () => {
  const m = memory();
  const bp = new SoftwareBreakpoints(m);
  bp.set([gpa(5)]);
  assert.equal(bp.lift(gpa(5)), true);
  assert.equal(m.bytes[5], 5);
  assert.equal(bp.lift(gpa(6)), false);
  // Removed while lifted: nothing to restore, and replant does not plant it again.
  bp.set([]);
  bp.replant(gpa(5));
  assert.equal(m.bytes[5], 5);
  bp.set([gpa(5)]);
  bp.lift(gpa(5));
  bp.replant(gpa(5));
  assert.equal(m.bytes[5], 0xcc);
});
