import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMemoryReference, parseMemoryReference } from './guest-memory';
import { x87ToString } from './registers';

test('memory references: virtual by default, gpa: for physical, round trip', () => {
  assert.deepEqual(parseMemoryReference('0x1000'), { space: 'virtual', addr: 0x1000n });
  assert.deepEqual(parseMemoryReference('gva:0xffffffff80000000'), { space: 'virtual', addr: 0xffffffff80000000n });
  assert.deepEqual(parseMemoryReference('GPA:0x10_0000'), { space: 'physical', addr: 0x100000n });
  assert.deepEqual(parseMemoryReference('4096'), { space: 'virtual', addr: 4096n });
  assert.equal(formatMemoryReference(parseMemoryReference('gpa:0x2000')), 'gpa:0x2000');
  assert.equal(formatMemoryReference(parseMemoryReference('0x2000')), '0x2000');
  assert.throws(() => parseMemoryReference('rsp'), /not a memory reference/);
});

test('x87 80-bit values decode to numbers', () => {
  const one = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]); // 1.0
  assert.equal(x87ToString(one), '1');
  const minusTwo = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0xc0]); // -2.0
  assert.equal(x87ToString(minusTwo), '-2');
  assert.equal(x87ToString(new Uint8Array(10)), '0');
  assert.equal(x87ToString(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x7f])), 'inf');
});
