// Linux bzImages by the x86 boot protocol's 64-bit entry (the kernel's
// Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"): the
// protected-mode kernel at its preferred (or an aligned) address, a zero page
// (boot_params) with the setup header, e820 map, command line and initrd, and
// entry at load + 0x200 in long mode with RSI pointing at boot_params.

import { gva, hex } from '../../common/address';
import { BzImageError, ENTRY64_OFFSET, kernelLoadAddress, LOADFLAGS, parseSetupHeader, protocolVersion, isBzImage, SETUP_HEADER_OFFSET, type SetupHeader } from '../../formats/bzimage';
import { BootInfoArea } from '../boot/layout';
import { lowRamEnd, type E820Entry } from '../boot/e820';
import { alignDown, dataSegment, PAGE, requireE820 } from './boot-info';
import { ImageError, type Loader } from './types';

const MiB = 0x100000;
/** boot_params offsets (arch/x86/include/uapi/asm/bootparam.h, as boot.rst's zero-page table lists them). */
const BP = {
  acpiRsdpAddr: 0x070,
  extRamdiskImage: 0x0c0,
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  altMemK: 0x1e0,
  e820Entries: 0x1e8,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  cmdLinePtr: 0x228,
  e820Table: 0x2d0,
  e820Max: 128,
} as const;
/** "Undefined" boot loader ID (boot.rst, type_of_loader): vmscope has no assigned one. */
const LOADER_ID_UNDEFINED = 0xff;
/** boot.rst's example heap end for a setup segment with the heap just below the command line. */
const HEAP_END_PTR = 0xe000 - 0x200;

export const linuxLoader: Loader = {
  format: 'linux',
  autoDetect: true,
  detect: isBzImage,
  load(bytes, opts) {
    let h: SetupHeader;
    try {
      h = parseSetupHeader(bytes);
    } catch (e) {
      if (e instanceof BzImageError) throw new ImageError(e.message);
      throw e;
    }
    const map = requireE820(opts.e820, 'Linux');
    const ramEnd = lowRamEnd(map);
    const kernel = bytes.subarray(h.kernelOffset);
    let load: number;
    try {
      load = kernelLoadAddress(h, kernel.length, ramEnd);
    } catch (e) {
      if (e instanceof BzImageError) throw new ImageError(e.message);
      throw e;
    }
    const kernelEnd = load + Math.max(h.initSize, kernel.length);

    const cmdline = new TextEncoder().encode(opts.cmdline ?? '');
    // cmdline_size excludes the terminating NUL (boot.rst); protocols before 2.06 allowed 255.
    const cmdlineMax = h.version >= 0x0206 ? h.cmdlineSize : 255;
    if (cmdline.length > cmdlineMax) throw new ImageError(`the command line is ${cmdline.length} bytes, but this kernel accepts at most ${cmdlineMax} (cmdline_size)`);
    if (BootInfoArea.cmdline + cmdline.length + 1 > BootInfoArea.end) throw new ImageError(`the command line is ${cmdline.length} bytes; vmscope has room for ${BootInfoArea.end - BootInfoArea.cmdline - 1}`);
    const cmdlineAt = BootInfoArea.cmdline;

    const segments = [dataSegment(load, kernel, 'image', true)];
    let initrdAt = 0;
    const initrd = opts.initrd;
    if (initrd && initrd.length > 0) {
      // As high as allowed: below initrd_addr_max (the last byte it may use) and the end of RAM, page-aligned, above the kernel.
      const ceiling = Math.min(h.initrdAddrMax + 1, ramEnd);
      initrdAt = alignDown(ceiling - initrd.length, PAGE);
      if (initrdAt < kernelEnd) {
        throw new ImageError(
          `the initrd (${(initrd.length / MiB).toFixed(1)} MiB) does not fit between the kernel (${hex(load)}..${hex(kernelEnd)}, with room to decompress) and ${hex(ceiling)} (the end of RAM or initrd_addr_max); raise memory to at least ${Math.ceil((kernelEnd + initrd.length + PAGE) / MiB)} MiB`,
        );
      }
      segments.push(dataSegment(initrdAt, initrd, 'initrd'));
    }

    const bp = new Uint8Array(PAGE);
    const dv = new DataView(bp.buffer);
    bp.set(bytes.subarray(SETUP_HEADER_OFFSET, h.headerEnd), SETUP_HEADER_OFFSET);
    dv.setUint8(BP.typeOfLoader, LOADER_ID_UNDEFINED);
    dv.setUint8(BP.loadflags, (h.loadflags | LOADFLAGS.loadedHigh | LOADFLAGS.canUseHeap) & ~LOADFLAGS.keepSegments);
    dv.setUint32(BP.code32Start, load, true);
    dv.setUint16(BP.heapEndPtr, HEAP_END_PTR, true);
    dv.setUint32(BP.cmdLinePtr, cmdlineAt, true);
    dv.setUint32(BP.extCmdLinePtr, 0, true);
    dv.setUint32(BP.ramdiskImage, initrdAt, true);
    dv.setUint32(BP.ramdiskSize, initrd?.length ?? 0, true);
    dv.setUint32(BP.extRamdiskImage, 0, true);
    dv.setUint32(BP.extRamdiskSize, 0, true);
    writeE820(dv, map);
    // Kernels since 4.20 take the RSDP from here instead of scanning the BIOS area; older ones ignore the field (zero-page.rst: all protocol versions).
    if (opts.acpiRsdp !== undefined) dv.setBigUint64(BP.acpiRsdpAddr, BigInt(opts.acpiRsdp), true);
    const upper = map.find((e) => e.addr === MiB && e.type === 1);
    dv.setUint32(BP.altMemK, upper ? Math.floor(upper.size / 1024) : 0, true);

    segments.push(dataSegment(BootInfoArea.params, bp, 'boot-info'));
    segments.push(dataSegment(cmdlineAt, Uint8Array.from([...cmdline, 0]), 'cmdline'));
    const entry = load + ENTRY64_OFFSET;
    return {
      format: 'linux',
      bits: 64,
      machine: 'x86-64',
      entry: gva(entry),
      segments,
      symbols: [],
      entryState: { mode: 'long', regs: { rsi: BigInt(BootInfoArea.params) }, gdt: 'linux' },
      summary: `Linux boot protocol ${protocolVersion(h.version)}, kernel at ${hex(load)}, 64-bit entry ${hex(entry)}, boot_params at ${hex(BootInfoArea.params)}${initrdAt ? `, initrd at ${hex(initrdAt)}` : ''}`,
    };
  },
};

function writeE820(dv: DataView, map: readonly E820Entry[]): void {
  if (map.length > BP.e820Max) throw new ImageError(`the memory map has ${map.length} entries; boot_params holds ${BP.e820Max}`);
  dv.setUint8(BP.e820Entries, map.length);
  map.forEach((e, i) => {
    const at = BP.e820Table + 20 * i;
    dv.setBigUint64(at, BigInt(e.addr), true);
    dv.setBigUint64(at + 8, BigInt(e.size), true);
    dv.setUint32(at + 16, e.type, true);
  });
}
