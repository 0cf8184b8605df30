// The BIOS e820 memory map vmscope reports for a memory layout: one source
// for Linux's boot_params table, the Multiboot memory maps and fw_cfg's
// etc/e820, so every guest sees the same map. The holes follow the PC's
// conventions (the EBDA below 640 KiB, the BIOS area below 1 MiB).

export const E820_TYPE = { ram: 1, reserved: 2, acpi: 3, nvs: 4, unusable: 5 } as const;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** The start of the extended BIOS data area, as firmware leaves it: RAM below it is the guest's. */
export const EBDA_START = 0x9fc00;
const LOW_END = 0xa0000;
const BIOS_START = 0xf0000;
const ONE_MIB = 0x100000;

/**
 * RAM at 0 becomes usable 0..0x9FC00, reserved 0x9FC00..0xA0000 and
 * 0xF0000..1 MiB, usable 1 MiB..its end (0xA0000..0xF0000, where VGA and
 * option ROMs would be, is left out, as firmware leaves it); other ram
 * regions are usable, rom regions reserved, MMIO windows absent.
 */
export function e820Map(layout: ReadonlyArray<{ kind: 'ram' | 'rom' | 'mmio'; gpa: number; size: number }>): E820Entry[] {
  const out: E820Entry[] = [];
  const add = (addr: number, end: number, type: number) => {
    if (end > addr) out.push({ addr, size: end - addr, type });
  };
  for (const r of layout) {
    const end = r.gpa + r.size;
    if (r.kind === 'mmio') continue;
    if (r.kind === 'rom') {
      add(r.gpa, end, E820_TYPE.reserved);
      continue;
    }
    if (r.gpa >= ONE_MIB || end <= r.gpa) {
      add(r.gpa, end, E820_TYPE.ram);
      continue;
    }
    // RAM reaching into the first megabyte: carve out the legacy areas.
    add(r.gpa, Math.min(end, EBDA_START), E820_TYPE.ram);
    add(Math.max(r.gpa, EBDA_START), Math.min(end, LOW_END), E820_TYPE.reserved);
    add(Math.max(r.gpa, BIOS_START), Math.min(end, ONE_MIB), E820_TYPE.reserved);
    add(Math.max(r.gpa, ONE_MIB), end, E820_TYPE.ram);
  }
  return out.sort((a, b) => a.addr - b.addr);
}

/** KiB of usable RAM from 0 and from 1 MiB up to the first hole: Multiboot's mem_lower and mem_upper. */
export function lowerUpperKiB(map: readonly E820Entry[]): { lower: number; upper: number } {
  const ram = map.filter((e) => e.type === E820_TYPE.ram);
  const low = ram.find((e) => e.addr === 0);
  const high = ram.find((e) => e.addr === ONE_MIB);
  return { lower: low ? Math.floor(low.size / 1024) : 0, upper: high ? Math.floor(high.size / 1024) : 0 };
}

/** The end of usable RAM below 4 GiB (where initrds and modules may go). */
export function lowRamEnd(map: readonly E820Entry[]): number {
  let end = 0;
  for (const e of map) if (e.type === E820_TYPE.ram && e.addr + e.size <= 2 ** 32) end = Math.max(end, e.addr + e.size);
  return end;
}
