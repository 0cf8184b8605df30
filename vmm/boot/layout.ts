// Where vmscope puts the structures it builds for a guest before entry, in
// guest-physical memory. Documented for guest authors in examples/README.md;
// the guest may overwrite all of it once it runs.

export const BootArea = {
  /** GDT: null, code64 (0x08), data (0x10), code32 (0x18), TSS (0x20, 16 bytes). */
  gdt: 0x500,
  /** A 104-byte 64-bit TSS so TR holds a valid busy TSS as VMX entry requires. */
  tss: 0x580,
  tssLimit: 0x67,
  /** PML4, then one PDPT, then four page directories mapping 4 GiB with 2 MiB pages. */
  pml4: 0x1000,
  pdpt: 0x2000,
  pd: 0x3000,
  end: 0x7000,
  /** Initial stack pointer in protected and long mode. */
  stackTop: 0x80000,
  /** Initial SP in real mode, below the traditional boot sector address. */
  realModeStack: 0x7c00,
} as const;

export const Selector = {
  code64: 0x08,
  data: 0x10,
  code32: 0x18,
  tss: 0x20,
} as const;

/** Identity-mapped range in long mode: the low 4 GiB (covers MMIO below 4 GiB). */
export const IDENTITY_MAP_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR: Intel hosts without
 * unrestricted guest need three pages for the real-mode TSS and one for an
 * identity page table, in guest-physical space that no RAM or region uses.
 * These are the addresses QEMU uses, just below the 4 GiB boundary.
 */
export const KVM_TSS_ADDR = 0xfffbd000;
export const KVM_IDENTITY_MAP_ADDR = 0xfeffc000;
/** RAM must end below the KVM private pages. */
export const MAX_LOW_RAM = KVM_IDENTITY_MAP_ADDR;
