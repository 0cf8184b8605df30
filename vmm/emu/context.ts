// The part of Unicorn's saved CPU state (QEMU's CPUX86State, as
// uc_context_save copies it) that vmscope edits: segment caches with their
// hidden parts, and the mode flags (hflags) that hold the CPL. Unicorn's
// register API cannot load those in UC_MODE_64. The layout is Unicorn's
// private business, so it is checked against known register values on first
// use, and vmscope refuses to run rather than trust a layout that differs.
// Offsets: QEMU 5's target/i386/cpu.h as built into Unicorn 2.1 (see
// ../shared/research/unicorn.md).

import type { Segment, Sregs } from '../registers';
import type { UnicornNative } from './native';
import { VmscopeError } from '../errors';

export interface ContextLayout {
  /** regs[16]: rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (QEMU's order). */
  regs: number;
  hflags: number;
  /** segs[6] in QEMU's order ES, CS, SS, DS, FS, GS; each: u32 selector, pad, u64 base, u32 limit, u32 flags. */
  segs: number;
  segSize: number;
  /**
   * EFER. Written here rather than through WRMSR because WRMSR cannot change
   * LMA, and Unicorn's 64-bit engine starts with LMA set and paging off, so
   * no CR0 write would ever clear it for a real- or protected-mode guest.
   */
  efer: number;
}

const EXPECTED: Omit<ContextLayout, 'efer'> = { regs: 0, hflags: 176, segs: 184, segSize: 24 };
const MSR_EFER = 0xc0000080;

// hflags bits (QEMU target/i386/cpu.h).
export const HF_CPL_MASK = 3;
export const HF_CS32 = 1 << 4;
export const HF_SS32 = 1 << 5;
export const HF_ADDSEG = 1 << 6;
export const HF_PE = 1 << 7;
export const HF_LMA = 1 << 14;
export const HF_CS64 = 1 << 15;
const EFER_LMA = 1n << 10n;

export class ContextLayoutMismatch extends VmscopeError {}

/** The layout is the loaded library's: checked once per process, on the first engine that asks. */
let checked: ContextLayout | undefined;

/** The checked layout (checked on `engine` the first time). */
export function contextLayout(uc: UnicornNative, engine: number): ContextLayout {
  if (checked) return checked;
  const C = uc.ucConstants;
  const save = { rax: uc.ucRegRead(engine, C.UC_X86_REG_RAX!), rbx: uc.ucRegRead(engine, C.UC_X86_REG_RBX!), fs: uc.ucRegRead(engine, C.UC_X86_REG_FS_BASE!), gs: uc.ucRegRead(engine, C.UC_X86_REG_GS_BASE!) };
  const probe = { rax: 0x1122334455667788n, rbx: 0x0badc0ffee0ddf00n, fs: 0x7f0012345000n, gs: 0x7f00abcde000n };
  uc.ucRegWrite(engine, C.UC_X86_REG_RAX!, probe.rax);
  uc.ucRegWrite(engine, C.UC_X86_REG_RBX!, probe.rbx);
  uc.ucRegWrite(engine, C.UC_X86_REG_FS_BASE!, probe.fs);
  uc.ucRegWrite(engine, C.UC_X86_REG_GS_BASE!, probe.gs);
  const blob = new DataView(uc.ucContextSave(engine));
  // EFER: the one u64 that changes when WRMSR flips EFER.NXE.
  const efer0 = uc.ucMsrRead(engine, MSR_EFER);
  uc.ucMsrWrite(engine, MSR_EFER, efer0 ^ (1n << 11n));
  const flipped = new DataView(uc.ucContextSave(engine));
  uc.ucMsrWrite(engine, MSR_EFER, efer0);
  const changed: number[] = [];
  for (let at = 0; at + 8 <= blob.byteLength; at += 8) if (blob.getBigUint64(at, true) !== flipped.getBigUint64(at, true)) changed.push(at);
  const eferAt = changed.length === 1 && blob.getBigUint64(changed[0]!, true) === efer0 ? changed[0]! : -1;
  const L: ContextLayout = { ...EXPECTED, efer: eferAt };
  const ok =
    eferAt >= 0 &&
    blob.byteLength > L.segs + 6 * L.segSize &&
    blob.getBigUint64(L.regs, true) === probe.rax &&
    blob.getBigUint64(L.regs + 3 * 8, true) === probe.rbx &&
    blob.getBigUint64(L.segs + 4 * L.segSize + 8, true) === probe.fs &&
    blob.getBigUint64(L.segs + 5 * L.segSize + 8, true) === probe.gs;
  uc.ucRegWrite(engine, C.UC_X86_REG_RAX!, save.rax);
  uc.ucRegWrite(engine, C.UC_X86_REG_RBX!, save.rbx);
  uc.ucRegWrite(engine, C.UC_X86_REG_FS_BASE!, save.fs);
  uc.ucRegWrite(engine, C.UC_X86_REG_GS_BASE!, save.gs);
  if (!ok) {
    throw new ContextLayoutMismatch(
      "this Unicorn's saved CPU state is not laid out as vmscope expects (it was checked against Unicorn 2.1.4), so segment state cannot be set safely; use Unicorn 2.1.4 (npm install fetches it)",
    );
  }
  checked = L;
  return L;
}

/**
 * One SegmentCache of the saved state at `at` (selector, base, limit, flags
 * as QEMU keeps them), as the runner's Segment. One object literal of one
 * shape, with no spread: getSregs builds ten of these for every event the
 * emulator delivers, and the spread form cost most of the delivery's time.
 */
export function readSegmentCache(blob: DataView, at: number): Segment {
  const flags = blob.getUint32(at + 20, true);
  const present = (flags >>> 15) & 1;
  return {
    base: BigInt(blob.getUint32(at + 8, true)) | (BigInt(blob.getUint32(at + 12, true)) << 32n),
    limit: blob.getUint32(at + 16, true),
    selector: blob.getUint32(at, true) & 0xffff,
    type: (flags >>> 8) & 0xf,
    present,
    dpl: (flags >>> 13) & 3,
    db: (flags >>> 22) & 1,
    s: (flags >>> 12) & 1,
    l: (flags >>> 21) & 1,
    g: (flags >>> 23) & 1,
    avl: (flags >>> 20) & 1,
    unusable: present ? 0 : 1,
  };
}

export function encodeSegmentFlags(s: Pick<Segment, 'type' | 's' | 'dpl' | 'present' | 'avl' | 'l' | 'db' | 'g' | 'unusable'>): number {
  const present = s.present && !s.unusable ? 1 : 0;
  return (((s.type & 0xf) << 8) | ((s.s & 1) << 12) | ((s.dpl & 3) << 13) | (present << 15) | ((s.avl & 1) << 20) | ((s.l & 1) << 21) | ((s.db & 1) << 22) | ((s.g & 1) << 23)) >>> 0;
}

/** hflags for segment registers loaded as `s` describes, as QEMU's segment loads would compute them. */
export function hflagsFor(old: number, s: Pick<Sregs, 'cr0' | 'efer' | 'cs' | 'ss' | 'ds' | 'es'>): number {
  let h = old & ~(HF_CPL_MASK | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_CS64 | HF_LMA | HF_PE);
  const pe = (s.cr0 & 1n) !== 0n;
  const lma = (s.efer & EFER_LMA) !== 0n;
  if (pe) h |= HF_PE;
  if (lma) h |= HF_LMA;
  // The CPL is SS's DPL (CS's where SS is null, as in 64-bit code at ring 0 with a null SS).
  const cpl = !pe ? 0 : s.ss.present && !s.ss.unusable ? s.ss.dpl : s.cs.dpl;
  h |= cpl & HF_CPL_MASK;
  if (lma && s.cs.l) {
    h |= HF_CS32 | HF_SS32 | HF_CS64;
  } else {
    if (s.cs.db) h |= HF_CS32;
    if (s.ss.db) h |= HF_SS32;
    if (!pe || !s.cs.db) h |= HF_ADDSEG;
    else if ((s.ds.base | s.es.base | s.ss.base) !== 0n) h |= HF_ADDSEG;
  }
  return h >>> 0;
}

/**
 * Where QEMU keeps the exception in flight, next to the debug registers in
 * CPUX86State: `int error_code; int exception_is_int; target_ulong
 * exception_next_eip; target_ulong dr[8]; CPUBreakpoint *[4]; int
 * old_exception`. Found through DR0, which the register API writes, and
 * checked like the rest of the layout.
 */
export interface ExceptionLayout {
  errorCode: number;
  isInt: number;
  oldException: number;
}

let exceptionChecked: ExceptionLayout | undefined;

export function exceptionLayout(uc: UnicornNative, engine: number): ExceptionLayout {
  if (exceptionChecked) return exceptionChecked;
  const C = uc.ucConstants;
  const saved = uc.ucRegRead(engine, C.UC_X86_REG_DR0!);
  const magic = 0x5eed_c0de_f00d_0000n;
  uc.ucRegWrite(engine, C.UC_X86_REG_DR0!, magic);
  const blob = new DataView(uc.ucContextSave(engine));
  uc.ucRegWrite(engine, C.UC_X86_REG_DR0!, saved);
  let dr0 = -1;
  for (let at = 0; at + 8 <= blob.byteLength; at += 8) {
    if (blob.getBigUint64(at, true) === magic) {
      dr0 = at;
      break;
    }
  }
  if (dr0 < 16 || dr0 + 100 > blob.byteLength) {
    throw new ContextLayoutMismatch("this Unicorn's saved CPU state has no debug registers where vmscope expects them (checked against Unicorn 2.1.4); use Unicorn 2.1.4 (npm install fetches it)");
  }
  const L = { errorCode: dr0 - 16, isInt: dr0 - 12, oldException: dr0 + 8 * 8 + 4 * 8 };
  exceptionChecked = L;
  return L;
}

/** The exception Unicorn's CPU raised: its error code and whether it came from INT n / INT3 / INTO. */
export function pendingException(uc: UnicornNative, engine: number): { errorCode: number; software: boolean } {
  const L = exceptionLayout(uc, engine);
  const blob = new DataView(uc.ucContextSave(engine));
  return { errorCode: blob.getUint32(L.errorCode, true), software: blob.getInt32(L.isInt, true) !== 0 };
}

/**
 * Marks the exception delivered. QEMU resets `old_exception` to -1 in its own
 * delivery, which Unicorn never runs; left as it is, QEMU would turn the next
 * contributory exception into #DF, and the one after into a shutdown.
 */
export function clearOldException(uc: UnicornNative, engine: number): void {
  const L = exceptionLayout(uc, engine);
  const buf = uc.ucContextSave(engine);
  new DataView(buf).setInt32(L.oldException, -1, true);
  uc.ucContextRestore(engine, buf);
}
