import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMemoryReference, offsetReference, parseMemoryReference } from './guest-access';

test('memory references: virtual by default, gpa: for physical, round trip', () => {
  assert.deepEqual(parseMemoryReference('0x1000'), { space: 'virtual', addr: 0x1000n });
  assert.deepEqual(parseMemoryReference('gva:0xffffffff80000000'), { space: 'virtual', addr: 0xffffffff80000000n });
  assert.deepEqual(parseMemoryReference('GPA:0x10_0000'), { space: 'physical', addr: 0x100000 });
  assert.deepEqual(parseMemoryReference('4096'), { space: 'virtual', addr: 4096n });
  assert.equal(formatMemoryReference(parseMemoryReference('gpa:0x2000')), 'gpa:0x2000');
  assert.equal(formatMemoryReference(parseMemoryReference('0x2000')), '0x2000');
  assert.throws(() => parseMemoryReference('rsp'), /not a memory reference/);
});

test('memory references: a gpa: beyond 52 bits is refused; offsets wrap linear addresses at 2^64', () => {
  assert.throws(() => parseMemoryReference('gpa:0x10000000000000'), /beyond the 52-bit/);
  assert.deepEqual(offsetReference(parseMemoryReference('0xffffffffffffffff'), 2), { space: 'virtual', addr: 1n });
  assert.deepEqual(offsetReference(parseMemoryReference('gpa:0x1000'), 0x10), { space: 'physical', addr: 0x1010 });
});
