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
  let view: DataView = new DataView(new ArrayBuffer(0));
  let region: PhysRegions['regions'][number] | undefined;
  let start = 0;
  let end = 0;
  /** Points `view` at the region holding [a, a+size); false when no region does. */
  const locate = (a: number, size: number): boolean => {
    if (region !== undefined && region.bytes === bytes && a >= start && a + size <= end) return true;
    region = memory.regions.find((r) => a >= r.gpa && a < r.gpa + r.bytes.length);
    if (!region) return false;
    bytes = region.bytes;
    view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    start = region.gpa;
    end = start + bytes.length;
    return a + size <= end;
  };
  const read: ReadPhys = (addr, size) => {
    const a = Number(addr);
    if (!locate(a, size)) return undefined;
    return size === 8 ? view.getBigUint64(a - start, true) : BigInt(view.getUint32(a - start, true));
  };
  read.u32 = (a) => (locate(a, 4) ? view.getUint32(a - start, true) : undefined);
  return read;
}
