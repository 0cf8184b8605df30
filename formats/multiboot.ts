// Multiboot 1 and Multiboot 2 header discovery: where the header is, what it
// asks of the boot loader, and whether it is well formed. Facts from the
// Multiboot Specification 0.6.96 (section 3.1) and Multiboot2 Specification
// 2.0 (section 3.1). Pure, shared by the loader and the spec checks.

import { hex } from '../common/address';

export const MB1_HEADER_MAGIC = 0x1badb002;
export const MB1_BOOTLOADER_MAGIC = 0x2badb002;
export const MB2_HEADER_MAGIC = 0xe85250d6;
export const MB2_BOOTLOADER_MAGIC = 0x36d76289;

/** Multiboot 1 header flags (bits 0-15 are required: a loader that does not know one must refuse). */
export const MB1_FLAG = {
  pageAlign: 1 << 0,
  memoryInfo: 1 << 1,
  videoMode: 1 << 2,
  aoutKludge: 1 << 16,
} as const;

export interface Multiboot1Header {
  version: 1;
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** Present with flag bit 16: where to load the file without reading its ELF headers. */
  aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
  /** Present with flag bit 2. */
  video?: { modeType: number; width: number; height: number; depth: number };
}

/** Multiboot 2 header tag types (specification section 3.1.3 onwards). */
export const MB2_TAG = {
  end: 0,
  informationRequest: 1,
  address: 2,
  entryAddress: 3,
  consoleFlags: 4,
  framebuffer: 5,
  moduleAlign: 6,
  efiBootServices: 7,
  entryAddressEfi32: 8,
  entryAddressEfi64: 9,
  relocatable: 10,
} as const;

export const MB2_TAG_NAMES: Readonly<Record<number, string>> = {
  1: 'information request',
  2: 'address',
  3: 'entry address',
  4: 'console flags',
  5: 'framebuffer',
  6: 'module alignment',
  7: 'EFI boot services',
  8: 'EFI i386 entry address',
  9: 'EFI amd64 entry address',
  10: 'relocatable',
};

export interface Multiboot2Tag {
  type: number;
  /** Bit 0 of the tag's flags: the kernel can boot without the loader honouring it. */
  optional: boolean;
  /** File offset of the tag. */
  offset: number;
  size: number;
  /** The tag's body (after its 8-byte type/flags/size head). */
  body: Uint8Array;
}

export interface Multiboot2Header {
  version: 2;
  offset: number;
  architecture: number;
  headerLength: number;
  tags: Multiboot2Tag[];
  /** Decoded where vmscope uses them. */
  address?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number };
  entryAddr?: number;
  /** Information request tag: the info tag types the kernel asks for (and whether it may go without them). */
  requests?: { types: number[]; optional: boolean };
  relocatable?: { minAddr: number; maxAddr: number; align: number; preference: number };
}

export type MultibootHeader = Multiboot1Header | Multiboot2Header;

/** A header found but malformed: the kernel is multiboot, but broken. */
export class MultibootHeaderError extends Error {}

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, true);
const u16 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 2).getUint16(0, true);

/** Searches the first 8192 bytes for a Multiboot 1 header (32-bit aligned magic whose checksum adds up). */
export function findMultiboot1(bytes: Uint8Array): Multiboot1Header | undefined {
  const limit = Math.min(8192, bytes.length) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (u32(bytes, off) !== MB1_HEADER_MAGIC) continue;
    const flags = u32(bytes, off + 4);
    if (((MB1_HEADER_MAGIC + flags + u32(bytes, off + 8)) >>> 0) !== 0) continue; // a stray magic, not a header
    const h: Multiboot1Header = { version: 1, offset: off, flags };
    if (flags & MB1_FLAG.aoutKludge) {
      if (off + 32 > bytes.length) throw new MultibootHeaderError('the Multiboot header sets flag 16 (address fields) but the file ends inside them');
      h.aout = {
        headerAddr: u32(bytes, off + 12),
        loadAddr: u32(bytes, off + 16),
        loadEndAddr: u32(bytes, off + 20),
        bssEndAddr: u32(bytes, off + 24),
        entryAddr: u32(bytes, off + 28),
      };
    }
    if (flags & MB1_FLAG.videoMode && off + 48 <= bytes.length) {
      h.video = { modeType: u32(bytes, off + 32), width: u32(bytes, off + 36), height: u32(bytes, off + 40), depth: u32(bytes, off + 44) };
    }
    return h;
  }
  return undefined;
}

/** Searches the first 32768 bytes for a Multiboot 2 header (64-bit aligned magic whose checksum adds up) and reads its tags. */
export function findMultiboot2(bytes: Uint8Array): Multiboot2Header | undefined {
  const limit = Math.min(32768, bytes.length) - 16;
  for (let off = 0; off <= limit; off += 8) {
    if (u32(bytes, off) !== MB2_HEADER_MAGIC) continue;
    const architecture = u32(bytes, off + 4);
    const headerLength = u32(bytes, off + 8);
    if (((MB2_HEADER_MAGIC + architecture + headerLength + u32(bytes, off + 12)) >>> 0) !== 0) continue;
    if (headerLength < 16 + 8 || off + headerLength > bytes.length) {
      throw new MultibootHeaderError(`the Multiboot2 header's length ${headerLength} runs past the end of the file or leaves no room for the end tag`);
    }
    const h: Multiboot2Header = { version: 2, offset: off, architecture, headerLength, tags: [] };
    let t = off + 16;
    const end = off + headerLength;
    for (;;) {
      if (t + 8 > end) throw new MultibootHeaderError('the Multiboot2 header has no end tag (type 0) within its header_length');
      const type = u16(bytes, t);
      const tflags = u16(bytes, t + 2);
      const size = u32(bytes, t + 4);
      if (size < 8 || t + size > end) throw new MultibootHeaderError(`Multiboot2 header tag ${type} at file offset ${hex(t)} has size ${size}, which runs past header_length`);
      const tag: Multiboot2Tag = { type, optional: (tflags & 1) !== 0, offset: t, size, body: bytes.subarray(t + 8, t + size) };
      if (type === MB2_TAG.end) break;
      h.tags.push(tag);
      decodeTag(h, tag);
      t += (size + 7) & ~7; // tags are 8-byte aligned
    }
    return h;
  }
  return undefined;
}

function decodeTag(h: Multiboot2Header, tag: Multiboot2Tag): void {
  const b = tag.body;
  const need = (n: number) => {
    if (b.length < n) throw new MultibootHeaderError(`Multiboot2 ${MB2_TAG_NAMES[tag.type]} tag is ${tag.size} bytes, too short`);
  };
  switch (tag.type) {
    case MB2_TAG.informationRequest: {
      const types: number[] = [];
      for (let i = 0; i + 4 <= b.length; i += 4) types.push(u32(b, i));
      h.requests = { types, optional: tag.optional };
      break;
    }
    case MB2_TAG.address:
      need(16);
      h.address = { headerAddr: u32(b, 0), loadAddr: u32(b, 4), loadEndAddr: u32(b, 8), bssEndAddr: u32(b, 12) };
      break;
    case MB2_TAG.entryAddress:
      need(4);
      h.entryAddr = u32(b, 0);
      break;
    case MB2_TAG.relocatable:
      need(16);
      h.relocatable = { minAddr: u32(b, 0), maxAddr: u32(b, 4), align: u32(b, 8), preference: u32(b, 12) };
      break;
    default:
      break;
  }
}

/** Either header, Multiboot 2 first when a file carries both (a loader that speaks both should prefer the newer). */
export function findMultiboot(bytes: Uint8Array): MultibootHeader | undefined {
  return findMultiboot2(bytes) ?? findMultiboot1(bytes);
}

/** Multiboot 2 info tag types vmscope's loader fills in (specification section 3.6). */
export const MB2_INFO = { end: 0, cmdline: 1, bootLoaderName: 2, module: 3, basicMeminfo: 4, mmap: 6 } as const;

/**
 * What in a header vmscope cannot honour: `required` problems stop the boot,
 * `ignored` ones are optional requests left unmet. Shared by the loader (which
 * refuses) and the spec checks (which point at them).
 */
export function unsupportedFeatures(h: MultibootHeader): { required: string[]; ignored: string[] } {
  const required: string[] = [];
  const ignored: string[] = [];
  if (h.version === 1) {
    // Bits 0 (page-align modules) and 1 (memory info) are honoured, 16 (address fields) is read; 2 (video mode) is not.
    if (h.flags & MB1_FLAG.videoMode) required.push('flag bit 2 (video mode): vmscope has no framebuffer');
    for (let bit = 3; bit < 16; bit++) {
      if (h.flags & (1 << bit)) required.push(`flag bit ${bit} (undefined by Multiboot 0.6.96, so a loader must refuse it)`);
    }
    return { required, ignored };
  }
  if (h.architecture !== 0) required.push(`architecture ${h.architecture} (vmscope boots i386, architecture 0)`);
  const supportedInfo = new Set<number>(Object.values(MB2_INFO));
  for (const tag of h.tags) {
    const name = `${MB2_TAG_NAMES[tag.type] ?? `unknown (type ${tag.type})`} tag`;
    switch (tag.type) {
      case MB2_TAG.informationRequest: {
        const missing = (h.requests?.types ?? []).filter((t) => !supportedInfo.has(t));
        if (missing.length) (tag.optional ? ignored : required).push(`information request for info tag type${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (vmscope provides 1, 2, 3, 4 and 6)`);
        break;
      }
      case MB2_TAG.address:
      case MB2_TAG.entryAddress:
      case MB2_TAG.moduleAlign:
        break; // honoured (modules are always page-aligned)
      case MB2_TAG.consoleFlags:
      case MB2_TAG.relocatable:
        ignored.push(`${name} (the kernel loads at its linked address)`);
        break;
      default:
        (tag.optional ? ignored : required).push(`${name}${tag.type === MB2_TAG.framebuffer ? ': vmscope has no framebuffer' : tag.type >= 7 && tag.type <= 9 ? ': vmscope has no EFI' : ''}`);
    }
  }
  return { required, ignored };
}
