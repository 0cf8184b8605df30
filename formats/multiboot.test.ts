import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findMultiboot, findMultiboot1, findMultiboot2, MB2_TAG, MultibootHeaderError, unsupportedFeatures } from './multiboot';
import { mb1Header, mb2Header } from './boot-fixtures';

function at(offset: number, header: Uint8Array, size = 16384): Uint8Array {
  const file = new Uint8Array(size);
  file.set(header, offset);
  return file;
}

test('Multiboot 1: the header is found 32-bit aligned in the first 8 KiB, with its address fields', () => {
  const aout = { headerAddr: 0x100010, loadAddr: 0x100000, loadEndAddr: 0x102000, bssEndAddr: 0x103000, entryAddr: 0x100040 };
  const h = findMultiboot1(at(0x10, mb1Header(0x10003, aout)));
  assert.equal(h?.offset, 0x10);
  assert.equal(h?.flags, 0x10003);
  assert.deepEqual(h?.aout, aout);
  assert.equal(findMultiboot1(at(0x12, mb1Header(0))), undefined, 'not 32-bit aligned');
  assert.equal(findMultiboot1(at(8192, mb1Header(0))), undefined, 'past 8192 bytes');
  assert.equal(findMultiboot1(at(8180, mb1Header(0)))?.offset, 8180, 'ends at 8192');
  const bad = mb1Header(3);
  bad[8]! ^= 1;
  assert.equal(findMultiboot1(at(0, bad)), undefined, 'a checksum that does not add up');
});

test('Multiboot 2: the header is found 64-bit aligned in the first 32 KiB, with its tags and optional flags', () => {
  const hdr = mb2Header([
    { type: MB2_TAG.informationRequest, body: [1, 6] },
    { type: MB2_TAG.address, body: [0x100000, 0x100000, 0, 0] },
    { type: MB2_TAG.entryAddress, body: [0x100020] },
    { type: MB2_TAG.framebuffer, flags: 1, body: [1024, 768, 32] },
  ]);
  const h = findMultiboot2(at(0x2000, hdr, 0x8000));
  assert.ok(h);
  assert.equal(h.offset, 0x2000);
  assert.deepEqual(h.tags.map((t) => [t.type, t.optional]), [[1, false], [2, false], [3, false], [5, true]]);
  assert.deepEqual(h.requests, { types: [1, 6], optional: false });
  assert.equal(h.entryAddr, 0x100020);
  assert.equal(h.address?.loadAddr, 0x100000);
  assert.equal(findMultiboot2(at(0x2004, hdr, 0x8000)), undefined, 'not 64-bit aligned');
  assert.equal(findMultiboot2(at(0x8000, hdr, 0x9000)), undefined, 'past 32 KiB');
  assert.equal(findMultiboot(at(0, hdr))?.version, 2);
});

test('Multiboot 2: a header without an end tag inside header_length is reported as broken', () => {
  const hdr = mb2Header([{ type: MB2_TAG.entryAddress, body: [0x100020] }]);
  const dv = new DataView(hdr.buffer);
  // Shrink header_length to cut off the end tag, fixing the checksum so the header is still recognised.
  const len = hdr.length - 8;
  dv.setUint32(8, len, true);
  dv.setUint32(12, (-(0xe85250d6 + len)) >>> 0, true);
  assert.throws(() => findMultiboot2(at(0, hdr)), MultibootHeaderError);
});

test('unsupported features: required ones name the bit or tag, optional ones are only ignored', () => {
  assert.deepEqual(unsupportedFeatures(findMultiboot1(at(0, mb1Header(0x10003, { headerAddr: 0, loadAddr: 0, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0 })))!), { required: [], ignored: [] });
  assert.match(unsupportedFeatures(findMultiboot1(at(0, mb1Header(0x4)))!).required.join(), /flag bit 2 \(video mode\)/);
  assert.match(unsupportedFeatures(findMultiboot1(at(0, mb1Header(0x20)))!).required.join(), /flag bit 5/);
  const fbRequired = unsupportedFeatures(findMultiboot2(at(0, mb2Header([{ type: MB2_TAG.framebuffer, body: [0, 0, 0] }])))!);
  assert.match(fbRequired.required.join(), /framebuffer tag: vmscope has no framebuffer/);
  const fbOptional = unsupportedFeatures(findMultiboot2(at(0, mb2Header([{ type: MB2_TAG.framebuffer, flags: 1, body: [0, 0, 0] }])))!);
  assert.deepEqual(fbOptional.required, []);
  assert.match(fbOptional.ignored.join(), /framebuffer/);
  assert.match(unsupportedFeatures(findMultiboot2(at(0, mb2Header([{ type: MB2_TAG.efiBootServices, body: [] }])))!).required.join(), /EFI boot services tag: vmscope has no EFI/);
  assert.match(unsupportedFeatures(findMultiboot2(at(0, mb2Header([{ type: MB2_TAG.informationRequest, body: [1, 8] }])))!).required.join(), /info tag type 8/);
  assert.match(unsupportedFeatures(findMultiboot2(at(0, mb2Header([], 4)))!).required.join(), /architecture 4/);
});
