// What a vCPU stop becomes: a DAP `stopped` event for the whole VM, or a
// silent resume (a condition that is false, a hit count not reached, a
// logpoint, a line step that has not reached a new line).
//
// Run control is all-stop: when one vCPU stops, vmscope pauses the others and
// reports one `stopped` event with allThreadsStopped. `continue` resumes every
// vCPU. A step runs only the stepping vCPU; the others stay paused until the
// next continue (like gdb's scheduler-locking "step" mode), so a step never
// lets them run away unseen.
//
// Two vCPUs can stop for the user in the same moment (each at its own
// breakpoint) before the all-stop reaches the second. Its stop is held
// back, not lost: the next continue reports it before anything runs, as gdb
// reports its pending events. A held stop is dropped when its vCPU moved
// (stepped, or its pc was written) or its breakpoint is gone.
//
// With a gdb client on the same machine (gdb-bridge.ts), the policy sees each
// stop before the stub does (the machine's stop filter): a stop it resumes at
// once is nobody's, every other stop reaches both. A stop at another owner's
// breakpoint or watchpoint is never resumed silently, and shows as theirs.

import { ExitedEvent, OutputEvent, StoppedEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import { describeVcpuEnd, formatCpu, type RunResult, type VcpuStop } from '../vmm/exits';
import { formatMemoryReference } from '../vmm/guest-access';
import type { HitDecision, ManagedBreakpoint } from './breakpoints';
import { describeExitStop } from '../vmm/exit-filters';
import { formatNumber } from './registers';
import { exitCodeOf } from './lifecycle';
import type { Stepper } from './stepping';
import { DAP_OWNER, type VmContext } from './context';
import type { DebugOwner } from '../vmm/debug-owners';

export type StopReason = 'entry' | 'step' | 'breakpoint' | 'function breakpoint' | 'instruction breakpoint' | 'data breakpoint' | 'pause' | 'exception';

export type StopDecision = 'resume' | { reason: StopReason; description?: string; text?: string; hitIds?: number[] };

export class StopPolicy {
  /** The next stop is the stop at entry. */
  entryPending = false;
  /** Stops that came while the VM was already stopped, by vCPU, to report on the next continue. */
  private readonly held = new Map<number, VcpuStop>();

  constructor(
    private readonly ctx: VmContext,
    private readonly stepper: Stepper,
    /** Called before a stop is reported (the session forgets its per-stop handles). */
    private readonly beforeStop: () => void,
  ) {}

  /**
   * A vCPU stopped: report it, or resume it. Never loses a stop, even when handling it fails. Returns true when it
   * resumed the vCPU at once (the machine then tells no other front end of the stop).
   */
  onStopped(machine: Machine, vcpu: number, stop: VcpuStop): boolean {
    try {
      return this.handle(machine, vcpu, stop);
    } catch (e) {
      this.ctx.console(`vmscope: while handling a stop of vCPU ${vcpu}: ${e instanceof Error ? e.message : String(e)}\n`);
      if (this.ctx.runState !== 'stopped') void this.allStop(machine, vcpu, 'pause');
      return false;
    }
  }

  private handle(machine: Machine, vcpu: number, stop: VcpuStop): boolean {
    if (machine !== this.ctx.machine) return false;
    if (this.ctx.runState === 'stopped') {
      // Another vCPU joining an all-stop: its pause is nothing, but a stop of its own is the user's, later.
      if (stop.kind !== 'pause' && stop.kind !== 'step') this.held.set(vcpu, stop);
      return false;
    }
    this.beforeStop();
    this.ctx.forgetStopState();
    if (this.entryPending) {
      this.entryPending = false;
      void this.allStop(machine, vcpu, 'entry');
      return false;
    }
    const decision = this.decisionFor(vcpu, stop);
    if (decision === 'resume') {
      // The machine steps a vCPU off an int3 it planted before running it on.
      void machine.resume(vcpu, this.stepper.nextLeg(vcpu) ?? { kind: 'continue' });
      return true;
    }
    void this.allStop(machine, vcpu, decision.reason, decision.description, decision.text, decision.hitIds);
    return false;
  }

  /**
   * Before a continue runs anything: reports a stop held back while the VM was stopped, if one still stands (its vCPU
   * is where it stopped and its breakpoint is still set). True when it reported one; the VM then stays stopped.
   */
  reportHeld(machine: Machine): boolean {
    for (const [vcpu, stop] of this.held) {
      this.held.delete(vcpu);
      if (machine !== this.ctx.machine || !this.stillStands(vcpu, stop)) continue;
      this.beforeStop();
      this.ctx.forgetStopState();
      const decision = this.decisionFor(vcpu, stop);
      // A hit that does not stop (a logpoint, a false condition) is counted; the continue runs the vCPU on.
      if (decision === 'resume') continue;
      void this.allStop(machine, vcpu, decision.reason, decision.description, decision.text, decision.hitIds);
      return true;
    }
    return false;
  }

  /** Forgets a held stop: its vCPU runs (a step), or every vCPU does (a restart, another debugger's continue). */
  dropHeld(vcpu?: number): void {
    if (vcpu === undefined) this.held.clear();
    else this.held.delete(vcpu);
  }

  /** Whether a held stop still stands: the vCPU's pc is where it stopped and what it stopped for is still set. */
  private stillStands(vcpu: number, stop: VcpuStop): boolean {
    const ctx = this.ctx;
    if ('pc' in stop) {
      try {
        if (ctx.pcOf(vcpu).pc !== stop.pc) return false;
      } catch {
        return false;
      }
    }
    switch (stop.kind) {
      case 'breakpoint':
      case 'sw-breakpoint':
        return ctx.bps.codeAt(stop.pc).length > 0 || this.otherOwners(vcpu, stop).length > 0;
      case 'watchpoint':
        return ctx.bps.dataInSlots(ctx.machine?.debugOwners.ownSlots(DAP_OWNER, stop.slots) ?? stop.slots).length > 0 || this.otherOwners(vcpu, stop).length > 0;
      case 'exit':
      case 'debug':
      case 'failure':
        return true;
      case 'pause':
      case 'step':
        return false;
    }
  }

  /** What a stop becomes, with the other debug owners that made it named. */
  private decisionFor(vcpu: number, stop: VcpuStop): StopDecision {
    let decision = this.decide(vcpu, stop);
    const others = this.otherOwners(vcpu, stop);
    if (others.length > 0 && 'pc' in stop) {
      // Another debugger (gdb) stops here too: never resume silently under it, and say whose stop it is.
      const reason: StopReason = stop.kind === 'watchpoint' ? 'data breakpoint' : 'breakpoint';
      const description = `${others.join(' and ')}'s ${stop.kind === 'watchpoint' ? 'watchpoint' : 'breakpoint'} at ${this.ctx.describeAddress(stop.pc)}`;
      // The session's own breakpoint here, when it counts this hit, names the stop; else the other debugger's does.
      if (decision === 'resume' || !decision.hitIds?.length) decision = { reason, description };
    } else if (others.length > 0 && decision !== 'resume' && stop.kind === 'exit') {
      decision = { ...decision, description: `${decision.description ?? 'VM exit'} (${others.join(' and ')}'s exit breakpoint)` };
    }
    return decision;
  }

  /** The debug owners other than this session with a breakpoint, watchpoint or exit filter that made this stop. */
  private otherOwners(vcpu: number, stop: VcpuStop): DebugOwner[] {
    const owners = this.ctx.machine?.debugOwners;
    if (!owners) return [];
    let all: DebugOwner[];
    switch (stop.kind) {
      case 'sw-breakpoint': {
        const at = this.ctx.access?.translate(vcpu, stop.pc);
        all = at === undefined ? [] : owners.int3Owners(at);
        break;
      }
      case 'breakpoint':
        all = owners.execOwners(stop.pc);
        break;
      case 'watchpoint':
        all = owners.slotOwners(stop.slots);
        break;
      case 'exit':
        all = owners.exitOwners(stop.filter);
        break;
      case 'pause':
      case 'step':
      case 'debug':
      case 'failure':
        all = [];
        break;
    }
    return all.filter((o) => o !== DAP_OWNER);
  }

  /** Turns a vCPU stop into a DAP stop (or a silent resume). */
  decide(vcpu: number, stop: VcpuStop): StopDecision {
    const ctx = this.ctx;
    switch (stop.kind) {
      case 'pause':
        this.stepper.cancel();
        return { reason: 'pause' };
      case 'step':
        return this.stepper.continues(vcpu) ? 'resume' : { reason: 'step' };
      case 'breakpoint':
      case 'sw-breakpoint': {
        const bps = ctx.bps.codeAt(stop.pc);
        if (bps.length === 0) {
          this.stepper.cancel();
          return stop.kind === 'sw-breakpoint'
            ? { reason: 'exception', description: `the guest executed an int3 of its own at ${ctx.describeAddress(stop.pc)}` }
            : { reason: 'breakpoint', description: `stopped at ${ctx.describeAddress(stop.pc)}` };
        }
        const d = this.countHit(vcpu, bps);
        if (!d.stop) return 'resume';
        this.stepper.cancel();
        const first = bps.find((b) => d.hitIds.includes(b.id))!;
        const reason: StopReason = first.kind === 'function' ? 'function breakpoint' : first.kind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
        return { reason, hitIds: d.hitIds };
      }
      case 'watchpoint': {
        // The stop names the machine's slots; the session's breakpoints know their own numbers.
        const bps = ctx.bps.dataInSlots(ctx.machine?.debugOwners.ownSlots(DAP_OWNER, stop.slots) ?? stop.slots);
        const d = this.countHit(vcpu, bps);
        if (!d.stop && bps.length > 0) return 'resume';
        this.stepper.cancel();
        const w = bps[0]?.watch;
        const description = w ? `${w.access === 'write' ? 'write to' : 'access to'} ${formatMemoryReference({ space: 'virtual', addr: w.addr })} (${w.len} bytes) by the instruction before ${ctx.describeAddress(stop.pc)}` : 'data breakpoint';
        return { reason: 'data breakpoint', description, hitIds: d.hitIds };
      }
      case 'debug':
        this.stepper.cancel();
        return { reason: 'exception', description: `debug exception (vector ${stop.exception}) at ${ctx.describeAddress(stop.pc)}, DR6 ${hex(stop.dr6)}` };
      case 'exit': {
        this.stepper.cancel();
        ctx.exitStop = { vcpu, io: stop.exit.reason === 'io' };
        const description = describeExitStop(stop.code, stop.exit, ctx.backend);
        return { reason: 'exception', description, text: `${description} (filter ${stop.filter}, hit ${stop.hits})` };
      }
      case 'failure': {
        this.stepper.cancel();
        const description = describeVcpuEnd(vcpu, stop.end);
        const cpu = 'cpu' in stop.end ? stop.end.cpu : undefined;
        return { reason: 'exception', description, text: cpu ? `${description}\n${formatCpu(cpu)}` : description };
      }
    }
  }

  /** Counts a hit with conditions evaluated on `vcpu`; prints logpoints and condition errors. */
  private countHit(vcpu: number, bps: readonly ManagedBreakpoint[]): HitDecision {
    const ctx = this.ctx;
    const d = ctx.bps.onHit(
      bps,
      (e) => ctx.evaluateOn(vcpu, e),
      (e) => formatNumber(ctx.evaluateOn(vcpu, e), undefined, true),
    );
    for (const l of d.logs) ctx.send(new OutputEvent(l + '\n', 'console'));
    for (const err of d.errors) ctx.console(err + '\n');
    return d;
  }

  /** Pauses every vCPU and reports one stop for the VM, focused on `vcpu`. */
  async allStop(machine: Machine, vcpu: number, reason: StopReason, description?: string, text?: string, hitIds?: number[]): Promise<void> {
    this.ctx.runState = 'stopped';
    this.ctx.focus = vcpu;
    machine.pause();
    // The UI may ask any vCPU for its state as soon as it hears of the stop.
    await machine.whenAllPaused().catch(() => undefined);
    const ev = new StoppedEvent(reason, vcpu, text) as DebugProtocol.StoppedEvent;
    ev.body.allThreadsStopped = true;
    if (description) ev.body.description = description;
    if (hitIds?.length) ev.body.hitBreakpointIds = hitIds;
    if (text && reason === 'exception') this.ctx.console(text + '\n');
    this.ctx.send(ev);
  }

  /** The machine ended: say why (unless the guest chose its exit code) and end the session. */
  onEnd(machine: Machine, result: RunResult): void {
    const ctx = this.ctx;
    if (machine !== ctx.machine || ctx.restarting) return;
    const end = result.end;
    if (end.kind !== 'vcpu' || end.end.kind !== 'debug-exit') ctx.console(`vmscope: ${end.kind === 'vcpu' ? describeVcpuEnd(end.vcpu, end.end) : end.kind === 'timeout' ? `timed out after ${end.seconds} s` : 'stopped'}\n`);
    ctx.ended = true;
    ctx.send(new ExitedEvent(exitCodeOf(result)));
    ctx.send(new TerminatedEvent());
  }
}
