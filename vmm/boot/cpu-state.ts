// The initial CPU state vmscope gives a guest for each boot mode: segment
// registers, control registers and the GDT they refer to. Pure apart from the
// memory writer, so the result can be checked without KVM.

import { hex } from '../../common/address';
import type { Regs, Segment, Sregs } from '../registers';
import { BootArea, LinuxSelector, Selector } from './layout';
import { buildIdentityMap, type PageTableWriter } from './page-tables';

import type { BootMode } from '../../vmspec/types';
export type { BootMode };

// The bits live with the register vocabulary; re-exported for the boot code's users.
export { CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME, RFLAGS_RESERVED } from '../registers';
import { CR0_ET, CR0_MP, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME, RFLAGS_RESERVED } from '../registers';

/** Descriptor fields as KVM's kvm_segment holds them (type is the 4-bit type). */
export interface Descriptor {
  base: number;
  limit: number; // 20-bit raw limit, in 4 KiB units when g=1
  type: number;
  s: number;
  dpl: number;
  present: number;
  avl: number;
  l: number;
  db: number;
  g: number;
}

/** Encodes an 8-byte code/data descriptor (SDM Vol. 3, 3.4.5). */
export function encodeDescriptor(d: Descriptor): bigint {
  const base = BigInt(d.base >>> 0);
  const limit = BigInt(d.limit & 0xfffff);
  const access = BigInt((d.present << 7) | (d.dpl << 5) | (d.s << 4) | (d.type & 0xf));
  const flags = BigInt((d.g << 3) | (d.db << 2) | (d.l << 1) | d.avl);
  return (
    (limit & 0xffffn) |
    ((base & 0xffffffn) << 16n) |
    (access << 40n) |
    (((limit >> 16n) & 0xfn) << 48n) |
    (flags << 52n) |
    (((base >> 24n) & 0xffn) << 56n)
  );
}

const flat = { base: 0, limit: 0xfffff, s: 1, dpl: 0, present: 1, avl: 0, g: 1 };
export const GDT_ENTRIES: ReadonlyArray<[number, Descriptor]> = [
  [Selector.code64, { ...flat, type: 0xb, l: 1, db: 0 }],
  [Selector.data, { ...flat, type: 0x3, l: 0, db: 1 }],
  [Selector.code32, { ...flat, type: 0xb, l: 0, db: 1 }],
];

/**
 * The GDT for Linux's 64-bit boot protocol (boot.rst): __BOOT_CS (0x10) a
 * 64-bit code segment and __BOOT_DS (0x18) a flat data segment. Only that
 * protocol uses it, so the selectors vmscope's own guests rely on stay put.
 */
export const LINUX_GDT_ENTRIES: ReadonlyArray<[number, Descriptor]> = [
  [LinuxSelector.bootCs, { ...flat, type: 0xb, l: 1, db: 0 }],
  [LinuxSelector.bootDs, { ...flat, type: 0x3, l: 0, db: 1 }],
];

/** Which GDT the entry state uses: vmscope's own (Selector) or the Linux boot protocol's (LinuxSelector). */
export type GdtLayout = 'vmscope' | 'linux';

function segmentFrom(selector: number, d: Descriptor): Segment {
  return {
    base: BigInt(d.base),
    limit: d.g ? ((d.limit << 12) | 0xfff) >>> 0 : d.limit,
    selector,
    type: d.type,
    present: d.present,
    dpl: d.dpl,
    db: d.db,
    s: d.s,
    l: d.l,
    g: d.g,
    avl: d.avl,
    unusable: 0,
  };
}

/** Writes the GDT (with a 64-bit TSS descriptor) into guest memory. */
export function writeGdt(mem: PageTableWriter, layout: GdtLayout = 'vmscope'): { base: bigint; limit: number } {
  const { gdt, tss, tssLimit } = BootArea;
  mem.fill(gdt, Selector.tss + 16, 0);
  for (const [sel, d] of layout === 'linux' ? LINUX_GDT_ENTRIES : GDT_ENTRIES) mem.writeU64(gdt + sel, encodeDescriptor(d));
  // 64-bit available TSS (type 9); KVM marks it busy when TR is loaded.
  mem.writeU64(gdt + Selector.tss, encodeDescriptor({ base: tss, limit: tssLimit, type: 0x9, s: 0, dpl: 0, present: 1, avl: 0, l: 0, db: 0, g: 0 }));
  mem.writeU64(gdt + Selector.tss + 8, 0n);
  mem.fill(tss, tssLimit + 1, 0);
  return { base: BigInt(gdt), limit: Selector.tss + 16 - 1 };
}

function realSegment(selector: number, code: boolean): Segment {
  return {
    base: BigInt(selector) << 4n,
    limit: 0xffff,
    selector,
    type: code ? 0xb : 0x3,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  };
}

export interface InitialState {
  regs: Regs;
  sregs: Sregs;
}

const zeroRegs = (): Regs => ({
  rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
  r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
  rip: 0n, rflags: RFLAGS_RESERVED,
});

export class BootStateError extends Error {}

/** The modes a vCPU can start in: the spec's boot modes, and `reset`, the CPU's own state after RESET (firmware). */
export type EntryMode = BootMode | 'reset';

/** EDX after RESET holds the processor signature (SDM Vol. 3A, 10.1.4); family 6 as QEMU's default CPUs report. */
export const RESET_EDX_SIGNATURE = 0x600n;

/**
 * Computes the entry state for `mode`, starting from the vCPU's reset sregs
 * (so fields vmscope does not set keep KVM's reset values), and writes the
 * GDT and page tables it needs into guest memory.
 */
export function initialState(mode: EntryMode, entry: bigint, reset: Sregs, mem: PageTableWriter, gdtLayout: GdtLayout = 'vmscope'): InitialState {
  const regs = zeroRegs();
  const sregs: Sregs = structuredClone(reset);
  switch (mode) {
    case 'reset': {
      // The architectural state after RESET (SDM Vol. 3A, Table 10-1), whatever
      // the backend's own reset state says: CS.base 0xFFFF0000 with IP 0xFFF0,
      // so the first fetch is at 0xFFFFFFF0 (the entry must be that address).
      if (entry !== 0xfffffff0n) throw new BootStateError(`a CPU coming out of reset fetches at 0xfffffff0, not ${hex(entry)}`);
      sregs.cs = { ...realSegment(0xf000, true), base: 0xffff0000n };
      for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) sregs[s] = realSegment(0, false);
      sregs.gdt = { base: 0n, limit: 0xffff };
      sregs.idt = { base: 0n, limit: 0xffff };
      sregs.cr0 = 0x60000010n; // CD | NW | ET
      sregs.cr2 = 0n;
      sregs.cr3 = 0n;
      sregs.cr4 = 0n;
      sregs.efer = 0n;
      regs.rip = 0xfff0n;
      regs.rdx = RESET_EDX_SIGNATURE;
      return { regs, sregs };
    }
    case 'real': {
      if (entry >= 0x100000n) throw new BootStateError(`real-mode entry ${hex(entry)} is above 1 MiB`);
      // CS:IP with IP < 64 KiB; linear address = entry.
      const cs = Number((entry >> 4n) & 0xf000n);
      regs.rip = entry - (BigInt(cs) << 4n);
      regs.rsp = BigInt(BootArea.realModeStack);
      sregs.cs = realSegment(cs, true);
      for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) sregs[s] = realSegment(0, false);
      // The IVT where the CPU's reset state puts it (SDM Vol. 3A, Table 10-1: IDTR base 0, limit 0xffff),
      // whatever the backend's own reset state says.
      sregs.idt = { base: 0n, limit: 0xffff };
      sregs.cr0 = CR0_ET;
      sregs.cr4 = 0n;
      sregs.efer = 0n;
      return { regs, sregs };
    }
    case 'protected':
    case 'long': {
      const gdt = writeGdt(mem, gdtLayout);
      sregs.gdt = gdt;
      sregs.idt = { base: 0n, limit: 0 };
      const linux = gdtLayout === 'linux';
      if (linux && mode !== 'long') throw new BootStateError('the Linux boot protocol\'s GDT is for its 64-bit entry (long mode)');
      const data = linux ? segmentFrom(LinuxSelector.bootDs, LINUX_GDT_ENTRIES[1]![1]) : segmentFrom(Selector.data, GDT_ENTRIES[1]![1]);
      for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) sregs[s] = { ...data };
      sregs.tr = {
        base: BigInt(BootArea.tss), limit: BootArea.tssLimit, selector: Selector.tss,
        type: 0xb, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0,
      };
      sregs.ldt = { ...sregs.ldt, selector: 0, present: 0, unusable: 1 };
      regs.rsp = BigInt(BootArea.stackTop);
      regs.rip = entry;
      if (mode === 'protected') {
        if (entry > 0xffffffffn) throw new BootStateError('protected-mode entry must be below 4 GiB');
        sregs.cs = segmentFrom(Selector.code32, GDT_ENTRIES[2]![1]);
        sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
        sregs.cr4 = 0n;
        sregs.efer = 0n;
      } else {
        sregs.cs = linux ? segmentFrom(LinuxSelector.bootCs, LINUX_GDT_ENTRIES[0]![1]) : segmentFrom(Selector.code64, GDT_ENTRIES[0]![1]);
        sregs.cr3 = buildIdentityMap(mem);
        sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        sregs.efer = EFER_LME | EFER_LMA;
      }
      return { regs, sregs };
    }
  }
}
