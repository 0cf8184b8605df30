import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E820_TYPE, e820Map, lowerUpperKiB, lowRamEnd } from './e820';

const { ram, reserved } = E820_TYPE;

test('RAM at 0 is split around the EBDA and the BIOS area; ram regions are usable, rom reserved, MMIO absent', () => {
  const map = e820Map([
    { kind: 'ram', gpa: 0, size: 64 << 20 },
    { kind: 'mmio', gpa: 0xfe000000, size: 0x1000 },
    { kind: 'rom', gpa: 0xfffc0000, size: 0x40000 },
    { kind: 'ram', gpa: 0x100000000, size: 1 << 20 },
  ]);
  assert.deepEqual(map, [
    { addr: 0, size: 0x9fc00, type: ram },
    { addr: 0x9fc00, size: 0x400, type: reserved },
    { addr: 0xf0000, size: 0x10000, type: reserved },
    { addr: 0x100000, size: (64 << 20) - 0x100000, type: ram },
    { addr: 0xfffc0000, size: 0x40000, type: reserved },
    { addr: 0x100000000, size: 1 << 20, type: ram },
  ]);
  assert.deepEqual(lowerUpperKiB(map), { lower: 639, upper: 64 * 1024 - 1024 });
  assert.equal(lowRamEnd(map), 64 << 20);
});

test('RAM smaller than 640 KiB is one usable range', () => {
  assert.deepEqual(e820Map([{ kind: 'ram', gpa: 0, size: 0x80000 }]), [{ addr: 0, size: 0x80000, type: ram }]);
  assert.deepEqual(lowerUpperKiB(e820Map([{ kind: 'ram', gpa: 0, size: 0x80000 }])), { lower: 512, upper: 0 });
});
