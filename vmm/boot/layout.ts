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

/** Linux's 64-bit boot protocol (boot.rst): its code and data selectors, in a GDT of their own. */
export const LinuxSelector = {
  bootCs: 0x10,
  bootDs: 0x18,
} as const;

/**
 * Where loaders put the boot information a protocol hands the kernel (Linux's
 * boot_params and command line, the Multiboot info structures and their
 * strings and memory map): above the boot area, below the initial stack, and
 * below 640 KiB, where every x86 kernel expects firmware-owned low memory.
 * Initrds and modules go above the kernel instead.
 */
export const BootInfoArea = {
  start: 0x8000,
  /** Linux's zero page, or the Multiboot info structure. */
  params: 0x10000,
  /** Linux's command line (up to the kernel's cmdline_size). */
  cmdline: 0x20000,
  /** 64 KiB below BootArea.stackTop stay free for the stack. */
  end: 0x70000,
} as const;

/** Identity-mapped range in long mode: the low 4 GiB (covers MMIO below 4 GiB). */
export const IDENTITY_MAP_BYTES = 4 * 1024 * 1024 * 1024;

// KVM's private pages (KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR) are defined with the spec checks that keep
// RAM and regions off them.
export { KVM_IDENTITY_MAP_ADDR, KVM_TSS_ADDR, MAX_LOW_RAM } from '../../vmspec/kvm-reserved';
