// Unit tests of the guest-physical reader the page walker and software
// watchpoints share, over byte arrays standing for guest RAM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { physReader } from './phys';

/** Two regions with a hole between them: 8 KiB at 0 (a u64 at its end) and 4 KiB at 1 MiB (a u32 at 4). */
function twoRegions() {
  const low = new Uint8Array(0x2000);
  const high = new Uint8Array(0x1000);
  new DataView(low.buffer).setBigUint64(0x1ff8, 0x1122_3344_5566_7788n, true);
  new DataView(high.buffer).setUint32(4, 0xdead_beef, true);
  const regions = [{ gpa: 0, bytes: low }, { gpa: 0x10_0000, bytes: high }];
  return { regions, read: physReader({ regions }) };
}

test('physReader: u32 and u64 little-endian reads, several regions, nothing after release', () => {
  const { regions, read } = twoRegions();
  assert.equal(read(0x1ff8n, 8), 0x1122_3344_5566_7788n);
  assert.equal(read(0x1ffcn, 4), 0x1122_3344n);
  assert.equal(read(0x10_0004n, 4), 0xdead_beefn);
  assert.equal(read(0x1ff8n, 8), 0x1122_3344_5566_7788n, 'back to the first region');
  assert.equal(read(0x2000n, 4), undefined, 'a hole');
  assert.equal(read(0x1ffcn, 8), undefined, 'across the end');
  assert.equal(read(0x10_0ffcn, 8), undefined, 'across the end of the cached region');
  assert.equal(read(0x1_0000_0000_0000n, 8), undefined);
  assert.equal(read(0x1ff8n, 8), 0x1122_3344_5566_7788n);
  regions[0]!.bytes = new Uint8Array(0); // what GuestMemory.markReleased does
  assert.equal(read(0x1ff8n, 8), undefined);
});

test('physReader.value: 1, 2, 4 and 8 bytes little-endian, inside one region only', () => {
  const { regions, read } = twoRegions();
  assert.equal(read.value(0x1ff8, 8), 0x1122_3344_5566_7788n);
  assert.equal(read.value(0x1ffc, 4), 0x1122_3344n);
  assert.equal(read.value(0x1ffe, 2), 0x1122n);
  assert.equal(read.value(0x1fff, 1), 0x11n);
  assert.equal(read.value(0x10_0006, 2), 0xdeadn, 'another region');
  assert.equal(read.value(0x1fff, 2), undefined, 'across the end');
  assert.equal(read.value(0x2000, 1), undefined, 'a hole');
  assert.equal(read(0x1ff8n, 8), read.value(0x1ff8, 8), 'the walker reads the same bytes');
  regions[0]!.bytes = new Uint8Array(0);
  assert.equal(read.value(0x1ff8, 8), undefined);
});
