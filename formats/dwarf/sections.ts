// The DWARF sections of an ELF file, bounds-checked against the file and
// inflated when the linker compressed them (SHF_COMPRESSED, `-gz`), so the
// decoders only ever see plain section bytes.

import * as zlib from 'node:zlib';
import type { ElfFile, ElfSection } from '../elf';
import { ByteReader, DwarfError } from './reader';

const SHT_NOBITS = 8;
const SHF_ALLOC = 0x2n;
const SHF_COMPRESSED = 0x800n;
const ELFCOMPRESS_ZLIB = 1;
/** Larger than any debug section a guest plausibly has; guards against a forged ch_size. */
const MAX_INFLATED = 1 << 30;

export interface DebugSections {
  line?: Uint8Array;
  info?: Uint8Array;
  abbrev?: Uint8Array;
  str?: Uint8Array;
  lineStr?: Uint8Array;
}

function sectionBytes(bytes: Uint8Array, elf: ElfFile, s: ElfSection): Uint8Array | undefined {
  if (s.type === SHT_NOBITS) return undefined;
  if (s.offset + s.size > bytes.length) {
    throw new DwarfError(`section ${s.name} (offset 0x${s.offset.toString(16)}, 0x${s.size.toString(16)} bytes) lies past the end of the file (${bytes.length} bytes)`);
  }
  const raw = bytes.subarray(s.offset, s.offset + s.size);
  if ((s.flags & SHF_COMPRESSED) === 0n) return raw;
  const r = new ByteReader(raw, `${s.name} compression header`);
  const type = r.u32('ch_type');
  let size: number;
  if (elf.bits === 64) {
    r.u32('ch_reserved');
    size = r.offset(8, 'ch_size');
    r.u64('ch_addralign');
  } else {
    size = r.u32('ch_size');
    r.u32('ch_addralign');
  }
  if (type !== ELFCOMPRESS_ZLIB) throw new DwarfError(`section ${s.name} is compressed with ELF compression type ${type}; only zlib (1) is supported`);
  if (size > MAX_INFLATED) throw new DwarfError(`section ${s.name} claims ${size} bytes uncompressed, more than the ${MAX_INFLATED} this reader accepts`);
  let out: Buffer;
  try {
    out = zlib.inflateSync(raw.subarray(r.pos), { maxOutputLength: Math.max(size, 1) });
  } catch (e) {
    throw new DwarfError(`section ${s.name}: zlib data is corrupt (${(e as Error).message})`);
  }
  if (out.length !== size) throw new DwarfError(`section ${s.name} inflates to ${out.length} bytes, but its header says ${size}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export function debugSections(bytes: Uint8Array, elf: ElfFile): DebugSections {
  const find = (name: string): Uint8Array | undefined => {
    const s = elf.sections.find((x) => x.name === name);
    return s ? sectionBytes(bytes, elf, s) : undefined;
  };
  return {
    line: find('.debug_line'),
    info: find('.debug_info'),
    abbrev: find('.debug_abbrev'),
    str: find('.debug_str'),
    lineStr: find('.debug_line_str'),
  };
}

/**
 * Whether anything is loaded at address 0. If not, line sequences that start at
 * 0 describe code the linker discarded (--gc-sections, COMDAT) and whose
 * relocations it resolved to 0; gdb drops them for the same reason.
 */
export function hasAllocatedZero(elf: ElfFile): boolean {
  return elf.sections.some((s) => (s.flags & SHF_ALLOC) !== 0n && s.addr === 0n && s.size > 0);
}
