// vCPU state of an emulated vCPU, in the runner's own register types: read
// and written through Unicorn's register API, except what that API cannot
// reach in UC_MODE_64 (segment hidden parts and the CPL), which goes through
// the saved CPU state (the context blob, vmm/emu/context.ts). Usable from the
// vCPU's thread and, while the vCPU is paused, from the machine's thread.

import type { Gva } from '../../common/address';
import { translate } from '../paging/walk';
import type { ReadPhys } from '../paging/walk';
import type { CpuidEntry, DebugRegs, Fpu, Regs, Segment, Sregs, Translation, VcpuEvents } from '../registers';
import { GPR_NAMES } from '../registers';
import type { VcpuStateApi } from '../vcpu-state';
import { contextLayout, encodeSegmentFlags, hflagsFor, readSegmentCache, type ContextLayout } from './context';
import type { UnicornNative } from './native';

export const MSR_EFER = 0xc0000080;
export const MSR_APIC_BASE = 0x1b;
const SEG_ORDER = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

export class EmuVcpuState implements VcpuStateApi {
  private readonly C: Readonly<Record<string, number>>;
  private readonly gprIds: number[];
  private layout: ContextLayout | undefined;

  constructor(
    private readonly uc: UnicornNative,
    readonly engine: number,
    private readonly readPhys: ReadPhys,
    private readonly paging: () => { maxPhysAddr: number; gbPages: boolean },
    /** Called after every write of vCPU state (so the vCPU thread drops what it cached). */
    private readonly onWrite: () => void = () => {},
  ) {
    this.C = uc.ucConstants;
    this.gprIds = GPR_NAMES.map((n) => this.C[`UC_X86_REG_${n.toUpperCase()}`]!);
  }

  private ctx(): ContextLayout {
    return (this.layout ??= contextLayout(this.uc, this.engine));
  }

  /**
   * The head of the saved state, read into one buffer that lives as long as
   * this object (no allocation per read: interrupt delivery reads it for every
   * event). Holds the general registers through the descriptor-table caches:
   * QEMU's segs[6] are followed by ldt, tr, gdt and idt, each a SegmentCache.
   */
  private head: DataView | undefined;
  private readHead(): DataView {
    const L = this.ctx();
    this.head ??= new DataView(new ArrayBuffer(L.segs + 10 * L.segSize));
    this.uc.ucContextRead(this.engine, this.head.buffer as ArrayBuffer);
    return this.head;
  }

  /** The whole saved state, in a buffer kept for setSregs's read-edit-write. */
  private full: ArrayBuffer | undefined;

  getRegs(): Regs {
    const out = {} as Regs;
    GPR_NAMES.forEach((n, i) => (out[n] = this.uc.ucRegRead(this.engine, this.gprIds[i]!)));
    return out;
  }

  setRegs(regs: Regs): void {
    GPR_NAMES.forEach((n, i) => {
      // Writing RIP makes Unicorn restart translation there; skip it when unchanged.
      if (n === 'rip' && this.uc.ucRegRead(this.engine, this.gprIds[i]!) === regs.rip) return;
      this.uc.ucRegWrite(this.engine, this.gprIds[i]!, BigInt.asUintN(64, regs[n]));
    });
    this.onWrite();
  }

  /** CS's base alone (for pc = CS.base + rip), without decoding every segment and control register. */
  csBase(): bigint {
    const L = this.ctx();
    return this.readHead().getBigUint64(L.segs + 1 * L.segSize + 8, true);
  }

  /** What a page walk needs (CR0, CR3, CR4, EFER), without the segments: for the many linear reads of one delivery. */
  pagingRegs(): { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint } {
    const C = this.C;
    const r = (id: number) => this.uc.ucRegRead(this.engine, id);
    return { cr0: r(C.UC_X86_REG_CR0!), cr3: r(C.UC_X86_REG_CR3!), cr4: r(C.UC_X86_REG_CR4!), efer: this.uc.ucMsrRead(this.engine, MSR_EFER) };
  }

  getSregs(): Sregs {
    const C = this.C;
    const L = this.ctx();
    const blob = this.readHead();
    // SegmentCache i after segs[0]: 0-5 ES..GS, 6 LDT, 7 TR, 8 GDT, 9 IDT.
    const seg = (i: number): Segment => readSegmentCache(blob, L.segs + i * L.segSize);
    const table = (i: number) => {
      const at = L.segs + i * L.segSize;
      return { base: blob.getBigUint64(at + 8, true), limit: blob.getUint32(at + 16, true) & 0xffff };
    };
    const out = {
      gdt: table(8),
      idt: table(9),
      cr0: this.uc.ucRegRead(this.engine, C.UC_X86_REG_CR0!),
      cr2: this.uc.ucRegRead(this.engine, C.UC_X86_REG_CR2!),
      cr3: this.uc.ucRegRead(this.engine, C.UC_X86_REG_CR3!),
      cr4: this.uc.ucRegRead(this.engine, C.UC_X86_REG_CR4!),
      cr8: this.uc.ucRegRead(this.engine, C.UC_X86_REG_CR8!),
      efer: this.uc.ucMsrRead(this.engine, MSR_EFER),
      apicBase: this.uc.ucMsrRead(this.engine, MSR_APIC_BASE),
      interruptBitmap: [0n, 0n, 0n, 0n],
      tr: seg(7),
      ldt: seg(6),
    } as Sregs;
    SEG_ORDER.forEach((name, i) => (out[name] = seg(i)));
    return out;
  }

  /**
   * Control registers and EFER go through the register API (Unicorn updates
   * its mode flags from them; CR4.PAE, CR3 and EFER before CR0.PG); then the
   * segments, with their hidden parts and the CPL, through the saved state.
   */
  setSregs(s: Sregs): void {
    const C = this.C;
    const id = this.engine;
    const cur = this.getSregs();
    const reg = (r: number, v: bigint, old: bigint) => {
      if (v !== old) this.uc.ucRegWrite(id, r, v);
    };
    const PG = 1n << 31n;
    const PAE = 1n << 5n;
    const LME = 1n << 8n;
    // As the CPU requires: paging off before EFER.LME or CR4.PAE change under it (or when it goes
    // off for good); then CR4, CR3 and EFER; CR0.PG last.
    const pagingModeChanges = ((s.efer ^ cur.efer) & LME) !== 0n || ((s.cr4 ^ cur.cr4) & PAE) !== 0n;
    let cr0 = cur.cr0;
    if (cr0 & PG && (!(s.cr0 & PG) || pagingModeChanges)) {
      cr0 = s.cr0 & ~PG;
      this.uc.ucRegWrite(id, C.UC_X86_REG_CR0!, cr0);
    }
    reg(C.UC_X86_REG_CR4!, s.cr4, cur.cr4);
    reg(C.UC_X86_REG_CR3!, s.cr3, cur.cr3);
    if (s.efer !== cur.efer) this.uc.ucMsrWrite(id, MSR_EFER, s.efer);
    reg(C.UC_X86_REG_CR0!, s.cr0, cr0);
    reg(C.UC_X86_REG_CR2!, s.cr2, cur.cr2);
    reg(C.UC_X86_REG_CR8!, s.cr8, cur.cr8);
    if (s.apicBase !== cur.apicBase) this.uc.ucMsrWrite(id, MSR_APIC_BASE, s.apicBase);
    this.uc.ucMmrWrite(id, C.UC_X86_REG_GDTR!, 0, s.gdt.base, s.gdt.limit, 0);
    this.uc.ucMmrWrite(id, C.UC_X86_REG_IDTR!, 0, s.idt.base, s.idt.limit, 0);
    for (const [r, seg] of [[C.UC_X86_REG_TR!, s.tr], [C.UC_X86_REG_LDTR!, s.ldt]] as const) {
      this.uc.ucMmrWrite(id, r, seg.selector, seg.base, seg.limit >>> 0, encodeSegmentFlags(seg));
    }
    const L = this.ctx();
    const buf = (this.full ??= this.uc.ucContextSave(id));
    this.uc.ucContextRead(id, buf);
    const blob = new DataView(buf);
    SEG_ORDER.forEach((name, i) => {
      const at = L.segs + i * L.segSize;
      const g = s[name];
      blob.setUint32(at, g.selector, true);
      blob.setBigUint64(at + 8, BigInt.asUintN(64, g.base), true);
      blob.setUint32(at + 16, g.limit >>> 0, true);
      blob.setUint32(at + 20, encodeSegmentFlags(g), true);
    });
    // LMA as the target says: WRMSR cannot change it (see ContextLayout.efer).
    blob.setBigUint64(L.efer, BigInt.asUintN(64, s.efer), true);
    blob.setUint32(L.hflags, hflagsFor(blob.getUint32(L.hflags, true), s), true);
    this.uc.ucContextRestore(id, buf);
    this.onWrite();
  }

  /** Every MSR reads (Unicorn answers unknown ones with 0, without a #GP). */
  getMsrs(indices: readonly number[]): Map<number, bigint> {
    return new Map(indices.map((i) => [i, this.uc.ucMsrRead(this.engine, i)]));
  }

  setMsrs(entries: ReadonlyArray<{ index: number; data: bigint }>): number {
    for (const e of entries) this.uc.ucMsrWrite(this.engine, e.index, e.data);
    return entries.length;
  }

  getFpu(): Fpu {
    const C = this.C;
    const bytes = (reg: number, n: number) => {
      const b = new Uint8Array(n);
      this.uc.ucRegReadBytes(this.engine, reg, b);
      return b;
    };
    return {
      fpr: Array.from({ length: 8 }, (_, i) => bytes(C.UC_X86_REG_ST0! + i, 10)),
      fcw: Number(this.uc.ucRegRead(this.engine, C.UC_X86_REG_FPCW!)),
      fsw: Number(this.uc.ucRegRead(this.engine, C.UC_X86_REG_FPSW!)),
      ftwx: Number(this.uc.ucRegRead(this.engine, C.UC_X86_REG_FPTAG!)) & 0xff,
      lastOpcode: 0,
      lastIp: 0n,
      lastDp: 0n,
      xmm: Array.from({ length: 16 }, (_, i) => bytes(C.UC_X86_REG_XMM0! + i, 16)),
      mxcsr: Number(this.uc.ucRegRead(this.engine, C.UC_X86_REG_MXCSR!)),
    };
  }

  getDebugRegs(): DebugRegs {
    const C = this.C;
    const r = (n: number) => this.uc.ucRegRead(this.engine, n);
    return { db: [r(C.UC_X86_REG_DR0!), r(C.UC_X86_REG_DR1!), r(C.UC_X86_REG_DR2!), r(C.UC_X86_REG_DR3!)], dr6: r(C.UC_X86_REG_DR6!), dr7: r(C.UC_X86_REG_DR7!), flags: 0n };
  }

  setDebugRegs(d: DebugRegs): void {
    const C = this.C;
    const w = (n: number, v: bigint) => this.uc.ucRegWrite(this.engine, n, v);
    d.db.forEach((v, i) => w(C.UC_X86_REG_DR0! + i, v));
    w(C.UC_X86_REG_DR6!, d.dr6);
    w(C.UC_X86_REG_DR7!, d.dr7);
  }

  /** The emulator delivers events as they happen (vmm/emu/deliver.ts): nothing is ever pending. */
  getEvents(): VcpuEvents {
    return {
      exception: { injected: 0, nr: 0, hasErrorCode: 0, pending: 0, errorCode: 0 },
      interrupt: { injected: 0, nr: 0, shadow: 0 },
      nmi: { injected: 0, pending: 0, masked: 0 },
      sipiVector: 0,
      flags: 0,
    };
  }

  setCpuid(_entries: readonly CpuidEntry[]): void {
    // The emulated vCPU answers CPUID from the runner's table in its CPUID hook (vmm/emu/vcpu.ts).
  }

  /** The runner's own walk over the guest's page tables (quick, and without side effects); reads only the paging registers, not every segment. */
  translate(addr: Gva): Translation {
    const physical = translate(addr, { ...this.pagingRegs(), ...this.paging() }, this.readPhys);
    return { linear: addr, physical: physical !== undefined ? BigInt(physical) : 0n, valid: physical !== undefined, writeable: true, usermode: true };
  }

  /**
   * The same translation by QEMU's MMU inside Unicorn (uc_vmem_translate): a
   * second, independent walker, to check vmscope's against, as KVM_TRANSLATE
   * is under KVM. A failed walk writes CR2, so CR2 is put back.
   */
  mmuTranslate(addr: Gva): Translation {
    const cr2Id = this.C.UC_X86_REG_CR2!;
    const cr2 = this.uc.ucRegRead(this.engine, cr2Id);
    const gpa = this.uc.ucVmemTranslate(this.engine, addr);
    if (this.uc.ucRegRead(this.engine, cr2Id) !== cr2) this.uc.ucRegWrite(this.engine, cr2Id, cr2);
    const valid = gpa !== 0xffff_ffff_ffff_ffffn;
    return { linear: addr, physical: valid ? gpa : 0n, valid, writeable: true, usermode: true };
  }

  getNestedState(): Uint8Array {
    throw new Error('the emulated vCPU has no VMX: there is no nested state');
  }
}
