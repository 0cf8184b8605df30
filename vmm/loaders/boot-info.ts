// Helpers the protocol loaders share to build what they hand a kernel: a
// little-endian structure builder addressed in guest-physical terms, and
// placement of modules and initrds in RAM clear of the kernel.

import { gpa, gva, hex } from '../../common/address';
import { BootInfoArea } from '../boot/layout';
import { lowRamEnd, type E820Entry } from '../boot/e820';
import { ImageError, type LoadSegment, type SegmentRole } from './types';

export const PAGE = 0x1000;
export const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
export const alignDown = (v: number, a: number) => Math.floor(v / a) * a;

/** Bytes laid out from a guest-physical base: append() returns the address each piece lands at. */
export class InfoBuilder {
  private bytes = new Uint8Array(4096);
  private length = 0;
  constructor(readonly base: number, private readonly limit = BootInfoArea.end) {}

  /** Reserves `size` zeroed bytes aligned to `align`; returns their guest-physical address. */
  reserve(size: number, align = 8): number {
    const off = alignUp(this.length, align);
    const end = off + size;
    if (this.base + end > this.limit) throw new ImageError(`the boot information (${end} bytes from ${hex(this.base)}) does not fit below ${hex(this.limit)}; shorten the command lines or use fewer modules`);
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.length = end;
    return this.base + off;
  }

  /** A NUL-terminated string; returns its address. */
  string(s: string, align = 1): number {
    const enc = new TextEncoder().encode(s);
    const at = this.reserve(enc.length + 1, align);
    this.bytes.set(enc, at - this.base);
    return at;
  }

  u8(at: number, v: number) { this.view().setUint8(at - this.base, v); }
  u16(at: number, v: number) { this.view().setUint16(at - this.base, v, true); }
  u32(at: number, v: number) { this.view().setUint32(at - this.base, v >>> 0, true); }
  u64(at: number, v: number | bigint) { this.view().setBigUint64(at - this.base, BigInt(v), true); }
  set(at: number, data: Uint8Array) { this.bytes.set(data, at - this.base); }

  get end(): number {
    return this.base + this.length;
  }

  private view() {
    return new DataView(this.bytes.buffer);
  }

  segment(role: SegmentRole): LoadSegment {
    return dataSegment(this.base, this.bytes.slice(0, this.length), role);
  }
}

export function dataSegment(at: number, data: Uint8Array, role: SegmentRole, exec = false): LoadSegment {
  return { gpa: gpa(at), data, memSize: data.length, vaddr: gva(at), flags: { read: true, write: true, exec }, role };
}

export function requireE820(map: readonly E820Entry[] | undefined, format: string): readonly E820Entry[] {
  if (!map) throw new ImageError(`loading a ${format} image needs the guest's memory map`);
  return map;
}

/**
 * Places blobs one after another, page-aligned, from `from` up, and checks
 * they end inside RAM below 4 GiB. Returns their addresses.
 */
export function placeAbove(from: number, sizes: readonly number[], map: readonly E820Entry[], what: (i: number) => string): number[] {
  const ramEnd = lowRamEnd(map);
  let at = alignUp(from, PAGE);
  return sizes.map((size, i) => {
    const here = at;
    if (here + size > ramEnd) {
      throw new ImageError(`${what(i)} (${size} bytes) does not fit in RAM: it would end at ${hex(here + size)}, past the end of RAM at ${hex(ramEnd)}; raise memory`);
    }
    at = alignUp(here + size, PAGE);
    return here;
  });
}
