// Typed address spaces. A guest-physical address (Gpa) cannot be passed where a
// guest-virtual one (Gva) or a host-virtual one (Hva) is expected, and back.
//
// Representation: GPAs fit in a number (x86 physical addresses are at most 52
// bits, below 2^53), which keeps hot paths free of bigint arithmetic. GVAs are
// 64-bit canonical addresses (0xffffffff80000000 does not fit a number) and HVAs
// come from mmap, so both are bigint; HPAs (Hpa) sit beside HVAs, as bigint.

declare const gpaBrand: unique symbol;
declare const gvaBrand: unique symbol;
declare const hvaBrand: unique symbol;
declare const hpaBrand: unique symbol;

export type Gpa = number & { readonly [gpaBrand]: true };
export type Gva = bigint & { readonly [gvaBrand]: true };
export type Hva = bigint & { readonly [hvaBrand]: true };
/** A host-physical address (a page frame from /proc/<pid>/pagemap, plus the offset). */
export type Hpa = bigint & { readonly [hpaBrand]: true };

/** Highest physical address width x86 defines (MAXPHYADDR ≤ 52). */
export const MAX_PHYS_BITS = 52;
const GPA_LIMIT = 2 ** MAX_PHYS_BITS;

/** Whether a value fits the guest-physical address space (below 2^52). */
export function isGpa(value: number | bigint): boolean {
  return value >= 0 && (typeof value === 'bigint' ? value < BigInt(GPA_LIMIT) : value < GPA_LIMIT);
}

export function gpa(value: number | bigint): Gpa {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (!Number.isSafeInteger(n) || n < 0 || n >= GPA_LIMIT || (typeof value === 'bigint' && BigInt(n) !== value)) {
    throw new RangeError(`not a guest-physical address: ${typeof value === 'bigint' ? '0x' + value.toString(16) : value}`);
  }
  return n as Gpa;
}

export function gva(value: bigint | number): Gva {
  const b = BigInt(value);
  if (b < 0n || b > 0xffff_ffff_ffff_ffffn) throw new RangeError(`not a 64-bit guest-virtual address: ${value}`);
  return b as Gva;
}

export function hva(value: bigint): Hva {
  if (value < 0n) throw new RangeError('negative host address');
  return value as Hva;
}

export function hpa(value: bigint): Hpa {
  if (value < 0n || value >= 1n << BigInt(MAX_PHYS_BITS)) throw new RangeError(`not a host-physical address: ${hex(value)}`);
  return value as Hpa;
}

/** Checked GPA arithmetic: throws instead of leaving the physical address space. */
export function gpaAdd(base: Gpa, offset: number): Gpa {
  return gpa(base + offset);
}

export function hex(value: number | bigint, width = 0): string {
  return '0x' + value.toString(16).padStart(width, '0');
}
