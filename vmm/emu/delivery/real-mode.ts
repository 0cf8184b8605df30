// Delivery in real mode: through the interrupt vector table, with no gates, privilege levels or error codes.

import { hex } from '../../../common/address';
import { RFLAGS_AC as AC, RFLAGS_IF as IF, RFLAGS_TF as TF } from '../../registers';
import { MASK16, MASK32, pushFrame, read, type Attempt, type Slot } from './attempt';
import { Fault, GP, type Pending } from './events';

/** Real mode: the IVT's 4-byte IP:CS entries; FLAGS, CS, IP pushed; no error code (SDM 20.1.4). */
export function deliverReal(a: Attempt, ev: Pending): void {
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
