// A fast `ReadPhys` over guest memory for the page walker: one DataView per
// region, built once, instead of GuestMemory.readU64's view per read.

import type { ReadPhys } from './walk';

/** What the reader needs of GuestMemory (its `regions`), so tests can pass a fake. */
export interface PhysRegions {
  readonly regions: ReadonlyArray<{ readonly gpa: number; readonly bytes: Uint8Array }>;
}

/**
 * Reads little-endian u32/u64 from guest RAM and ROM; undefined outside them
 * or across a region's end. Safe after the machine has ended: a released
 * region's `bytes` is replaced by an empty array, which the reader notices on
 * every call, so it never touches unmapped host memory; reads then fail.
 */
export function physReader(memory: PhysRegions): ReadPhys {
  let bytes: Uint8Array | undefined;
  let view: DataView | undefined;
  let region: PhysRegions['regions'][number] | undefined;
  let start = 0;
  let end = 0;
  return (addr, size) => {
    const a = Number(addr);
    if (region === undefined || region.bytes !== bytes || a < start || a + size > end) {
      region = memory.regions.find((r) => a >= r.gpa && a < r.gpa + r.bytes.length);
      if (!region) return undefined;
      bytes = region.bytes;
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      start = region.gpa;
      end = start + bytes.length;
      if (a + size > end) return undefined;
    }
    const off = a - start;
    return size === 8 ? view!.getBigUint64(off, true) : BigInt(view!.getUint32(off, true));
  };
}
