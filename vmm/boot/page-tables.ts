// Builds the identity-mapped page tables a long-mode guest starts with.
// Pure: writes into a byte array that stands for guest memory at `base`, so
// the layout can be unit-tested without KVM.

import { BootArea, IDENTITY_MAP_BYTES } from './layout';

export const PTE_P = 1n << 0n;
export const PTE_RW = 1n << 1n;
export const PTE_PS = 1n << 7n;

const PAGE_2M = 2n * 1024n * 1024n;
const ENTRIES = 512;

export interface PageTableWriter {
  writeU64(gpa: number, value: bigint): void;
  fill(gpa: number, len: number, value: number): void;
}

/**
 * PML4[0] -> PDPT; PDPT[0..3] -> four PDs; each PD maps 1 GiB with 2 MiB
 * pages. Returns the value for CR3.
 */
export function buildIdentityMap(mem: PageTableWriter): bigint {
  const { pml4, pdpt, pd } = BootArea;
  const gib = IDENTITY_MAP_BYTES / (1024 * 1024 * 1024);
  mem.fill(pml4, BootArea.end - pml4, 0);
  mem.writeU64(pml4, BigInt(pdpt) | PTE_P | PTE_RW);
  for (let i = 0; i < gib; i++) {
    const dir = pd + i * 0x1000;
    mem.writeU64(pdpt + i * 8, BigInt(dir) | PTE_P | PTE_RW);
    for (let j = 0; j < ENTRIES; j++) {
      const phys = (BigInt(i) * BigInt(ENTRIES) + BigInt(j)) * PAGE_2M;
      mem.writeU64(dir + j * 8, phys | PTE_P | PTE_RW | PTE_PS);
    }
  }
  return BigInt(pml4);
}

/** A software walk of the tables above (4-level, 2 MiB leaves), for tests and diagnostics. */
export function walkIdentityMap(readU64: (gpa: number) => bigint, cr3: bigint, va: bigint): bigint | undefined {
  const idx = (shift: bigint) => Number((va >> shift) & 0x1ffn);
  const mask = 0x000f_ffff_ffff_f000n;
  const pml4e = readU64(Number(cr3 & mask) + idx(39n) * 8);
  if (!(pml4e & PTE_P)) return undefined;
  const pdpte = readU64(Number(pml4e & mask) + idx(30n) * 8);
  if (!(pdpte & PTE_P)) return undefined;
  const pde = readU64(Number(pdpte & mask) + idx(21n) * 8);
  if (!(pde & PTE_P)) return undefined;
  if (!(pde & PTE_PS)) return undefined;
  return (pde & 0x000f_ffff_ffe0_0000n) | (va & (PAGE_2M - 1n));
}
