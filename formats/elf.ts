// The ELF32/ELF64 (little-endian x86) reader shared by the loader, the spec
// checks, the debugger and the language server: headers, program headers,
// section headers (for DWARF) and .symtab symbols. No npm ELF parser is maintained today (elfy was last
// published in 2017 and has no program-header API), so this is hand-written,
// with every offset bounds-checked.

import { gva, hex, type Gva } from '../common/address';

/** A file that is not the image it claims to be: truncated, malformed or for another machine. */
export class ImageError extends Error {}

export type SymbolKind = 'func' | 'object' | 'other';

export interface ImageSymbol {
  name: string;
  value: Gva;
  size: number;
  kind: SymbolKind;
  global: boolean;
}

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export interface ElfSection {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  flags: bigint;
}

export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
}

export interface ElfFile {
  bits: 32 | 64;
  machine: number;
  type: number;
  entry: bigint;
  programHeaders: ElfProgramHeader[];
  sections: ElfSection[];
  symbols: ImageSymbol[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

class Reader {
  private readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly is64: boolean,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(at: number, len: number, what: string): void {
    if (at < 0 || len < 0 || at + len > this.bytes.length) {
      throw new ImageError(`truncated ELF: ${what} at offset ${hex(at)} (+${len}) lies past the end of the file (${this.bytes.length} bytes); ${CUT_SHORT}`);
    }
  }
  u8(at: number): number {
    return this.dv.getUint8(at);
  }
  u16(at: number): number {
    return this.dv.getUint16(at, true);
  }
  u32(at: number): number {
    return this.dv.getUint32(at, true);
  }
  u64(at: number): bigint {
    return this.dv.getBigUint64(at, true);
  }
  /** A native-width word (u32 in ELF32, u64 in ELF64). */
  word(at: number): bigint {
    return this.is64 ? this.u64(at) : BigInt(this.u32(at));
  }
  /** A native-width offset or size that must fit a JS number. */
  num(at: number, what: string): number {
    const v = this.word(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImageError(`ELF ${what} is too large: ${hex(v)}`);
    return Number(v);
  }
  cstr(at: number, limit: number): string {
    let end = at;
    while (end < limit && this.bytes[end] !== 0) end++;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, end - at).toString('latin1');
  }
}

/** The fixes ELF errors end with: the file is cut short, or built for another machine. */
const CUT_SHORT = 'the file is cut short: rebuild the guest or copy it again';
const BUILD_X86 = 'build the guest for x86-64 or i386 (e.g. gcc -m64 or -m32, or an x86_64-elf- cross compiler)';

/** e_machine values a wrong image is likely to have (from the System V ABI's registry), for the message. */
const MACHINE_NAMES: Readonly<Record<number, string>> = {
  2: 'SPARC',
  8: 'MIPS',
  20: 'PowerPC',
  21: '64-bit PowerPC',
  22: 'IBM S/390',
  40: '32-bit ARM',
  43: 'SPARC V9',
  50: 'IA-64',
  183: 'AArch64 (64-bit ARM)',
  243: 'RISC-V',
  258: 'LoongArch',
};

export function parseElf(bytes: Uint8Array): ElfFile {
  if (!isElf(bytes)) throw new ImageError('not an ELF file (no \\x7fELF magic)');
  if (bytes.length < 52) throw new ImageError(`truncated ELF header (${bytes.length} bytes); ${CUT_SHORT}`);
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) throw new ImageError(`unknown ELF class ${cls} (neither 32- nor 64-bit); ${BUILD_X86}`);
  if (bytes[5] !== 1) throw new ImageError(`a big-endian ELF file is not an x86 image; ${BUILD_X86}`);
  const is64 = cls === 2;
  const r = new Reader(bytes, is64);
  r.check(0, is64 ? 64 : 52, 'ELF header');
  const type = r.u16(16);
  const machine = r.u16(18);
  if (machine !== EM_X86_64 && machine !== EM_386) {
    const name = MACHINE_NAMES[machine];
    throw new ImageError(`the ELF file is for ${name ?? `machine ${machine}`}, not x86 (EM_386 or EM_X86_64); ${BUILD_X86}`);
  }
  const entry = r.word(24);
  const phoff = r.num(is64 ? 32 : 28, 'e_phoff');
  const shoff = r.num(is64 ? 40 : 32, 'e_shoff');
  const phentsize = r.u16(is64 ? 54 : 42);
  const phnum = r.u16(is64 ? 56 : 44);
  const shentsize = r.u16(is64 ? 58 : 46);
  const shnum = r.u16(is64 ? 60 : 48);
  const shstrndx = r.u16(is64 ? 62 : 50);

  const programHeaders: ElfProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    r.check(at, is64 ? 56 : 32, `program header ${i}`);
    const ph: ElfProgramHeader = is64
      ? {
          type: r.u32(at),
          flags: r.u32(at + 4),
          offset: r.num(at + 8, 'p_offset'),
          vaddr: r.u64(at + 16),
          paddr: r.u64(at + 24),
          filesz: r.num(at + 32, 'p_filesz'),
          memsz: r.num(at + 40, 'p_memsz'),
        }
      : {
          type: r.u32(at),
          offset: r.u32(at + 4),
          vaddr: BigInt(r.u32(at + 8)),
          paddr: BigInt(r.u32(at + 12)),
          filesz: r.u32(at + 16),
          memsz: r.u32(at + 20),
          flags: r.u32(at + 24),
        };
    if (ph.type === PT_LOAD) {
      r.check(ph.offset, ph.filesz, `segment ${i}`);
      if (ph.memsz < ph.filesz) throw new ImageError(`segment ${i}: p_memsz is smaller than p_filesz`);
    }
    programHeaders.push(ph);
  }

  const sections: ElfSection[] = [];
  if (shoff !== 0 && shnum > 0) {
    const raw: Array<Omit<ElfSection, 'name'> & { nameOff: number; link: number; entsize: number }> = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      r.check(at, is64 ? 64 : 40, `section header ${i}`);
      raw.push(
        is64
          ? {
              nameOff: r.u32(at),
              type: r.u32(at + 4),
              flags: r.u64(at + 8),
              addr: r.u64(at + 16),
              offset: r.num(at + 24, 'sh_offset'),
              size: r.num(at + 32, 'sh_size'),
              link: r.u32(at + 40),
              entsize: r.num(at + 56, 'sh_entsize'),
            }
          : {
              nameOff: r.u32(at),
              type: r.u32(at + 4),
              flags: BigInt(r.u32(at + 8)),
              addr: BigInt(r.u32(at + 12)),
              offset: r.u32(at + 16),
              size: r.u32(at + 20),
              link: r.u32(at + 24),
              entsize: r.u32(at + 36),
            },
      );
    }
    const shstr = raw[shstrndx];
    for (const s of raw) {
      let name = '';
      if (shstr && shstr.type !== SHT_NOBITS) {
        r.check(shstr.offset, shstr.size, 'section name table');
        if (s.nameOff < shstr.size) name = r.cstr(shstr.offset + s.nameOff, shstr.offset + shstr.size);
      }
      sections.push({ name, type: s.type, addr: s.addr, offset: s.offset, size: s.size, flags: s.flags });
    }
    const symbols: ImageSymbol[] = [];
    for (const s of raw) {
      if (s.type !== SHT_SYMTAB) continue;
      const strtab = raw[s.link];
      if (!strtab) throw new ImageError('symbol table links to a missing string table');
      r.check(s.offset, s.size, 'symbol table');
      r.check(strtab.offset, strtab.size, 'symbol string table');
      const entsize = s.entsize || (is64 ? 24 : 16);
      for (let at = s.offset + entsize; at + entsize <= s.offset + s.size; at += entsize) {
        const nameOff = r.u32(at);
        const info = is64 ? r.u8(at + 4) : r.u8(at + 12);
        const shndx = is64 ? r.u16(at + 6) : r.u16(at + 14);
        const value = is64 ? r.u64(at + 8) : BigInt(r.u32(at + 4));
        const size = is64 ? Number(r.u64(at + 16)) : r.u32(at + 8);
        const stType = info & 0xf;
        const bind = info >> 4;
        if (shndx === 0 || stType === 3 /* SECTION */ || stType === 4 /* FILE */) continue;
        if (nameOff >= strtab.size) continue;
        const name = r.cstr(strtab.offset + nameOff, strtab.offset + strtab.size);
        if (!name) continue;
        const kind: SymbolKind = stType === 2 ? 'func' : stType === 1 ? 'object' : 'other';
        symbols.push({ name, value: gva(value), size, kind, global: bind === 1 || bind === 2 });
      }
    }
    return { bits: is64 ? 64 : 32, machine, type, entry, programHeaders, sections, symbols };
  }
  return { bits: is64 ? 64 : 32, machine, type, entry, programHeaders, sections, symbols: [] };
}
