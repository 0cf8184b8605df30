// Test fixtures: multiboot headers, bzImage setup headers and ROM images built
// from bytes, so the readers, the loaders and the spec checks are tested on
// files whose every field the test chose. Used only by tests.

import { HDRS_MAGIC } from './bzimage';
import { MB1_HEADER_MAGIC, MB2_HEADER_MAGIC } from './multiboot';

/** A Multiboot 1 header (12 bytes, or 32 with the address fields). */
export function mb1Header(flags: number, aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }): Uint8Array {
  const b = new Uint8Array(aout ? 32 : 12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, MB1_HEADER_MAGIC, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, (-(MB1_HEADER_MAGIC + flags)) >>> 0, true);
  if (aout) [aout.headerAddr, aout.loadAddr, aout.loadEndAddr, aout.bssEndAddr, aout.entryAddr].forEach((v, i) => dv.setUint32(12 + 4 * i, v, true));
  return b;
}

/** A Multiboot 2 header with `tags` (type, flags, u32 body words), ended by the end tag. */
export function mb2Header(tags: Array<{ type: number; flags?: number; body: number[] }>, architecture = 0): Uint8Array {
  const parts: number[] = [];
  const tagBytes: Uint8Array[] = [];
  for (const t of [...tags, { type: 0, flags: 0, body: [] }]) {
    const size = 8 + 4 * t.body.length;
    const padded = (size + 7) & ~7;
    const b = new Uint8Array(padded);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, t.type, true);
    dv.setUint16(2, t.flags ?? 0, true);
    dv.setUint32(4, size, true);
    t.body.forEach((w, i) => dv.setUint32(8 + 4 * i, w, true));
    tagBytes.push(b);
    parts.push(padded);
  }
  const length = 16 + parts.reduce((a, n) => a + n, 0);
  const out = new Uint8Array(length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MB2_HEADER_MAGIC, true);
  dv.setUint32(4, architecture, true);
  dv.setUint32(8, length, true);
  dv.setUint32(12, (-(MB2_HEADER_MAGIC + architecture + length)) >>> 0, true);
  let off = 16;
  for (const b of tagBytes) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

export interface BzImageFields {
  setupSects?: number;
  version?: number;
  xloadflags?: number;
  relocatable?: boolean;
  kernelAlignment?: number;
  prefAddress?: bigint;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  initSize?: number;
}

/**
 * A bzImage: boot sector + setup sectors with a setup header, then `payload`
 * as the protected-mode kernel (its 64-bit entry is at payload offset 0x200).
 */
export function bzImage(payload: Uint8Array, f: BzImageFields = {}): Uint8Array {
  const setupSects = f.setupSects ?? 1;
  const kernelOffset = ((setupSects || 4) + 1) * 512;
  const out = new Uint8Array(kernelOffset + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0x1f1, setupSects);
  dv.setUint16(0x1fe, 0xaa55, true);
  dv.setUint8(0x200, 0xeb); // the short jump over the header
  dv.setUint8(0x201, 0x6a); // header length: ends at 0x26c
  dv.setUint32(0x202, HDRS_MAGIC, true);
  dv.setUint16(0x206, f.version ?? 0x020f, true);
  dv.setUint8(0x211, 0x01); // LOADED_HIGH
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint32(0x22c, f.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, f.kernelAlignment ?? 0x200000, true);
  dv.setUint8(0x234, f.relocatable === false ? 0 : 1);
  dv.setUint16(0x236, f.xloadflags ?? 0x3, true);
  dv.setUint32(0x238, f.cmdlineSize ?? 2048, true);
  dv.setBigUint64(0x258, f.prefAddress ?? 0x1000000n, true);
  dv.setUint32(0x260, f.initSize ?? Math.max(payload.length, 0x10000), true);
  out.set(payload, kernelOffset);
  return out;
}

/** A ROM image of `size` bytes filled with 0xff, with `resetCode` at the reset vector (16 bytes below its end). */
export function romImage(size: number, resetCode: Uint8Array = Uint8Array.of(0xf4)): Uint8Array {
  const b = new Uint8Array(size).fill(0xff);
  b.set(resetCode, size - 16);
  return b;
}
