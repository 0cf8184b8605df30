// Delivers exceptions and interrupts through the guest's IDT by hand, as the CPU
// does (SDM Vol. 3A 6.10–6.14, 7.3): Unicorn hands every event to the host instead.
// Pure logic over a DeliveryCpu, so it is unit-tested without an emulator.
//
// The parts are in delivery/: the events and how faults combine (events.ts), the attempt and its memory accesses
// (attempt.ts), descriptors (descriptors.ts), real mode (real-mode.ts), gates (gates.ts) and the #PF error code
// (page-fault.ts).

import type { Regs, Sregs } from '../registers';
import { CR0_PE, CR0_PG, EFER_LMA } from '../registers';
import { hex } from '../../common/address';
import { linearRip, type Attempt, type DeliveryCpu } from './delivery/attempt';
import { DF, Fault, Unmodelled, needsDoubleFault, vectorName, type DeliveryEvent, type DeliveryResult, type Pending } from './delivery/events';
import { deliverLong, deliverProtected } from './delivery/gates';
import { deliverReal } from './delivery/real-mode';

export type { DeliveryCpu, PagingFeatures } from './delivery/attempt';
export { hasErrorCode, type DeliveryEvent, type DeliveryResult } from './delivery/events';
export { pageFaultErrorCode, type PageFaultCpu } from './delivery/page-fault';

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

/** The length of the INT instruction before RIP: INT3 (CC) and INTO (CE) are one byte, INT n (CD nn) two. */
function softwareIntLength(cpu: DeliveryCpu, regs: Regs, sregs: Sregs, vector: number): number {
  const before = cpu.readLinear(BigInt.asUintN(64, linearRip(regs, sregs) - 1n), 1)?.[0];
  if ((vector === 3 && before === 0xcc) || (vector === 4 && before === 0xce)) return 1;
  return 2;
}
