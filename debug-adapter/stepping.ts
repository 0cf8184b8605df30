// DAP steps as the vCPU loop's resume plans (vmm/debug.ts ResumeHow): an
// instruction step, a line step (step-range over the line's addresses, with
// the calls in it to run over for `next`), and step out (run to the caller's
// return address with the stack above the current frame). A line step that
// lands mid-line or in code without line info keeps going; the plan says how.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { gva, type Gva } from '../common/address';
import type { ResumeHow } from '../vmm/debug';
import { VmscopeError } from '../vmm/errors';
import { decode, type Bitness, type DecodedInstruction } from '../vmm/disasm';
import type { VmContext } from './context';

export type StepKind = 'in' | 'over' | 'out';

interface LinePlan {
  vcpu: number;
  kind: 'in' | 'over';
  fromLine?: { file: string; line: number };
  rounds: number;
}

/** Legs a line step may take before it gives up and stops where it is. */
const MAX_ROUNDS = 200;

export class Stepper {
  /** A line step in progress, which continues after intermediate stops. */
  private plan: LinePlan | undefined;

  constructor(private readonly ctx: VmContext) {}

  /** Forgets the line step in progress (a breakpoint, a pause or a continue ended it). */
  cancel(): void {
    this.plan = undefined;
  }

  /** Works out how the vCPU must run for a DAP step. */
  planStep(vcpu: number, kind: StepKind, granularity: DebugProtocol.SteppingGranularity): ResumeHow {
    this.plan = undefined;
    // The hot case (the Disassembly view's step) needs no state at all.
    if (kind === 'in' && granularity === 'instruction') return { kind: 'step-instruction' };
    const { pc, rsp, bits } = this.ctx.pcOf(vcpu);
    if (kind === 'out') {
      const caller = this.ctx.unwind(vcpu)[1];
      if (!caller) throw new VmscopeError('cannot step out: the caller\'s frame is unknown (no frame pointer chain here)');
      return { kind: 'run-to', addr: gva(caller.pc), aboveSp: rsp };
    }
    const range = granularity === 'instruction' ? undefined : this.ctx.program.lineRange(pc);
    if (!range) {
      if (kind === 'over') {
        const insn = instructionAt(this.ctx, vcpu, pc, bits);
        if (insn?.kind === 'call') return { kind: 'step-range', start: pc, end: gva(insn.nextAddress), calls: [{ at: pc, ret: gva(insn.nextAddress) }] };
      }
      return { kind: 'step-instruction' };
    }
    const loc = this.ctx.program.location(pc);
    this.plan = { vcpu, kind, rounds: 0, ...(loc ? { fromLine: { file: loc.file, line: loc.line } } : {}) };
    return this.rangeOf(vcpu, range, kind, bits);
  }

  /**
   * After a line step lands: true to keep going (in the middle of a line, or
   * in code without line info), false to stop (the start of a new line).
   */
  continues(vcpu: number): boolean {
    const plan = this.plan;
    if (!plan || plan.vcpu !== vcpu) return false;
    if (++plan.rounds > MAX_ROUNDS) {
      this.plan = undefined;
      return false;
    }
    const { pc } = this.ctx.pcOf(vcpu);
    const loc = this.ctx.program.location(pc);
    if (loc && loc.address === pc && !(plan.fromLine && loc.file === plan.fromLine.file && loc.line === plan.fromLine.line)) {
      this.plan = undefined;
      return false;
    }
    return true;
  }

  /** The next leg of a line step that landed somewhere it should not stop; undefined when no step is in progress. */
  nextLeg(vcpu: number): ResumeHow | undefined {
    const plan = this.plan;
    if (!plan || plan.vcpu !== vcpu) return undefined;
    const { pc, rsp, bits } = this.ctx.pcOf(vcpu);
    const range = this.ctx.program.lineRange(pc);
    if (range) return this.rangeOf(vcpu, range, plan.kind, bits);
    // No line info here (a function without debug info): run back to the caller.
    const caller = this.ctx.unwind(vcpu)[1];
    if (caller) return { kind: 'run-to', addr: gva(caller.pc), aboveSp: rsp };
    return { kind: 'step-instruction' };
  }

  private rangeOf(vcpu: number, range: { start: bigint; end: bigint }, kind: 'in' | 'over', bits: Bitness): ResumeHow {
    return { kind: 'step-range', start: gva(range.start), end: gva(range.end), calls: kind === 'over' ? callsIn(this.ctx, vcpu, range.start, range.end, bits) : [] };
  }
}

/** The instruction at a linear address of a paused vCPU, or undefined where nothing is readable. */
export function instructionAt(ctx: VmContext, vcpu: number, pc: Gva, bits: Bitness): DecodedInstruction | undefined {
  const bytes = ctx.memory.read(vcpu, { space: 'virtual', addr: pc }, 15);
  return bytes.length ? decode(bytes, pc, bits, 1)[0] : undefined;
}

/** Calls in [start, end) with their return addresses, for stepping over them. */
function callsIn(ctx: VmContext, vcpu: number, start: bigint, end: bigint, bits: Bitness): Array<{ at: Gva; ret: Gva }> {
  const len = Number(end - start);
  if (len <= 0 || len > 1 << 16) return [];
  const bytes = ctx.memory.read(vcpu, { space: 'virtual', addr: gva(start) }, len);
  return decode(bytes, start, bits)
    .filter((i) => i.kind === 'call')
    .map((i) => ({ at: gva(i.address), ret: gva(i.nextAddress) }));
}
