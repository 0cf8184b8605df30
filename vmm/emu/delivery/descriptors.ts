// The descriptors a delivery reads in protected and IA-32e mode: the IDT gate for the vector, the handler's code
// segment and the new stack segment from the GDT or LDT, with the SDM's checks on each (INT n pseudocode).

import { hex } from '../../../common/address';
import type { Segment } from '../../registers';
import { linear, read, write, type Attempt } from './attempt';
import { Fault, GP, NP, type Pending } from './events';

export interface Gate {
  offset: bigint;
  selector: number;
  type: number;
  s: number;
  dpl: number;
  present: boolean;
  ist: number;
}

/** Reads IDT entry `vector` (8 bytes, or 16 in IA-32e mode) after the limit check (#GP(vector*8+2+EXT)). */
export function readGate(a: Attempt, vector: number): Gate {
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
export function checkGate(a: Attempt, ev: Pending, g: Gate, cpl: number, types: readonly number[]): void {
  const idtErr = ev.vector * 8 + 2 + a.ext;
  if (g.s !== 0 || !types.includes(g.type)) throw new Fault(GP, idtErr, `IDT entry ${hex(ev.vector)} is not ${a.long ? 'a 64-bit' : 'an'} interrupt or trap gate (type ${hex(g.type)}, S=${g.s})`);
  if (ev.source === 'software' && g.dpl < cpl) throw new Fault(GP, ev.vector * 8 + 2, `gate DPL ${g.dpl} < CPL ${cpl} for a software interrupt`);
  if (!g.present) throw new Fault(NP, idtErr, `IDT gate ${hex(ev.vector)} is not present`);
}

/** A segment descriptor as read from the GDT or LDT. */
export interface Descriptor {
  /** Linear address of the descriptor, to set its accessed bit. */
  at: bigint;
  seg: Segment;
}

/** Reads the descriptor `selector` names (#GP(selector) outside the table; `fault` picks #TS for stack selectors). */
export function readDescriptor(a: Attempt, selector: number, fault: number): Descriptor {
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
export function markAccessed(a: Attempt, d: Descriptor): void {
  if (d.seg.type & 1) return;
  d.seg.type |= 1;
  const access = 0x80 | (d.seg.dpl << 5) | (d.seg.s << 4) | d.seg.type;
  write(a, d.at + 5n, Uint8Array.of(access), `descriptor ${hex(d.seg.selector)}`, false);
}

/**
 * The handler's code segment and CPL (SDM INT n pseudocode, TRAP-OR-INTERRUPT-GATE).
 * A conforming segment keeps the CPL.
 */
export function loadHandlerCs(a: Attempt, g: Gate, cpl: number): { cs: Descriptor; newCpl: number } {
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
export function nullSegment(selector: number, dpl: number): Segment {
  return { base: 0n, limit: 0, selector, type: 0, present: 0, dpl, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
}
