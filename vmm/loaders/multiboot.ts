// Multiboot 1 and 2 kernels: loaded by their ELF program headers or by the
// header's address fields, entered in 32-bit protected mode with the magic in
// EAX and the info structure's address in EBX, as the Multiboot Specification
// 0.6.96 (section 3.2) and Multiboot2 Specification 2.0 (section 3.3) promise.
// The info structure, its strings and memory map go in BootInfoArea; modules
// go page-aligned above the kernel.

import { gva, hex } from '../../common/address';
import { isElf } from '../../formats/elf';
import {
  findMultiboot,
  MB1_BOOTLOADER_MAGIC,
  MB2_BOOTLOADER_MAGIC,
  MB2_INFO,
  MultibootHeaderError,
  unsupportedFeatures,
  type MultibootHeader,
} from '../../formats/multiboot';
import { BootInfoArea } from '../boot/layout';
import { lowerUpperKiB, type E820Entry } from '../boot/e820';
import { dataSegment, InfoBuilder, placeAbove, requireE820 } from './boot-info';
import { elfLoader } from './elf';
import { ImageError, type LoadedImage, type LoadOptions, type LoadSegment, type Loader } from './types';

export const BOOT_LOADER_NAME = 'vmscope';

/** Multiboot 1 info flags (specification 3.3). */
const MBI = { mem: 1 << 0, cmdline: 1 << 2, mods: 1 << 3, mmap: 1 << 6, bootLoaderName: 1 << 9 } as const;

export function readHeader(bytes: Uint8Array): MultibootHeader {
  let h: MultibootHeader | undefined;
  try {
    h = findMultiboot(bytes);
  } catch (e) {
    if (e instanceof MultibootHeaderError) throw new ImageError(e.message);
    throw e;
  }
  if (!h) {
    throw new ImageError('no Multiboot header: neither a Multiboot 1 header (magic 0x1badb002, 4-byte aligned in the first 8 KiB) nor a Multiboot 2 header (magic 0xe85250d6, 8-byte aligned in the first 32 KiB) with a valid checksum');
  }
  return h;
}

/** The kernel's own bytes: per the header's address fields when it has them, else per its ELF program headers. */
function kernelSegments(bytes: Uint8Array, h: MultibootHeader): { segments: LoadSegment[]; entry: bigint; bits?: 16 | 32 | 64; symbols: LoadedImage['symbols'] } {
  const fields = h.version === 1 ? h.aout : h.address;
  if (fields) {
    const fileStart = h.offset - (fields.headerAddr - fields.loadAddr);
    if (fields.headerAddr < fields.loadAddr || fileStart < 0) throw new ImageError(`the Multiboot header's header_addr ${hex(fields.headerAddr)} is below its load_addr ${hex(fields.loadAddr)} or before the file's start`);
    const fileEnd = fields.loadEndAddr === 0 ? bytes.length : fileStart + (fields.loadEndAddr - fields.loadAddr);
    if (fileEnd > bytes.length || fileEnd < fileStart) throw new ImageError(`the Multiboot header's load_end_addr ${hex(fields.loadEndAddr)} lies past the end of the file`);
    const data = bytes.subarray(fileStart, fileEnd);
    const memSize = fields.bssEndAddr === 0 ? data.length : Math.max(data.length, fields.bssEndAddr - fields.loadAddr);
    const entry = h.version === 1 ? h.aout!.entryAddr : h.entryAddr;
    if (entry === undefined) throw new ImageError('the Multiboot2 header has an address tag but no entry address tag, so vmscope does not know where to start');
    const symbols = isElf(bytes) ? safeElfSymbols(bytes) : [];
    return { segments: [dataSegment(fields.loadAddr, data, 'image', true)].map((s) => ({ ...s, memSize })), entry: BigInt(entry), symbols };
  }
  if (!isElf(bytes)) {
    throw new ImageError(`the Multiboot ${h.version} header gives no load addresses (${h.version === 1 ? 'flag bit 16' : 'address tag'}) and the file is not ELF, so vmscope cannot tell where to load it`);
  }
  const elf = elfLoader.load(bytes, {});
  const entry = h.version === 2 && h.entryAddr !== undefined ? BigInt(h.entryAddr) : BigInt(elf.entry);
  return { segments: elf.segments.map((s) => ({ ...s, role: 'image' as const })), entry, bits: elf.bits, symbols: elf.symbols };
}

function safeElfSymbols(bytes: Uint8Array): LoadedImage['symbols'] {
  try {
    return elfLoader.load(bytes, {}).symbols;
  } catch {
    return []; // symbols are a convenience here; the address fields decide the load
  }
}

export const multibootLoader: Loader = {
  format: 'multiboot',
  // A Multiboot kernel is usually ELF too; without boot.format it loads as plain ELF, as before.
  autoDetect: false,
  detect(bytes) {
    try {
      return findMultiboot(bytes) !== undefined;
    } catch {
      return true; // a broken header is still a Multiboot kernel; load() says what is wrong
    }
  },
  load(bytes, opts) {
    const h = readHeader(bytes);
    const { required, ignored } = unsupportedFeatures(h);
    if (required.length) {
      throw new ImageError(`the Multiboot ${h.version} header asks for what vmscope cannot provide: ${required.join('; ')}`);
    }
    const map = requireE820(opts.e820, 'Multiboot');
    const kernel = kernelSegments(bytes, h);
    if (kernel.entry > 0xffffffffn) throw new ImageError(`the entry point ${hex(kernel.entry)} is above 4 GiB, but a Multiboot kernel starts in 32-bit protected mode`);
    const kernelEnd = Math.max(...kernel.segments.map((s) => s.gpa + s.memSize));
    const modules = opts.modules ?? [];
    const moduleAt = placeAbove(Math.max(kernelEnd, BootInfoArea.end), modules.map((m) => m.data.length), map, (i) => `module ${i + 1}`);
    const moduleSegments = modules.map((m, i) => dataSegment(moduleAt[i]!, m.data, 'module'));
    const info = h.version === 1 ? mb1Info(opts, map, moduleAt) : mb2Info(opts, map, moduleAt);
    return {
      format: 'multiboot',
      bits: kernel.bits,
      machine: 'i386',
      entry: gva(kernel.entry),
      segments: [...kernel.segments, info.segment('boot-info'), ...moduleSegments],
      symbols: kernel.symbols,
      entryState: {
        mode: 'protected',
        regs: { rax: BigInt(h.version === 1 ? MB1_BOOTLOADER_MAGIC : MB2_BOOTLOADER_MAGIC), rbx: BigInt(info.base) },
      },
      notes: ignored.map((what) => `the kernel's Multiboot header asks for ${what}, which vmscope ignores (it is optional)`),
      summary: `Multiboot ${h.version} kernel, entry ${hex(kernel.entry)}, info at ${hex(info.base)}${modules.length ? `, ${modules.length} module(s) from ${hex(moduleAt[0]!)}` : ''}`,
    };
  },
};

/** The Multiboot 1 information structure (specification 3.3) with its strings, module list and memory map after it. */
function mb1Info(opts: LoadOptions, map: readonly E820Entry[], moduleAt: number[]): InfoBuilder {
  const b = new InfoBuilder(BootInfoArea.params);
  const info = b.reserve(120, 8);
  const { lower, upper } = lowerUpperKiB(map);
  let flags = MBI.mem | MBI.cmdline | MBI.mmap | MBI.bootLoaderName;
  b.u32(info + 4, lower);
  b.u32(info + 8, upper);
  b.u32(info + 16, b.string(opts.cmdline ?? ''));
  const modules = opts.modules ?? [];
  if (modules.length) {
    flags |= MBI.mods;
    const list = b.reserve(16 * modules.length, 4);
    modules.forEach((m, i) => {
      b.u32(list + 16 * i, moduleAt[i]!);
      b.u32(list + 16 * i + 4, moduleAt[i]! + m.data.length);
      b.u32(list + 16 * i + 8, b.string(m.cmdline));
    });
    b.u32(info + 20, modules.length);
    b.u32(info + 24, list);
  }
  // Each entry is preceded by its size (20), which does not count itself.
  const mmap = b.reserve(24 * map.length, 4);
  map.forEach((e, i) => {
    const at = mmap + 24 * i;
    b.u32(at, 20);
    b.u64(at + 4, e.addr);
    b.u64(at + 12, e.size);
    b.u32(at + 20, e.type);
  });
  b.u32(info + 44, 24 * map.length);
  b.u32(info + 48, mmap);
  b.u32(info + 64, b.string(BOOT_LOADER_NAME));
  // Header flag bit 0 (page-aligned modules) holds whatever it says: placeAbove aligns every module to 4 KiB.
  b.u32(info, flags);
  return b;
}

/** The Multiboot 2 boot information (specification 3.6): 8-byte aligned tags after total_size and reserved. */
function mb2Info(opts: LoadOptions, map: readonly E820Entry[], moduleAt: number[]): InfoBuilder {
  const b = new InfoBuilder(BootInfoArea.params);
  const start = b.reserve(8, 8);
  const tag = (type: number, bodySize: number): number => {
    const at = b.reserve(8 + bodySize, 8);
    b.u32(at, type);
    b.u32(at + 4, 8 + bodySize);
    return at + 8;
  };
  const stringTag = (type: number, s: string, prefix = 0): number => {
    const enc = new TextEncoder().encode(s);
    const body = tag(type, prefix + enc.length + 1);
    b.set(body + prefix, enc);
    return body;
  };
  stringTag(MB2_INFO.cmdline, opts.cmdline ?? '');
  stringTag(MB2_INFO.bootLoaderName, BOOT_LOADER_NAME);
  (opts.modules ?? []).forEach((m, i) => {
    const body = stringTag(MB2_INFO.module, m.cmdline, 8);
    b.u32(body, moduleAt[i]!);
    b.u32(body + 4, moduleAt[i]! + m.data.length);
  });
  const { lower, upper } = lowerUpperKiB(map);
  const mem = tag(MB2_INFO.basicMeminfo, 8);
  b.u32(mem, lower);
  b.u32(mem + 4, upper);
  const mmap = tag(MB2_INFO.mmap, 8 + 24 * map.length);
  b.u32(mmap, 24); // entry_size
  b.u32(mmap + 4, 0); // entry_version
  map.forEach((e, i) => {
    const at = mmap + 8 + 24 * i;
    b.u64(at, e.addr);
    b.u64(at + 8, e.size);
    b.u32(at + 16, e.type);
  });
  tag(MB2_INFO.end, 0);
  b.u32(start, b.end - start);
  return b;
}

