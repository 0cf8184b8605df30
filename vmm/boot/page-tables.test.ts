import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeMemory } from './fake-memory';
import { buildIdentityMap, walkIdentityMap, PTE_P, PTE_PS, PTE_RW } from './page-tables';
import { BootArea } from './layout';


test('identity map: CR3 points at the PML4 and PML4[0] at the PDPT', () => {
  const mem = fakeMemory(0x8000);
  const cr3 = buildIdentityMap(mem);
  assert.equal(cr3, BigInt(BootArea.pml4));
  assert.equal(mem.readU64(BootArea.pml4), BigInt(BootArea.pdpt) | PTE_P | PTE_RW);
  // Only the first PML4 entry is present.
  for (let i = 1; i < 512; i++) assert.equal(mem.readU64(BootArea.pml4 + i * 8), 0n, `PML4[${i}]`);
});

test('identity map: four PDPT entries, each a page directory of 2 MiB pages', () => {
  const mem = fakeMemory(0x8000);
  buildIdentityMap(mem);
  for (let i = 0; i < 4; i++) {
    assert.equal(mem.readU64(BootArea.pdpt + i * 8), BigInt(BootArea.pd + i * 0x1000) | PTE_P | PTE_RW);
  }
  assert.equal(mem.readU64(BootArea.pdpt + 4 * 8), 0n);
  const last = mem.readU64(BootArea.pd + 3 * 0x1000 + 511 * 8);
  assert.equal(last, (4n * 1024n * 1024n * 1024n - 2n * 1024n * 1024n) | PTE_P | PTE_RW | PTE_PS);
});

test('identity map: addresses below 4 GiB translate to themselves, above do not', () => {
  const mem = fakeMemory(0x8000);
  const cr3 = buildIdentityMap(mem);
  for (const va of [0n, 0x7c00n, 0x100000n, 0x1234567n, 0xd0000000n, 0xfffff000n, 0xffffffffn]) {
    assert.equal(walkIdentityMap(mem.readU64, cr3, va), va, `0x${va.toString(16)}`);
  }
  assert.equal(walkIdentityMap(mem.readU64, cr3, 0x100000000n), undefined);
  assert.equal(walkIdentityMap(mem.readU64, cr3, 0xffffffff80000000n), undefined);
});

test('identity map: stays inside the boot area', () => {
  const mem = fakeMemory(0x10000);
  mem.bytes.fill(0xaa);
  buildIdentityMap(mem);
  assert.equal(mem.bytes[BootArea.pml4 - 1], 0xaa);
  assert.equal(mem.bytes[BootArea.end], 0xaa);
});
