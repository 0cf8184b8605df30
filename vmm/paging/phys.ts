// A fast `ReadPhys` over guest memory for the page walker: one DataView per
// region, built once, instead of GuestMemory.readU64's view per read. The
// vCPU loop reads watched bytes through the same reader (`value`).

import type { ReadPhys } from './walk';

/** What the reader needs of GuestMemory (its `regions`), so tests can pass a fake. */
export interface PhysRegions {
  readonly regions: ReadonlyArray<{ readonly gpa: number; readonly bytes: Uint8Array }>;
}

/** The walker's reads, plus little-endian values of any width a watchpoint has. */
export type PhysReader = ReadPhys & {
  u32: (gpa: number) => number | undefined;
  /** 1, 2, 4 or 8 bytes at `gpa` as one little-endian value; undefined as for the walker's reads. */
  value: (gpa: number, len: 1 | 2 | 4 | 8) => bigint | undefined;
};

/**
 * Reads little-endian u32/u64 from guest RAM and ROM; undefined outside them
 * or across a region's end. Safe after the machine has ended: a released
 * region's `bytes` is replaced by an empty array, which the reader notices on
 * every call, so it never touches unmapped host memory; reads then fail.
 */
export function physReader(memory: PhysRegions): PhysReader {
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
  const read = (addr: bigint, size: 4 | 8): bigint | undefined => {
    const a = Number(addr);
    if (!locate(a, size)) return undefined;
    return size === 8 ? view.getBigUint64(a - start, true) : BigInt(view.getUint32(a - start, true));
  };
  const u32 = (a: number): number | undefined => (locate(a, 4) ? view.getUint32(a - start, true) : undefined);
  const value = (a: number, len: 1 | 2 | 4 | 8): bigint | undefined => {
    if (!locate(a, len)) return undefined;
    const at = a - start;
    return len === 8 ? view.getBigUint64(at, true) : BigInt(len === 4 ? view.getUint32(at, true) : len === 2 ? view.getUint16(at, true) : view.getUint8(at));
  };
  return Object.assign(read, { u32, value });
}
