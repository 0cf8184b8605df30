// The Linux x86 boot protocol's setup header in a bzImage: offsets and flags
// from the kernel's Documentation/arch/x86/boot.rst ("The real-mode kernel
// header"). Pure; the Linux loader and the spec checks read the same facts.

import { hex } from '../common/address';

export const SETUP_HEADER_OFFSET = 0x1f1;
export const HDRS_MAGIC = 0x53726448; // "HdrS"
export const LOADFLAGS = { loadedHigh: 0x01, kaslrFlag: 0x02, quietFlag: 0x20, keepSegments: 0x40, canUseHeap: 0x80 } as const;
export const XLF = { kernel64: 1 << 0, canBeLoadedAbove4g: 1 << 1, efiHandover32: 1 << 2, efiHandover64: 1 << 3, efiKexec: 1 << 4 } as const;
/** boot.rst: the 64-bit entry sits 0x200 past the protected-mode kernel's load address. */
export const ENTRY64_OFFSET = 0x200;
/** The oldest protocol vmscope boots: 2.12 added xloadflags, which says whether a 64-bit entry exists. */
export const MIN_PROTOCOL = 0x020c;

export interface SetupHeader {
  /** Sectors of real-mode setup code after the boot sector (0 in the file means 4). */
  setupSects: number;
  /** Protocol version, e.g. 0x020f for 2.15. */
  version: number;
  loadflags: number;
  code32Start: number;
  /** Highest address the initrd may end at (minus one); 0x37ffffff before protocol 2.03. */
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  xloadflags: number;
  /** Longest command line, without the terminating NUL (255 before 2.06). */
  cmdlineSize: number;
  prefAddress: bigint;
  /** Bytes of memory the kernel needs from its load address until it has decompressed and relocated itself. */
  initSize: number;
  /** Offset of the protected-mode kernel in the file: (setup_sects + 1) * 512. */
  kernelOffset: number;
  /** File offset just past the setup header (0x202 + the byte at 0x201): what a loader copies into boot_params. */
  headerEnd: number;
}

export class BzImageError extends Error {}

/** True when the file carries the boot protocol's "HdrS" signature at 0x202. */
export function isBzImage(bytes: Uint8Array): boolean {
  return bytes.length >= 0x206 && new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0x202, true) === HDRS_MAGIC;
}

/** Reads the setup header, failing with what is wrong when it is not one vmscope can boot. */
export function parseSetupHeader(bytes: Uint8Array): SetupHeader {
  if (!isBzImage(bytes)) throw new BzImageError('not a Linux bzImage: no "HdrS" boot protocol signature at offset 0x202');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = dv.getUint16(0x206, true);
  const v = `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`;
  if (version < MIN_PROTOCOL) {
    throw new BzImageError(`boot protocol ${v} is too old: vmscope enters Linux at its 64-bit entry, which needs protocol 2.12 or later (Linux 3.8+)`);
  }
  if (bytes.length < 0x268) throw new BzImageError('the file ends inside the setup header');
  const setupSects = dv.getUint8(0x1f1) || 4;
  const xloadflags = dv.getUint16(0x236, true);
  if (!(xloadflags & XLF.kernel64)) {
    throw new BzImageError('the kernel has no 64-bit entry point (XLF_KERNEL_64 is clear in xloadflags): it is a 32-bit kernel; build it with CONFIG_X86_64');
  }
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= bytes.length) throw new BzImageError(`the setup code (${setupSects} sectors) runs past the end of the file (${bytes.length} bytes)`);
  const headerEnd = 0x202 + dv.getUint8(0x201);
  if (headerEnd > kernelOffset || headerEnd < 0x268) throw new BzImageError(`the setup header's length byte at 0x201 puts its end at ${hex(headerEnd)}, which makes no sense`);
  return {
    setupSects,
    version,
    loadflags: dv.getUint8(0x211),
    code32Start: dv.getUint32(0x214, true),
    initrdAddrMax: dv.getUint32(0x22c, true),
    kernelAlignment: dv.getUint32(0x230, true),
    relocatable: dv.getUint8(0x234) !== 0,
    xloadflags,
    cmdlineSize: dv.getUint32(0x238, true),
    prefAddress: dv.getBigUint64(0x258, true),
    initSize: dv.getUint32(0x260, true),
    kernelOffset,
    headerEnd,
  };
}

/** "2.15" for 0x020f. */
export function protocolVersion(version: number): string {
  return `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`;
}

const MiB = 0x100000;

/** Where the protected-mode kernel goes: pref_address when it fits, else (relocatable) the lowest aligned address from 1 MiB. */
export function kernelLoadAddress(h: SetupHeader, kernelBytes: number, ramEnd: number): number {
  const need = Math.max(h.initSize, kernelBytes);
  const pref = h.prefAddress !== 0n ? Number(h.prefAddress) : h.code32Start || MiB;
  if (pref + need <= ramEnd) return pref;
  if (!h.relocatable) {
    throw new BzImageError(`the kernel is not relocatable and needs RAM from ${hex(pref)} to ${hex(pref + need)} (pref_address + init_size); raise memory to at least ${Math.ceil((pref + need) / MiB)} MiB`);
  }
  const low = Math.ceil(MiB / (h.kernelAlignment || 2 * MiB)) * (h.kernelAlignment || 2 * MiB);
  if (low + need > ramEnd) {
    throw new BzImageError(`the kernel needs ${Math.ceil(need / MiB)} MiB from ${hex(low)} (init_size, to decompress itself) but RAM ends at ${hex(ramEnd)}; raise memory`);
  }
  return low;
}
