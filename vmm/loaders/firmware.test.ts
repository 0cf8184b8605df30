import { test } from 'node:test';
import assert from 'node:assert/strict';
import { romImage } from '../../formats/boot-fixtures';
import { gpa } from '../../common/address';
import { loadImage } from './index';

test('firmware: the ROM just below 4 GiB, its last 128 KiB copied below 1 MiB, entry at the reset vector', () => {
  const rom = romImage(256 * 1024, Uint8Array.of(0xea, 0x5b, 0xe0, 0x00, 0xf0));
  rom[0] = 0x11;
  const image = loadImage(rom, 'firmware', {});
  assert.deepEqual(image.regions, [{ name: 'firmware', kind: 'rom', gpa: 0xfffc0000, size: 256 * 1024 }]);
  const main = image.segments.find((s) => s.role === 'image')!;
  assert.equal(main.gpa, 0xfffc0000);
  assert.equal(main.data[0], 0x11);
  const alias = image.segments.find((s) => s.role === 'firmware-alias')!;
  assert.equal(alias.gpa, 0xe0000);
  assert.equal(alias.data.length, 128 * 1024);
  assert.deepEqual([...alias.data.subarray(0x1fff0, 0x1fff5)], [0xea, 0x5b, 0xe0, 0x00, 0xf0], 'the reset vector is at 0xffff0 too');
  assert.equal(alias.flags.write, true, 'a writable RAM copy');
  assert.equal(image.entry, 0xfffffff0n);
  assert.equal(image.entryState?.mode, 'reset');
});

test('firmware: a 64 KiB ROM is aliased whole at 0xf0000; sizes that are not a power of two in 64 KiB..16 MiB are refused', () => {
  const image = loadImage(romImage(64 * 1024), 'firmware', {});
  assert.equal(image.segments.find((s) => s.role === 'firmware-alias')!.gpa, 0xf0000);
  assert.throws(() => loadImage(new Uint8Array(96 * 1024), 'firmware', {}), /not a power of two/);
  assert.throws(() => loadImage(new Uint8Array(32 * 1024), 'firmware', {}), /outside 64 KiB\.\.16 MiB/);
  assert.throws(() => loadImage(new Uint8Array(32 * 1024 * 1024), 'firmware', {}), /outside 64 KiB\.\.16 MiB/);
  assert.equal(loadImage(romImage(64 * 1024), undefined, { load: gpa(0x100000) }).format, 'flat', 'a ROM is only a ROM when the spec says so');
});
