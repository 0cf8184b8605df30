// The guest-physical pages KVM keeps for itself (KVM_SET_IDENTITY_MAP_ADDR and KVM_SET_TSS_ADDR): no RAM, ROM or
// ram region may cover them. One definition for the spec checks (check, the language server) and the machine
// builder, so that what the editor accepts is what runs.

/**
 * Intel hosts without unrestricted guest need three pages for the real-mode TSS and one for an identity page
 * table, in guest-physical space that no RAM or region uses. The identity page sits at 0xfeffc000 and the TSS
 * right after it, as QEMU places them: the four pages end at 0xff000000, so a firmware ROM of up to 16 MiB just
 * below 4 GiB misses them (QEMU's older 0xfffbd000 TSS address collides with any BIOS larger than 256 KiB).
 */
export const KVM_IDENTITY_MAP_ADDR = 0xfeffc000;
export const KVM_TSS_ADDR = KVM_IDENTITY_MAP_ADDR + 0x1000;
/** [start, end) of the four reserved pages. */
export const KVM_RESERVED = { start: KVM_IDENTITY_MAP_ADDR, end: KVM_TSS_ADDR + 3 * 0x1000 } as const;
/** RAM (which starts at 0) must end at or below the KVM private pages. */
export const MAX_LOW_RAM = KVM_IDENTITY_MAP_ADDR;
/** The largest whole number of MiB of RAM that fits below them, for messages and quick fixes. */
export const MAX_LOW_RAM_MIB = Math.floor(MAX_LOW_RAM / (1 << 20));

/** Whether backed memory (RAM, a ram or rom region; MMIO has no backing) at [gpa, gpa + size) covers a reserved page. */
export function overlapsKvmReserved(gpa: number, size: number): boolean {
  return gpa < KVM_RESERVED.end && KVM_RESERVED.start < gpa + size;
}
