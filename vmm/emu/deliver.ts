// Delivers exceptions and interrupts through the guest's IDT by hand, as the CPU
// does (SDM Vol. 3A 6.10–6.14, 7.3): Unicorn hands every event to the host instead.
// Pure logic over a DeliveryCpu, so it is unit-tested without an emulator.

import { Decoder, DecoderError, DecoderOptions, InstructionInfoFactory, MemorySizeExt, OpAccess, Register, RegisterExt } from 'iced-x86';
import type { GprName, Regs, Segment, Sregs } from '../registers';
import { CR0_PE, CR0_PG, CR4_LA57, CR4_PAE, CR4_SMEP, EFER_LMA, EFER_NXE, RFLAGS_AC, RFLAGS_IF, RFLAGS_IOPL, RFLAGS_NT, RFLAGS_RF, RFLAGS_TF, RFLAGS_VM } from '../registers';
import { walk, type PagingContext, type ReadPhys, type WalkFault } from '../paging/walk';

export interface DeliveryCpu {
  getRegs(): Regs;
  setRegs(r: Regs): void;
  getSregs(): Sregs;
  /** Writes segment registers with their hidden parts; the CPL becomes cs.dpl (ss.dpl in real mode 0). The backend makes this so. */
  setSregs(s: Sregs): void;
  /** Reads `len` bytes at a linear address through the guest's current page tables (supervisor access), or undefined if not mapped. */
  readLinear(addr: bigint, len: number): Uint8Array | undefined;
  /** Writes bytes at a linear address (supervisor, ignoring WP); false if not mapped/writable. */
  writeLinear(addr: bigint, bytes: Uint8Array): boolean;
  /**
   * Reads guest-physical memory, for walks of the guest's page tables: they
   * decide whether an access made during delivery faults (and the #PF error
   * code it gets), and serve pageFaultErrorCode.
   */
  readPhys: ReadPhys;
}

export type DeliveryEvent = {
  vector: number;
  /** exception: a fault/trap raised by an instruction; interrupt: an external interrupt (device, IF checked by the caller); software: int n / int3 / into (gate DPL checked against CPL, RIP already past the instruction) */
  source: 'exception' | 'interrupt' | 'software';
  /** Pushed when defined (the caller decides per vector: 8, 10-14, 17, 21, 29, 30); never in real mode. */
  errorCode?: number;
  /**
   * Software only: the INT instruction's length. A fault while delivering it is
   * reported at the INT instruction, so RIP goes back by this much. When omitted
   * it is read from the bytes before RIP (CC, CE or CD nn).
   */
  instructionLength?: number;
};

export type DeliveryResult =
  | { kind: 'delivered'; vector: number; /** #DF when a fault during delivery escalated */ escalated?: boolean }
  /** A fault while delivering #DF (shutdown, as KVM_EXIT_SHUTDOWN), or something this module does not model; the CPU state is left as it was. */
  | { kind: 'triple-fault'; why: string };

// Vectors (SDM Vol. 3A, Table 6-1) this module raises or classifies.
const DF = 8;
const TS = 10;
const NP = 11;
const SS = 12;
const GP = 13;
const PF = 14;

const NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', '#CSO', '#TS', '#NP', '#SS', '#GP', '#PF', 'vector 15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP'];
const vectorName = (v: number): string => NAMES[v] ?? `vector 0x${v.toString(16)}`;
const hex = (v: number | bigint): string => '0x' + v.toString(16);

/** Whether the vector pushes an error code when raised as an exception (SDM Vol. 3A, Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21 || vector === 29 || vector === 30;
}

// RFLAGS, CR0, CR4 and EFER bits, by the short names the SDM's delivery pseudocode uses.
const TF = RFLAGS_TF;
const IF = RFLAGS_IF;
const IOPL = RFLAGS_IOPL;
const NT = RFLAGS_NT;
const RF = RFLAGS_RF;
const VM = RFLAGS_VM;
const AC = RFLAGS_AC;

const MASK16 = 0xffffn;
const MASK32 = 0xffff_ffffn;
const MASK64 = (1n << 64n) - 1n;

/** An exception raised while delivering an event: what the CPU would deliver next. */
class Fault extends Error {
  constructor(
    readonly vector: number,
    readonly errorCode: number,
    why: string,
    /** For #PF: the address that goes into CR2. */
    readonly cr2?: bigint,
  ) {
    super(why);
  }
}

/** A condition this module does not model (task gates, memory outside the guest without paging): the run must stop. */
class Unmodelled extends Error {}

/** What one delivery attempt works on: copies of the CPU state, committed only if the attempt succeeds. */
interface Attempt {
  cpu: DeliveryCpu;
  regs: Regs;
  sregs: Sregs;
  /** IA-32e mode (64-bit IDT gates, 64-bit TSS) whether in 64-bit or compatibility mode. */
  long: boolean;
  paging: boolean;
  /** The EXT bit of error codes: 1 unless the event is a software interrupt (SDM 6.13). */
  ext: number;
  /** Pages already walked for an access kind (`page:write:user`): a frame's pushes share one or two pages. */
  allowed: Set<string>;
}

interface Pending {
  vector: number;
  source: DeliveryEvent['source'];
  errorCode: number | undefined;
}

/**
 * Delivers `event` and commits the new state (setSregs, then setRegs). A fault
 * during delivery is handled as the CPU does (SDM Table 6-5): after a benign
 * event the second exception is delivered instead; contributory after
 * contributory, or anything but benign after #PF, becomes #DF; a fault while
 * delivering #DF is a triple fault. Stack frames written by a failed attempt
 * stay in memory, as with a real CPU.
 */
export function deliver(cpu: DeliveryCpu, event: DeliveryEvent): DeliveryResult {
  // Shallow copies are enough: an attempt replaces segment objects, never edits them in place.
  const regs = { ...cpu.getRegs() };
  const sregs = { ...cpu.getSregs() };
  let ev: Pending = { vector: event.vector, source: event.source, errorCode: event.errorCode };
  let escalated = false;
  const trail: string[] = [];
  // A chain is at most benign -> serial -> contributory/#PF -> #DF -> shutdown; the bound only guards against a bug.
  while (trail.length < 8) {
    const a: Attempt = {
      cpu,
      regs: { ...regs },
      sregs: { ...sregs },
      long: (sregs.efer & EFER_LMA) !== 0n && (sregs.cr0 & CR0_PE) !== 0n,
      paging: (sregs.cr0 & CR0_PG) !== 0n,
      ext: ev.source === 'software' ? 0 : 1,
      allowed: new Set(),
    };
    try {
      if ((a.sregs.cr0 & CR0_PE) === 0n) deliverReal(a, ev);
      else if (a.long) deliverLong(a, ev);
      else deliverProtected(a, ev);
      cpu.setSregs(a.sregs);
      cpu.setRegs(a.regs);
      return escalated ? { kind: 'delivered', vector: ev.vector, escalated } : { kind: 'delivered', vector: ev.vector };
    } catch (e) {
      if (e instanceof Unmodelled) return { kind: 'triple-fault', why: [...trail, `delivering ${vectorName(ev.vector)}: ${e.message}`].join('; ') };
      if (!(e instanceof Fault)) throw e;
      trail.push(`${vectorName(e.vector)}(${hex(e.errorCode)}) while delivering ${vectorName(ev.vector)}: ${e.message}`);
      if (ev.vector === DF && ev.source === 'exception') return { kind: 'triple-fault', why: trail.join('; ') };
      // INT n did not complete: the exception it raised is reported at the instruction.
      if (ev.source === 'software') regs.rip = BigInt.asUintN(64, regs.rip - BigInt(event.instructionLength ?? softwareIntLength(cpu, regs, sregs, ev.vector)));
      if (e.cr2 !== undefined) sregs.cr2 = e.cr2;
      if (needsDoubleFault(ev, e.vector)) {
        ev = { vector: DF, source: 'exception', errorCode: 0 };
        escalated = true;
      } else {
        ev = { vector: e.vector, source: 'exception', errorCode: e.errorCode };
      }
    }
  }
  return { kind: 'triple-fault', why: trail.join('; ') };
}

type ExceptionClass = 'benign' | 'contributory' | 'page-fault';

/** SDM Vol. 3A, Table 6-4; interrupts and INT n are benign. */
function classOf(vector: number, source: DeliveryEvent['source']): ExceptionClass {
  if (source !== 'exception') return 'benign';
  if (vector === 0 || (vector >= 10 && vector <= 13) || vector === 21) return 'contributory';
  return vector === PF || vector === 20 ? 'page-fault' : 'benign';
}

/** SDM Vol. 3A, Table 6-5. */
function needsDoubleFault(first: Pending, second: number): boolean {
  const a = classOf(first.vector, first.source);
  const b = classOf(second, 'exception');
  return (a === 'contributory' && b === 'contributory') || (a === 'page-fault' && b !== 'benign');
}

/** The length of the INT instruction before RIP: INT3 (CC) and INTO (CE) are one byte, INT n (CD nn) two. */
function softwareIntLength(cpu: DeliveryCpu, regs: Regs, sregs: Sregs, vector: number): number {
  const before = cpu.readLinear(BigInt.asUintN(64, linearRip(regs, sregs) - 1n), 1)?.[0];
  if ((vector === 3 && before === 0xcc) || (vector === 4 && before === 0xce)) return 1;
  return 2;
}

/**
 * RFLAGS as pushed: a fault-class exception pushes RF=1, so that IRET back to
 * the faulting instruction does not re-trigger an instruction breakpoint (SDM
 * Vol. 3A 18.3.1.1). #DB, the traps #BP and #OF, and the aborts #DF and #MC push it unchanged.
 */
function pushedFlags(regs: Regs, ev: Pending): bigint {
  const fault = ev.source === 'exception' && ![1, 3, 4, DF, 18].includes(ev.vector);
  return fault ? regs.rflags | RF : regs.rflags;
}

/** CS.base + RIP; in 64-bit mode CS has no base, elsewhere linear addresses are 32 bits wide. */
function linearRip(regs: Regs, sregs: Sregs): bigint {
  return (sregs.efer & EFER_LMA) !== 0n && sregs.cs.l ? regs.rip : (sregs.cs.base + regs.rip) & MASK32;
}

// ---- memory -------------------------------------------------------------

function pagingContext(sregs: Sregs, features: PagingFeatures = {}): PagingContext {
  return { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer, ...features };
}

/** The #PF error code's P, W/R, U/S, RSVD and I/D bits (SDM Vol. 3A 4.7) for a walk's outcome. */
function errorCodeOf(fault: WalkFault | undefined, kind: AccessKind, user: boolean, sregs: Sregs): number {
  // P: the translation existed (a permission or reserved-bit fault, or a walk that passes now, as after a stale TLB entry).
  let err = fault === undefined || fault.kind === 'permission' || fault.kind === 'reserved-bit' ? 1 : 0;
  if (kind === 'write') err |= 2;
  if (user) err |= 4;
  if (fault?.kind === 'reserved-bit') err |= 8;
  // I/D is reported only with PAE-style paging and EFER.NXE, or with CR4.SMEP; otherwise it reads 0.
  const idReported = ((sregs.cr4 & CR4_PAE) !== 0n && (sregs.efer & EFER_NXE) !== 0n) || (sregs.cr4 & CR4_SMEP) !== 0n;
  if (kind === 'fetch' && idReported) err |= 0x10;
  return err;
}

/**
 * Checks an access the CPU makes while delivering, page by page, against the
 * guest's tables: #PF with CR2 at the first byte that faults. Accesses to the
 * IDT, GDT and TSS are implicit supervisor accesses; pushes are user accesses
 * when the handler runs at CPL 3.
 */
function checkPaging(a: Attempt, addr: bigint, len: number, what: string, write: boolean, user: boolean): void {
  if (!a.paging) return;
  const end = addr + BigInt(len);
  for (let at = addr; at < end; at = (at | 0xfffn) + 1n) {
    const key = `${at >> 12n}:${write}:${user}`;
    if (a.allowed.has(key)) continue;
    const w = walk(at, pagingContext(a.sregs), a.cpu.readPhys, { write, user });
    if (w.fault === undefined) {
      a.allowed.add(key);
      continue;
    }
    if (w.fault.kind === 'non-canonical') throw new Fault(GP, a.ext, `${what} at ${hex(at)} is not canonical`);
    throw new Fault(PF, errorCodeOf(w.fault, write ? 'write' : 'read', user, a.sregs), `${what} at ${hex(at)}: ${w.fault.kind}`, at);
  }
}

/** Outside IA-32e mode linear addresses are 32 bits wide. */
function linear(a: Attempt, addr: bigint): bigint {
  return a.long ? BigInt.asUintN(64, addr) : addr & MASK32;
}

/** A supervisor read of `len` bytes; memory the tables allow but that is not guest RAM cannot be modelled. */
function read(a: Attempt, addr: bigint, len: number, what: string): DataView {
  const at = linear(a, addr);
  checkPaging(a, at, len, what, false, false);
  const bytes = a.cpu.readLinear(at, len);
  if (bytes === undefined || bytes.length < len) throw new Unmodelled(`${what} at ${hex(at)} is not in guest memory`);
  return new DataView(bytes.buffer, bytes.byteOffset, len);
}

function write(a: Attempt, addr: bigint, bytes: Uint8Array, what: string, user: boolean): void {
  checkPaging(a, addr, bytes.length, what, true, user);
  if (!a.cpu.writeLinear(addr, bytes)) throw new Unmodelled(`${what} at ${hex(addr)} is not in guest memory`);
}

// ---- descriptors ---------------------------------------------------------

interface Gate {
  offset: bigint;
  selector: number;
  type: number;
  s: number;
  dpl: number;
  present: boolean;
  ist: number;
}

/** Reads IDT entry `vector` (8 bytes, or 16 in IA-32e mode) after the limit check (#GP(vector*8+2+EXT)). */
function readGate(a: Attempt, vector: number): Gate {
  const size = a.long ? 16 : 8;
  const idtErr = vector * 8 + 2 + a.ext;
  if (vector * size + size - 1 > a.sregs.idt.limit) throw new Fault(GP, idtErr, `vector ${hex(vector)} is beyond the IDT limit ${hex(a.sregs.idt.limit)}`);
  const dv = read(a, a.sregs.idt.base + BigInt(vector * size), size, `IDT entry ${hex(vector)}`);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  let offset = BigInt(((hi & 0xffff_0000) | (lo & 0xffff)) >>> 0);
  if (a.long) offset |= BigInt(dv.getUint32(8, true)) << 32n;
  return {
    offset,
    selector: lo >>> 16,
    type: (hi >>> 8) & 0xf,
    s: (hi >>> 12) & 1,
    dpl: (hi >>> 13) & 3,
    present: ((hi >>> 15) & 1) === 1,
    ist: a.long ? hi & 7 : 0,
  };
}

/** The gate checks shared by protected and IA-32e mode, in the SDM's order (INT n pseudocode). */
function checkGate(a: Attempt, ev: Pending, g: Gate, cpl: number, types: readonly number[]): void {
  const idtErr = ev.vector * 8 + 2 + a.ext;
  if (g.s !== 0 || !types.includes(g.type)) throw new Fault(GP, idtErr, `IDT entry ${hex(ev.vector)} is not ${a.long ? 'a 64-bit' : 'an'} interrupt or trap gate (type ${hex(g.type)}, S=${g.s})`);
  if (ev.source === 'software' && g.dpl < cpl) throw new Fault(GP, ev.vector * 8 + 2, `gate DPL ${g.dpl} < CPL ${cpl} for a software interrupt`);
  if (!g.present) throw new Fault(NP, idtErr, `IDT gate ${hex(ev.vector)} is not present`);
}

/** A segment descriptor as read from the GDT or LDT. */
interface Descriptor {
  /** Linear address of the descriptor, to set its accessed bit. */
  at: bigint;
  seg: Segment;
}

/** Reads the descriptor `selector` names (#GP(selector) outside the table; `fault` picks #TS for stack selectors). */
function readDescriptor(a: Attempt, selector: number, fault: number): Descriptor {
  const err = (selector & 0xfffc) | a.ext;
  const ldt = (selector & 4) !== 0;
  const table = ldt ? a.sregs.ldt : a.sregs.gdt;
  if (ldt && (a.sregs.ldt.unusable || !a.sregs.ldt.present)) throw new Fault(fault, err, `selector ${hex(selector)} refers to the LDT, and none is loaded`);
  const index = selector & 0xfff8;
  if (index + 7 > table.limit) throw new Fault(fault, err, `selector ${hex(selector)} is beyond the ${ldt ? 'LDT' : 'GDT'} limit ${hex(table.limit)}`);
  const at = linear(a, table.base + BigInt(index));
  const dv = read(a, at, 8, `descriptor ${hex(selector)}`);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const g = (hi >>> 23) & 1;
  const rawLimit = (lo & 0xffff) | (hi & 0xf_0000);
  return {
    at,
    seg: {
      base: BigInt(((hi & 0xff00_0000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0),
      limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
      selector,
      type: (hi >>> 8) & 0xf,
      s: (hi >>> 12) & 1,
      dpl: (hi >>> 13) & 3,
      present: (hi >>> 15) & 1,
      avl: (hi >>> 20) & 1,
      l: (hi >>> 21) & 1,
      db: (hi >>> 22) & 1,
      g,
      unusable: 0,
    },
  };
}

/** Loading a segment sets the descriptor's accessed bit in memory, as the CPU does. */
function markAccessed(a: Attempt, d: Descriptor): void {
  if (d.seg.type & 1) return;
  d.seg.type |= 1;
  const access = 0x80 | (d.seg.dpl << 5) | (d.seg.s << 4) | d.seg.type;
  write(a, d.at + 5n, Uint8Array.of(access), `descriptor ${hex(d.seg.selector)}`, false);
}

/**
 * The handler's code segment and CPL (SDM INT n pseudocode, TRAP-OR-INTERRUPT-GATE).
 * A conforming segment keeps the CPL.
 */
function loadHandlerCs(a: Attempt, g: Gate, cpl: number): { cs: Descriptor; newCpl: number } {
  const sel = g.selector;
  if ((sel & 0xfffc) === 0) throw new Fault(GP, a.ext, 'the gate names the null selector');
  const cs = readDescriptor(a, sel, GP);
  const err = (sel & 0xfffc) | a.ext;
  const code = cs.seg.s === 1 && (cs.seg.type & 8) !== 0;
  if (!code || cs.seg.dpl > cpl) throw new Fault(GP, err, `gate selector ${hex(sel)} is not a code segment with DPL <= CPL ${cpl}`);
  if (!cs.seg.present) throw new Fault(NP, err, `code segment ${hex(sel)} is not present`);
  if (a.long && (cs.seg.l !== 1 || cs.seg.db !== 0)) throw new Fault(GP, err, `code segment ${hex(sel)} is not a 64-bit code segment`);
  const conforming = (cs.seg.type & 4) !== 0;
  const newCpl = conforming ? cpl : cs.seg.dpl;
  markAccessed(a, cs);
  cs.seg.selector = (sel & 0xfffc) | newCpl;
  // The backend takes the CPL from cs.dpl; a conforming segment runs the handler at the old CPL.
  cs.seg.dpl = newCpl;
  return { cs, newCpl };
}

/** Segment registers left null (and unusable), as data segments after leaving virtual-8086 mode. */
function nullSegment(selector: number, dpl: number): Segment {
  return { base: 0n, limit: 0, selector, type: 0, present: 0, dpl, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
}

// ---- stacks --------------------------------------------------------------

interface Slot {
  value: bigint;
  size: 2 | 4 | 8;
}

/**
 * Pushes `slots` in order (the first at the highest address) below `sp` on
 * `ss`, after checking every slot against the segment limit (#SS(ssErr)).
 * Returns the new stack pointer within `mask`.
 */
function pushFrame(a: Attempt, ss: Segment, sp: bigint, mask: bigint, slots: Slot[], ssErr: number, user: boolean): bigint {
  const offsets: bigint[] = [];
  let at = sp;
  for (const s of slots) {
    at = (at - BigInt(s.size)) & mask;
    offsets.push(at);
    if (a.long) continue;
    const last = at + BigInt(s.size) - 1n;
    const expandDown = ss.s === 1 && (ss.type & 0xc) === 0x4;
    const fits = expandDown ? at > BigInt(ss.limit) && last <= (ss.db ? MASK32 : MASK16) : last <= BigInt(ss.limit);
    if (!fits) throw new Fault(SS, ssErr, `the stack ${hex(ss.selector)}:${hex(at)} is outside its segment limit ${hex(ss.limit)}`);
  }
  slots.forEach((s, i) => {
    const addr = linear(a, (a.long ? 0n : ss.base) + offsets[i]!);
    // Little-endian, truncated to the slot (a selector or EFLAGS in a 16-bit frame keeps its low bits).
    const bytes = new Uint8Array(s.size);
    let v = BigInt.asUintN(64, s.value);
    for (let b = 0; b < s.size; b++, v >>= 8n) bytes[b] = Number(v & 0xffn);
    write(a, addr, bytes, 'the stack', user);
  });
  return at;
}

// ---- modes ---------------------------------------------------------------

/** Real mode: the IVT's 4-byte IP:CS entries; FLAGS, CS, IP pushed; no error code (SDM 20.1.4). */
function deliverReal(a: Attempt, ev: Pending): void {
  const { regs, sregs } = a;
  if (ev.vector * 4 + 3 > sregs.idt.limit) throw new Fault(GP, 0, `vector ${hex(ev.vector)} is beyond the IVT limit ${hex(sregs.idt.limit)}`);
  const entry = read(a, sregs.idt.base + BigInt(ev.vector * 4), 4, `IVT entry ${hex(ev.vector)}`);
  const ip = entry.getUint16(0, true);
  const cs = entry.getUint16(2, true);
  const mask = sregs.ss.db ? MASK32 : MASK16;
  const slots: Slot[] = [
    { value: regs.rflags, size: 2 },
    { value: BigInt(sregs.cs.selector), size: 2 },
    { value: regs.rip, size: 2 },
  ];
  const sp = pushFrame(a, sregs.ss, regs.rsp & mask, mask, slots, 0, false);
  regs.rsp = (regs.rsp & ~mask) | sp;
  regs.rflags &= ~(IF | TF | AC);
  regs.rip = BigInt(ip);
  // A far transfer in real mode changes only the selector and base; the hidden limit and attributes stay.
  sregs.cs = { ...sregs.cs, selector: cs, base: BigInt(cs) << 4n };
}

/** 32-bit protected mode (and virtual-8086 mode): 16- and 32-bit interrupt and trap gates. */
function deliverProtected(a: Attempt, ev: Pending): void {
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
function deliverLong(a: Attempt, ev: Pending): void {
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

// ---- the #PF error code ---------------------------------------------------

/** What the walker needs beyond the control registers (CPUID-derived; the walker's defaults otherwise). */
export type PagingFeatures = Pick<PagingContext, 'maxPhysAddr' | 'gbPages'>;

const GPRS: ReadonlyArray<[Register, GprName]> = [
  [Register.RAX, 'rax'], [Register.RCX, 'rcx'], [Register.RDX, 'rdx'], [Register.RBX, 'rbx'],
  [Register.RSP, 'rsp'], [Register.RBP, 'rbp'], [Register.RSI, 'rsi'], [Register.RDI, 'rdi'],
  [Register.R8, 'r8'], [Register.R9, 'r9'], [Register.R10, 'r10'], [Register.R11, 'r11'],
  [Register.R12, 'r12'], [Register.R13, 'r13'], [Register.R14, 'r14'], [Register.R15, 'r15'],
];
const GPR_BY_REGISTER = new Map(GPRS);
const SEGMENT_BY_REGISTER = new Map<Register, 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs'>([
  [Register.ES, 'es'], [Register.CS, 'cs'], [Register.SS, 'ss'], [Register.DS, 'ds'], [Register.FS, 'fs'], [Register.GS, 'gs'],
]);

// Held for the life of the process: a wasm object per call would cost an allocation each.
let infoFactory: InstructionInfoFactory | undefined;

type AccessKind = 'fetch' | 'read' | 'write';

/** What pageFaultErrorCode needs of the CPU. */
export type PageFaultCpu = Pick<DeliveryCpu, 'getRegs' | 'getSregs' | 'readLinear' | 'readPhys'>;

/**
 * The #PF error code (SDM Vol. 3A 4.7) for a fault at `cr2` raised by the
 * instruction at RIP. The access kind comes from decoding the instruction
 * (iced-x86) and matching CR2 against its memory operands: too few mapped bytes
 * at RIP to decode, or CR2 within the instruction and no operand there, is a
 * fetch. P and RSVD come from a walk of the guest's tables; I/D is set only
 * where the CPU reports it. Not modelled: PK, SS, SGX; implicit supervisor
 * accesses made by a CPL-3 instruction (descriptor loads) count as user ones.
 */
export function pageFaultErrorCode(cpu: PageFaultCpu, cr2: bigint, features: PagingFeatures = {}): number {
  const regs = cpu.getRegs();
  const sregs = { ...cpu.getSregs(), cr2 };
  const v86 = (regs.rflags & VM) !== 0n;
  const cpl = (sregs.cr0 & CR0_PE) === 0n ? 0 : v86 ? 3 : sregs.cs.dpl;
  const kind = accessKind(regs, sregs, codeAt(cpu, regs, sregs));
  const user = cpl === 3;
  const w = walk(cr2, pagingContext(sregs, features), cpu.readPhys, { write: kind === 'write', execute: kind === 'fetch', user, ac: (regs.rflags & AC) !== 0n });
  return errorCodeOf(w.fault, kind, user, sregs);
}

/** Up to 15 bytes at the linear RIP: as many as are mapped (the instruction may run into the faulting page). */
function codeAt(cpu: PageFaultCpu, regs: Regs, sregs: Sregs): Uint8Array {
  const rip = linearRip(regs, sregs);
  const toPageEnd = Number(0x1000n - (rip & 0xfffn));
  return cpu.readLinear(rip, 15) ?? (toPageEnd < 15 ? cpu.readLinear(rip, toPageEnd) : undefined) ?? new Uint8Array(0);
}

/** Whether the instruction at RIP faulted fetching itself, reading or writing at CR2. */
function accessKind(regs: Regs, sregs: Sregs, code: Uint8Array): AccessKind {
  const long = (sregs.efer & EFER_LMA) !== 0n;
  const v86 = (regs.rflags & VM) !== 0n;
  const bitness = long && sregs.cs.l ? 64 : !v86 && (sregs.cr0 & CR0_PE) !== 0n && sregs.cs.db ? 32 : 16;
  const addrMask = bitness === 64 ? MASK64 : MASK32;
  const linRip = linearRip(regs, sregs);
  const cr2 = sregs.cr2 & addrMask;
  const decoder = new Decoder(bitness, code, DecoderOptions.None);
  decoder.ip = regs.rip & (bitness === 64 ? MASK64 : bitness === 32 ? MASK32 : MASK16);
  const insn = decoder.decode();
  try {
    // Too few bytes to decode: the rest of the instruction was not mapped.
    if (insn.isInvalid) return decoder.lastError === DecoderError.NoMoreBytes ? 'fetch' : 'read';
    const inInstruction = ((cr2 - linRip) & addrMask) < BigInt(insn.length);
    infoFactory ??= new InstructionInfoFactory();
    const info = infoFactory.info(insn);
    const operands = info.usedMemory().map((m) => {
      const segment = SEGMENT_BY_REGISTER.get(m.segment);
      const value = (r: Register): bigint => {
        const name = GPR_BY_REGISTER.get(RegisterExt.fullRegister(r));
        return name === undefined ? 0n : regs[name] & ((1n << BigInt(8 * RegisterExt.size(r))) - 1n);
      };
      const regSize = Math.max(m.base === Register.None ? 0 : RegisterExt.size(m.base), m.index === Register.None ? 0 : RegisterExt.size(m.index));
      const eaMask = regSize === 2 ? MASK16 : regSize === 4 ? MASK32 : addrMask;
      const ea = (value(m.base) + value(m.index) * BigInt(m.scale) + m.displacement) & eaMask;
      // In 64-bit mode only FS and GS have a base.
      const base = segment === undefined || (bitness === 64 && segment !== 'fs' && segment !== 'gs') ? 0n : sregs[segment].base;
      const out = { addr: (base + ea) & addrMask, size: MemorySizeExt.size(m.memorySize), access: m.access };
      m.free();
      return out;
    });
    info.free();
    const touches = (o: (typeof operands)[number]): boolean => {
      // Sizes iced does not know (REP string forms) match on the page: RSI/RDI point at the current element.
      if (o.size === 0) return cr2 >> 12n === o.addr >> 12n;
      return ((cr2 - o.addr) & addrMask) < BigInt(o.size);
    };
    const hits = operands.filter((o) => o.access !== OpAccess.None && o.access !== OpAccess.NoMemAccess && touches(o));
    if (hits.length === 0) return inInstruction ? 'fetch' : 'read';
    const writes = [OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite];
    // A read-modify-write operand is checked for the write (W=1), as the CPU reports it.
    return hits.some((o) => writes.includes(o.access)) ? 'write' : 'read';
  } finally {
    insn.free();
    decoder.free();
  }
}
