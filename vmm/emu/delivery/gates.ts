// Delivery through IDT gates: 32-bit protected mode (with virtual-8086 mode) and IA-32e mode, including the stack
// switch to the TSS's stack for a more privileged handler (or to an IST stack) and the frame each mode pushes.

import { hex } from '../../../common/address';
import type { Regs, Segment } from '../../registers';
// RFLAGS bits by the short names the SDM's delivery pseudocode uses.
import { CR4_LA57, RFLAGS_IF as IF, RFLAGS_IOPL as IOPL, RFLAGS_NT as NT, RFLAGS_RF as RF, RFLAGS_TF as TF, RFLAGS_VM as VM } from '../../registers';
import { MASK16, MASK32, MASK64, pushFrame, read, type Attempt, type Slot } from './attempt';
import { checkGate, loadHandlerCs, markAccessed, nullSegment, readDescriptor, readGate } from './descriptors';
import { DF, Fault, GP, SS, TS, Unmodelled, type Pending } from './events';

/**
 * RFLAGS as pushed: a fault-class exception pushes RF=1, so that IRET back to
 * the faulting instruction does not re-trigger an instruction breakpoint (SDM
 * Vol. 3A 18.3.1.1). #DB, the traps #BP and #OF, and the aborts #DF and #MC push it unchanged.
 */
function pushedFlags(regs: Regs, ev: Pending): bigint {
  const fault = ev.source === 'exception' && ![1, 3, 4, DF, 18].includes(ev.vector);
  return fault ? regs.rflags | RF : regs.rflags;
}

/** 32-bit protected mode (and virtual-8086 mode): 16- and 32-bit interrupt and trap gates. */
export function deliverProtected(a: Attempt, ev: Pending): void {
  const { regs, sregs } = a;
  const v86 = (regs.rflags & VM) !== 0n;
  const cpl = v86 ? 3 : sregs.cs.dpl;
  // INT n in virtual-8086 mode needs IOPL 3 (without CR4.VME, which this does not model).
  if (v86 && ev.source === 'software' && (regs.rflags & IOPL) !== IOPL) throw new Fault(GP, 0, 'INT n in virtual-8086 mode with IOPL < 3');
  const g = readGate(a, ev.vector);
  checkGate(a, ev, g, cpl, [0x5, 0x6, 0x7, 0xe, 0xf]);
  if (g.type === 0x5) throw new Unmodelled(`IDT entry ${hex(ev.vector)} is a task gate, which vmscope's emulator does not support`);
  const { cs, newCpl } = loadHandlerCs(a, g, cpl);
  const err = (g.selector & 0xfffc) | a.ext;
  if (v86 && newCpl !== 0) throw new Fault(GP, err, 'a handler for virtual-8086 mode must be in a ring-0 non-conforming code segment');
  const wide = g.type >= 0xe;
  const size = wide ? 4 : 2;
  const eip = wide ? g.offset : g.offset & MASK16;
  if (eip > BigInt(cs.seg.limit)) throw new Fault(GP, a.ext, `handler offset ${hex(eip)} is beyond the code segment limit ${hex(cs.seg.limit)}`);

  const slots: Slot[] = [];
  let ss = sregs.ss;
  let sp = regs.rsp;
  let ssErr = a.ext;
  if (newCpl < cpl) {
    const stack = stackFromTss32(a, newCpl);
    ss = stack.ss;
    sp = stack.sp;
    ssErr = (ss.selector & 0xfffc) | a.ext;
    if (v86) for (const s of [sregs.gs, sregs.fs, sregs.ds, sregs.es]) slots.push({ value: BigInt(s.selector), size });
    slots.push({ value: BigInt(sregs.ss.selector), size }, { value: regs.rsp, size });
  }
  slots.push({ value: pushedFlags(regs, ev), size }, { value: BigInt(sregs.cs.selector), size }, { value: regs.rip, size });
  if (ev.errorCode !== undefined) slots.push({ value: BigInt(ev.errorCode), size });
  const mask = ss.db ? MASK32 : MASK16;
  const newSp = pushFrame(a, ss, sp & mask, mask, slots, ssErr, newCpl === 3);

  regs.rsp = (sp & ~mask) | newSp;
  regs.rip = eip;
  regs.rflags &= ~(TF | NT | RF | VM | (g.type === 0x6 || g.type === 0xe ? IF : 0n));
  sregs.cs = cs.seg;
  sregs.ss = ss;
  if (v86) for (const s of ['ds', 'es', 'fs', 'gs'] as const) sregs[s] = nullSegment(0, 0);
}

/** SS:ESP for `cpl` from the current 16- or 32-bit TSS, with the SDM's checks on the new SS (#TS, #SS). */
function stackFromTss32(a: Attempt, cpl: number): { ss: Segment; sp: bigint } {
  const tr = a.sregs.tr;
  const tssErr = (tr.selector & 0xfffc) | a.ext;
  const wide = (tr.type & 0x8) !== 0; // 32-bit TSS types 9/0xB; 16-bit 1/3
  const at = wide ? cpl * 8 + 4 : cpl * 4 + 2;
  if (at + (wide ? 5 : 3) > tr.limit) throw new Fault(TS, tssErr, `the TSS (limit ${hex(tr.limit)}) has no stack for ring ${cpl}`);
  const dv = read(a, tr.base + BigInt(at), wide ? 6 : 4, `the TSS stack for ring ${cpl}`);
  const sp = BigInt(wide ? dv.getUint32(0, true) : dv.getUint16(0, true));
  const sel = dv.getUint16(wide ? 4 : 2, true);
  if ((sel & 0xfffc) === 0) throw new Fault(TS, a.ext, `the TSS's SS for ring ${cpl} is null`);
  const err = (sel & 0xfffc) | a.ext;
  if ((sel & 3) !== cpl) throw new Fault(TS, err, `the TSS's SS ${hex(sel)} has RPL != ${cpl}`);
  const d = readDescriptor(a, sel, TS);
  const writableData = d.seg.s === 1 && (d.seg.type & 0xa) === 0x2;
  if (!writableData || d.seg.dpl !== cpl) throw new Fault(TS, err, `the TSS's SS ${hex(sel)} is not a writable data segment with DPL ${cpl}`);
  if (!d.seg.present) throw new Fault(SS, err, `stack segment ${hex(sel)} is not present`);
  markAccessed(a, d);
  return { ss: d.seg, sp };
}

/** IA-32e mode: 16-byte gates, a 64-bit frame always with SS:RSP, the stack aligned to 16, RSP0 or ISTn from the TSS. */
export function deliverLong(a: Attempt, ev: Pending): void {
  const { regs, sregs } = a;
  const cpl = sregs.cs.dpl;
  const g = readGate(a, ev.vector);
  checkGate(a, ev, g, cpl, [0xe, 0xf]);
  const { cs, newCpl } = loadHandlerCs(a, g, cpl);
  if (!canonical(a, g.offset)) throw new Fault(GP, a.ext, `handler address ${hex(g.offset)} is not canonical`);

  let rsp = regs.rsp;
  let ss = sregs.ss;
  if (g.ist !== 0 || newCpl < cpl) {
    // ISTn at 0x24 + 8*(n-1), RSPn at 4 + 8*n (SDM Figure 8-11); IST wins even without a CPL change.
    const at = g.ist !== 0 ? 0x1c + g.ist * 8 : 4 + newCpl * 8;
    const what = g.ist !== 0 ? `IST${g.ist}` : `RSP${newCpl}`;
    if (at + 7 > sregs.tr.limit) throw new Fault(TS, (sregs.tr.selector & 0xfffc) | a.ext, `the TSS (limit ${hex(sregs.tr.limit)}) has no ${what}`);
    rsp = read(a, sregs.tr.base + BigInt(at), 8, `TSS.${what}`).getBigUint64(0, true);
  }
  // The new SS is the null selector with RPL = the new CPL; its DPL carries the CPL as on VMX.
  if (newCpl < cpl) ss = nullSegment(newCpl, newCpl);
  rsp &= ~0xfn;
  if (!canonical(a, rsp)) throw new Fault(SS, a.ext, `the new stack ${hex(rsp)} is not canonical`);

  const slots: Slot[] = [
    { value: BigInt(sregs.ss.selector), size: 8 },
    { value: regs.rsp, size: 8 },
    { value: pushedFlags(regs, ev), size: 8 },
    { value: BigInt(sregs.cs.selector), size: 8 },
    { value: regs.rip, size: 8 },
  ];
  if (ev.errorCode !== undefined) slots.push({ value: BigInt(ev.errorCode), size: 8 });
  regs.rsp = pushFrame(a, ss, rsp, MASK64, slots, a.ext, newCpl === 3);
  regs.rip = g.offset;
  regs.rflags &= ~(TF | NT | RF | VM | (g.type === 0xe ? IF : 0n));
  sregs.cs = cs.seg;
  sregs.ss = ss;
}

function canonical(a: Attempt, addr: bigint): boolean {
  const bits = (a.sregs.cr4 & CR4_LA57) !== 0n ? 57n : 48n;
  const top = BigInt.asUintN(64, addr) >> (bits - 1n);
  return top === 0n || top === (1n << (65n - bits)) - 1n;
}
