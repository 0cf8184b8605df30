import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BzImageError, isBzImage, parseSetupHeader, protocolVersion } from './bzimage';
import { bzImage } from './boot-fixtures';

test('the setup header fields come from their boot.rst offsets', () => {
  const payload = new Uint8Array(0x400).fill(0x90);
  const h = parseSetupHeader(bzImage(payload, { setupSects: 3, version: 0x020f, kernelAlignment: 0x400000, prefAddress: 0x2000000n, initrdAddrMax: 0x3fffffff, cmdlineSize: 4095, initSize: 0x123000 }));
  assert.equal(h.setupSects, 3);
  assert.equal(h.kernelOffset, 4 * 512);
  assert.equal(h.version, 0x020f);
  assert.equal(protocolVersion(h.version), '2.15');
  assert.equal(h.kernelAlignment, 0x400000);
  assert.equal(h.prefAddress, 0x2000000n);
  assert.equal(h.initrdAddrMax, 0x3fffffff);
  assert.equal(h.cmdlineSize, 4095);
  assert.equal(h.initSize, 0x123000);
  assert.equal(h.relocatable, true);
  assert.equal(h.headerEnd, 0x26c);
});

test('setup_sects 0 means 4', () => {
  const h = parseSetupHeader(bzImage(new Uint8Array(0x400), { setupSects: 0 }));
  assert.equal(h.setupSects, 4);
  assert.equal(h.kernelOffset, 5 * 512);
});

test('refusals say why: not a bzImage, protocol too old, no 64-bit entry', () => {
  assert.equal(isBzImage(new Uint8Array(0x1000)), false);
  assert.throws(() => parseSetupHeader(new Uint8Array(0x1000)), /no "HdrS"/);
  assert.throws(() => parseSetupHeader(bzImage(new Uint8Array(0x400), { version: 0x020a })), /protocol 2\.10 is too old.*2\.12/);
  assert.throws(() => parseSetupHeader(bzImage(new Uint8Array(0x400), { xloadflags: 0 })), (e: unknown) => e instanceof BzImageError && /XLF_KERNEL_64/.test(e.message));
});
