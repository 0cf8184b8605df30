// The stepping state machine of one vCPU: how a paused vCPU carries out its
// orders (continue, one instruction, a line's address range with or without
// its calls, run to a return address) out of single steps and runs to the
// next debug event, and what stop each ends in. It decides; the loop
// (vmm/vcpu-loop.ts) enters the guest. Stepping runs on the vCPU's thread, so
// a line step of many instructions costs no hop per instruction.
//
// Every way of running on first leaves a breakpoint the vCPU stands on
// (`stepOff`), with that one breakpoint passed over for one instruction.

import { gva, type Gva } from '../../common/address';
import type { LoopEvent } from '../backend';
import type { VcpuStop } from '../exits';
import { decodeDr6, freeSlot, type DebugConfig, type HwSlot, type ResumeHow, type SoftWatch } from '../debug';
import { WatchedBytes, type ReadValue } from './soft-watch';

/** What a run to the next event can end in, besides a kick. */
export type RunEvent = Extract<LoopEvent, { kind: 'debug' } | { kind: 'exit-break' }>;

/** What the stepper drives: the loop's entries into the guest and the two registers it looks at. */
export interface StepGuest {
  /**
   * Runs until an event under the debug config in force, single-stepping if
   * asked; an instruction breakpoint at `mask` is passed over once. 'kicked'
   * when the machine wants the loop's attention. A run that ends the vCPU
   * does not return (the loop's Finished).
   */
  run(singleStep: boolean, mask?: bigint): RunEvent | 'kicked';
  /** The linear pc now (CS base + rip), as debug events report it. */
  pc(): Gva;
  rsp(): bigint;
}

/** How a stepping operation ends: a stop to report, or 'kicked' (the loop looks at its orders again). */
export type StepResult = VcpuStop | 'kicked';
/** One instruction's outcome: it ran (`stepped`, with the new pc), or something else stopped the vCPU. */
export type StepOutcome = StepResult | { kind: 'stepped'; pc: Gva };

/** The instruction breakpoint slots of `slots` at `pc`. */
export function breakpointsAt(slots: ReadonlyArray<HwSlot | null>, pc: bigint): number[] {
  return slots.flatMap((s, i) => (s?.kind === 'exec' && s.addr === pc ? [i] : []));
}

export class Stepper {
  /**
   * @param orders the debug config in force: the machine's commands replace
   *   it (also mid-step), and `runTo` lends it a spare slot while it runs
   * @param read guest-physical reads, for software watchpoints
   */
  constructor(
    private readonly orders: { debug: DebugConfig },
    private readonly guest: StepGuest,
    private readonly read: ReadValue,
  ) {}

  /**
   * Carries out `how` from a paused state; returns the stop to report.
   * `stepDone`: the vCPU paused inside an exit (the emulator) and the rest
   * of that instruction already was the step an instruction step asks for.
   */
  carryOut(how: ResumeHow, stepDone = false): StepResult {
    const debug = this.orders.debug;
    switch (how.kind) {
      case 'continue': {
        if (debug.softWatch?.length) return this.continueWatching(debug.softWatch);
        const r = this.stepOff(this.guest.pc());
        if (r && (r === 'kicked' || r.kind !== 'stepped')) return r;
        const ev = this.guest.run(false);
        return ev === 'kicked' ? ev : this.stopFor(ev);
      }
      case 'step-instruction': {
        if (stepDone) return { kind: 'step' };
        const r = this.singleStep(this.guest.pc());
        return r !== 'kicked' && r.kind === 'stepped' ? { kind: 'step' } : r;
      }
      case 'step-range':
        return this.stepRange(how.start, how.end, how.calls);
      case 'run-to':
        return this.runTo(how.addr, how.aboveSp) ?? { kind: 'step' };
    }
  }

  /**
   * Leaves an instruction breakpoint at `pc` before the vCPU runs on: one
   * instruction with that breakpoint passed over. Undefined when no
   * breakpoint is there (nothing ran).
   */
  stepOff(pc: bigint): StepOutcome | undefined {
    return breakpointsAt(this.orders.debug.slots, pc).length ? this.singleStep(pc) : undefined;
  }

  /**
   * Executes one instruction; an instruction breakpoint at `pc` is passed
   * over for it. Returns the new pc, or the stop something else caused (a
   * watchpoint, an exit breakpoint, a kick).
   */
  singleStep(pc: bigint): StepOutcome {
    const ev = this.guest.run(true, pc);
    if (ev === 'kicked') return 'kicked';
    if (ev.kind === 'exit-break') return this.stopFor(ev);
    const debug = this.orders.debug;
    const watch = this.slotsOf(ev).filter((i) => debug.slots[i] && debug.slots[i]!.kind !== 'exec');
    if (watch.length) return { kind: 'watchpoint', slots: watch, pc: ev.pc };
    if (decodeDr6(ev.dr6).singleStep) return { kind: 'stepped', pc: ev.pc };
    return this.stopFor(ev);
  }

  /** The stop an event means when vmscope did not single-step. */
  stopFor(ev: RunEvent): VcpuStop {
    if (ev.kind === 'exit-break') return { kind: 'exit', filter: ev.filter, code: ev.code, exit: ev.exit, hits: ev.hits };
    const debug = this.orders.debug;
    if (ev.exception === 3 && debug.softwareBreakpoints) return { kind: 'sw-breakpoint', pc: ev.pc };
    const hit = this.slotsOf(ev).filter((i) => debug.slots[i]);
    const exec = hit.filter((i) => debug.slots[i]!.kind === 'exec');
    if (exec.length) return { kind: 'breakpoint', slots: exec, pc: ev.pc };
    if (hit.length) return { kind: 'watchpoint', slots: hit, pc: ev.pc };
    return { kind: 'debug', exception: ev.exception, pc: ev.pc, dr6: ev.dr6 };
  }

  /**
   * Single-steps while pc stays in [start, end), running each call in
   * `calls` at full speed to its return address (step over). Stops at an
   * instruction breakpoint reached inside the range.
   */
  private stepRange(start: bigint, end: bigint, calls: ReadonlyArray<{ at: bigint; ret: bigint }>): StepResult {
    let pc = this.guest.pc();
    for (;;) {
      const call = calls.find((c) => c.at === pc);
      if (call) {
        // Back from the call when rsp is at least what it was before it.
        const r = this.runTo(call.ret, this.guest.rsp() - 1n);
        if (r) return r;
        pc = this.guest.pc();
      } else {
        const r = this.singleStep(pc);
        if (r === 'kicked' || r.kind !== 'stepped') return r;
        pc = r.pc;
      }
      if (pc < start || pc >= end) return { kind: 'step' };
      const bp = breakpointsAt(this.orders.debug.slots, pc);
      if (bp.length) return { kind: 'breakpoint', slots: bp, pc };
    }
  }

  /**
   * Runs to `addr` with rsp above `aboveSp` (a return from the frame the
   * step began in, not a recursive call's): through a spare DR slot lent to
   * the debug config while it runs, or by single steps where none is free.
   * Undefined when it got there.
   */
  runTo(addr: bigint, aboveSp: bigint): StepResult | undefined {
    const slot = freeSlot(this.orders.debug.slots);
    if (slot < 0) {
      // No spare slot: single-step until there (slow but exact).
      let pc = this.guest.pc();
      for (;;) {
        const r = this.singleStep(pc);
        if (r === 'kicked' || r.kind !== 'stepped') return r;
        pc = r.pc;
        if (pc === addr && this.guest.rsp() > aboveSp) return undefined;
      }
    }
    const user = this.orders.debug;
    const slots = [...user.slots];
    slots[slot] = { addr: gva(addr), kind: 'exec', len: 1 };
    this.orders.debug = { ...user, slots };
    try {
      let pc = this.guest.pc();
      for (;;) {
        // Leave a breakpoint (the user's or the lent one) at the current pc first.
        if (breakpointsAt(user.slots, pc).length || pc === addr) {
          const r = this.singleStep(pc);
          if (r === 'kicked' || r.kind !== 'stepped') return r;
          pc = r.pc;
          if (pc === addr && this.guest.rsp() > aboveSp) return undefined;
        }
        const ev = this.guest.run(false);
        if (ev === 'kicked') return 'kicked';
        const stop = this.stopFor(ev);
        if (stop.kind === 'breakpoint' && stop.slots.every((i) => i === slot)) {
          pc = stop.pc;
          if (this.guest.rsp() > aboveSp) return undefined;
          continue; // a recursive call reached the return address: keep going
        }
        if (stop.kind === 'breakpoint') stop.slots = stop.slots.filter((i) => i !== slot);
        return stop;
      }
    } finally {
      this.orders.debug = user;
    }
  }

  /**
   * Continue with software watchpoints: one instruction at a time, comparing
   * the watched bytes after each, and honouring instruction breakpoints
   * (each single step passes over the breakpoint at the pc it starts from).
   */
  private continueWatching(watches: ReadonlyArray<SoftWatch>): StepResult {
    const watched = new WatchedBytes(watches, this.read);
    let pc = this.guest.pc();
    for (;;) {
      const r = this.singleStep(pc);
      if (r === 'kicked' || r.kind !== 'stepped') return r;
      pc = r.pc;
      const changed = watched.changed();
      if (changed.length) return { kind: 'watchpoint', slots: changed, pc };
      const bp = breakpointsAt(this.orders.debug.slots, pc);
      if (bp.length) return { kind: 'breakpoint', slots: bp, pc };
    }
  }

  private slotsOf(ev: Extract<RunEvent, { kind: 'debug' }>): number[] {
    return ev.slots ?? decodeDr6(ev.dr6).slots;
  }
}
