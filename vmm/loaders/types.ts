// One interface for every image format vmscope loads (ELF and flat now;
// bzImage, multiboot and firmware later): a loader turns file bytes into
// segments to copy, an entry point and symbols. Placing the bytes in guest
// memory is the builder's job, so loaders stay pure and testable.

import type { Gpa, Gva } from '../../common/address';
import type { ImageSymbol } from '../../formats/elf';
export type { ImageSymbol, SymbolKind } from '../../formats/elf';
export { ImageError } from '../../formats/elf';

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
}


export interface LoadedImage {
  format: 'elf' | 'flat';
  /** 16, 32 or 64: the code width the image was built for, when the format says. */
  bits?: 16 | 32 | 64;
  machine?: string;
  entry: Gva;
  segments: LoadSegment[];
  symbols: ImageSymbol[];
}


export interface LoadOptions {
  /** Flat images: where to place them. */
  load?: Gpa;
  /** Flat images: entry override; ELF: handled by the builder (address or symbol). */
  entry?: Gva;
}

export interface Loader {
  readonly format: LoadedImage['format'];
  /** Cheap check of the file's first bytes. */
  detect(bytes: Uint8Array): boolean;
  load(bytes: Uint8Array, opts: LoadOptions): LoadedImage;
}
