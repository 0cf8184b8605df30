import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x87ToString } from './registers';

test('x87 80-bit values decode to numbers', () => {
  const one = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]); // 1.0
  assert.equal(x87ToString(one), '1');
  const minusTwo = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0xc0]); // -2.0
  assert.equal(x87ToString(minusTwo), '-2');
  assert.equal(x87ToString(new Uint8Array(10)), '0');
  assert.equal(x87ToString(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x7f])), 'inf');
});
