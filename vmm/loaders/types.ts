// One interface for every image format vmscope loads (ELF, flat, Linux
// bzImages, Multiboot kernels and firmware ROMs): a loader turns file bytes
// into segments to copy, an entry point, the machine state its boot protocol
// promises, and symbols. Placing the bytes in guest memory and setting the
// registers is the builder's job, so loaders stay pure and testable.

import type { Gpa, Gva } from '../../common/address';
import type { ImageSymbol } from '../../formats/elf';
import type { E820Entry } from '../boot/e820';
import type { EntryMode, GdtLayout } from '../boot/cpu-state';
export type { ImageSymbol, SymbolKind } from '../../formats/elf';
export { ImageError } from '../../formats/elf';

/** What a segment holds: the image itself, or what the loader built or placed for it. */
export type SegmentRole = 'image' | 'boot-info' | 'cmdline' | 'initrd' | 'module' | 'firmware-alias' | 'acpi';

export interface LoadSegment {
  /** Where the bytes go in guest-physical memory. */
  gpa: Gpa;
  /** Bytes copied from the file. */
  data: Uint8Array;
  /** Total size in memory; the tail past data.length is zeroed (.bss). */
  memSize: number;
  /** Virtual address the image was linked at (equals gpa for flat images). */
  vaddr: Gva;
  flags: { read: boolean; write: boolean; exec: boolean };
  /** Absent means 'image'. */
  role?: SegmentRole;
}

/** General registers a boot protocol sets at entry (the rest are zero). */
export type EntryRegs = Partial<Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp' | 'rsp', bigint>>;

/** The machine state a boot protocol promises the kernel, applied by the builder on top of the mode's state. */
export interface EntryState {
  mode: EntryMode;
  regs: EntryRegs;
  /** The GDT the selectors come from; 'linux' for the 64-bit boot protocol's __BOOT_CS/__BOOT_DS. */
  gdt?: GdtLayout;
}

/** Backed memory the image needs beyond RAM (a firmware ROM below 4 GiB). */
export interface ImageRegion {
  name: string;
  kind: 'rom' | 'ram';
  gpa: Gpa;
  size: number;
}

export type ImageFormat = 'elf' | 'flat' | 'linux' | 'multiboot' | 'firmware';

export interface LoadedImage {
  format: ImageFormat;
  /** 16, 32 or 64: the code width the image was built for, when the format says. */
  bits?: 16 | 32 | 64;
  machine?: string;
  entry: Gva;
  segments: LoadSegment[];
  symbols: ImageSymbol[];
  /** Set by protocol loaders (linux, multiboot, firmware): the spec's boot.mode does not apply then. */
  entryState?: EntryState;
  regions?: ImageRegion[];
  /** Things worth telling the user that do not stop the boot (optional requests left unmet). */
  notes?: string[];
  /** One line on what was loaded, e.g. "Multiboot 1 kernel, info at 0x10000". */
  summary?: string;
}

export interface LoadOptions {
  /** Flat images: where to place them. */
  load?: Gpa;
  /** Flat images: entry override; ELF: handled by the builder (address or symbol). */
  entry?: Gva;
  /** The kernel command line (Linux, Multiboot). */
  cmdline?: string;
  /** Linux: the initial RAM disk's bytes. */
  initrd?: Uint8Array;
  /** Multiboot: modules, each with its own command line (the string the kernel sees for it). */
  modules?: ReadonlyArray<{ data: Uint8Array; cmdline: string }>;
  /** The guest's memory map (vmm/boot/e820.ts), for the protocols that hand it to the kernel. */
  e820?: readonly E820Entry[];
  /** Linux: where the builder puts the ACPI RSDP, handed over in boot_params.acpi_rsdp_addr. */
  acpiRsdp?: number;
}

export interface Loader {
  readonly format: ImageFormat;
  /** Whether an image without boot.format may be taken for this format by detect(). */
  readonly autoDetect: boolean;
  /** Cheap check of the file's first bytes. */
  detect(bytes: Uint8Array): boolean;
  load(bytes: Uint8Array, opts: LoadOptions): LoadedImage;
}
