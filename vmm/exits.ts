// Exits, stops and run endings as discriminated unions. A `switch` over any of
// them is checked for exhaustiveness by `assertNever`, so adding a case shows
// every place that must handle it.

import type { Regs, Sregs } from './registers';
import type { UnclaimedAccess } from './devices/bus';
import type { DeviceEvent } from './devices/types';
import { hex, type Gva } from '../common/address';
import type { ExitInfo } from './exit-trace';

export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}

/** The vCPU's registers when something went wrong, for the report. */
export interface CpuSnapshot {
  regs: Regs;
  sregs: Sregs;
}

/** Why one vCPU stopped for good. */
export type VcpuEnd =
  | { kind: 'debug-exit'; status: number }
  /** The guest asked for a system reset (i8042 pulse, port 0x92); the runner restarts the machine when the spec says on-reset: reset. */
  | { kind: 'reset'; device: string }
  /** The guest powered the machine off (ACPI S5 through the PM1 control register). */
  | { kind: 'poweroff'; device: string }
  | { kind: 'halted'; cpu: CpuSnapshot }
  | { kind: 'triple-fault'; cpu: CpuSnapshot }
  | { kind: 'entry-failure'; hardwareReason: bigint; hostCpu: number; cpu: CpuSnapshot }
  | { kind: 'internal-error'; suberror: number; data: bigint[]; cpu: CpuSnapshot }
  | { kind: 'system-event'; type: number; cpu: CpuSnapshot }
  | { kind: 'unhandled-exit'; code: number; cpu: CpuSnapshot }
  /** The emulator could not go on (an access to no memory, an instruction it cannot run). */
  | { kind: 'emulation-error'; message: string; cpu: CpuSnapshot }
  | { kind: 'stopped' }
  | { kind: 'host-error'; message: string };

/** How the machine as a whole ended. */
export type RunEnd =
  | { kind: 'vcpu'; vcpu: number; end: VcpuEnd }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'stopped' };

/** Why a vCPU paused (it can resume). Addresses are linear, as KVM reports them. */
export type VcpuStop =
  | { kind: 'pause' }
  /** A step (ResumeHow other than continue) finished. */
  | { kind: 'step' }
  /** DR0-3 instruction breakpoint slots hit. */
  | { kind: 'breakpoint'; slots: number[]; pc: Gva }
  /** DR0-3 data watchpoint slots hit (after the accessing instruction). */
  | { kind: 'watchpoint'; slots: number[]; pc: Gva }
  /** An int3 vmscope planted (KVM_GUESTDBG_USE_SW_BP), at pc. */
  | { kind: 'sw-breakpoint'; pc: Gva }
  /** A #DB or #BP vmscope did not ask for. */
  | { kind: 'debug'; exception: number; pc: Gva; dr6: bigint }
  /** The guest failed (triple fault, entry failure, internal error); held so its state can be inspected. Resuming ends the vCPU. */
  | { kind: 'failure'; end: VcpuEnd }
  /** An exit filter matched; the exit completes when the vCPU resumes. */
  | { kind: 'exit'; filter: string; code: number; exit: ExitInfo; hits: number };

export interface RunResult {
  end: RunEnd;
  /** Exits per KVM exit reason name, summed over vCPUs. */
  exits: Record<string, number>;
  unclaimed: UnclaimedAccess[];
  /** Wall time from start to end, ms (includes starting the vCPU threads). */
  elapsedMs: number;
  /** Per vCPU: ms spent in its run loop, from its first KVM_RUN to its end. */
  loopMs: number[];
}

/** vCPU worker -> machine. */
export type WorkerMessage =
  /** `seq` numbers device events across every vCPU thread of the VM, from 0. */
  | { t: 'device'; event: DeviceEvent; seq: number }
  | { t: 'stopped'; stop: VcpuStop }
  | { t: 'exit-log'; filter: string; text: string }
  | { t: 'finished'; end: VcpuEnd; unclaimed: UnclaimedAccess[]; loopMs: number };

const SYSTEM_EVENTS: Record<number, string> = { 1: 'shutdown', 2: 'reset', 3: 'crash' };

const INTERNAL_ERRORS: Record<number, string> = {
  1: 'KVM could not emulate an instruction',
  2: 'an exception occurred while delivering an exception',
  3: 'an event could not be delivered',
  4: 'KVM got an exit reason it does not handle',
};

/** The CPU's operating mode, from EFER.LMA, CR0.PE and CS.L (SDM Vol. 3A, 2.2). */
export function cpuModeName(sregs: Pick<Sregs, 'efer' | 'cr0' | 'cs'>): 'real' | 'protected' | 'long' | 'compatibility' {
  if (sregs.efer & (1n << 10n)) return sregs.cs.l ? 'long' : 'compatibility';
  return sregs.cr0 & 1n ? 'protected' : 'real';
}

function where(cpu: CpuSnapshot): string {
  const mode = cpuModeName(cpu.sregs);
  const rip = mode === 'real' ? `${hex(cpu.sregs.cs.selector, 4)}:${hex(cpu.regs.rip, 4)}` : hex(cpu.regs.rip);
  return `at rip ${rip} (${mode} mode)`;
}

/** One line a user reads: what happened and where. */
export function describeVcpuEnd(vcpu: number, e: VcpuEnd): string {
  const who = `vCPU ${vcpu}`;
  switch (e.kind) {
    case 'debug-exit':
      return `guest exited with status ${e.status} through debug-exit (${who})`;
    case 'reset':
      return `the guest reset the machine through ${e.device} (${who})`;
    case 'poweroff':
      return `the guest powered the machine off through ${e.device} (${who})`;
    case 'halted':
      return `${who} halted ${where(e.cpu)} with no interrupt source to wake it`;
    case 'triple-fault':
      return `${who} triple-faulted (shutdown) ${where(e.cpu)}`;
    case 'entry-failure':
      return `${who} failed VM entry (KVM_EXIT_FAIL_ENTRY, hardware reason ${hex(e.hardwareReason)}) ${where(e.cpu)}`;
    case 'internal-error':
      return `${who} hit a KVM internal error (suberror ${e.suberror}: ${INTERNAL_ERRORS[e.suberror] ?? 'unknown'}) ${where(e.cpu)}`;
    case 'system-event':
      return `${who} raised a system event (${SYSTEM_EVENTS[e.type] ?? e.type}) ${where(e.cpu)}`;
    case 'unhandled-exit':
      return `${who} stopped on an exit vmscope does not handle (KVM exit ${e.code}) ${where(e.cpu)}`;
    case 'emulation-error':
      return `${who}: the emulator stopped: ${e.message} ${where(e.cpu)}`;
    case 'stopped':
      return `${who} was stopped`;
    case 'host-error':
      return `${who}: ${e.message}`;
    default:
      return assertNever(e);
  }
}

export function describeRunEnd(end: RunEnd): string {
  switch (end.kind) {
    case 'vcpu':
      return describeVcpuEnd(end.vcpu, end.end);
    case 'timeout':
      return `timed out after ${end.seconds} s; the guest was stopped`;
    case 'stopped':
      return 'stopped';
    default:
      return assertNever(end);
  }
}

/** Multi-line register dump for failure reports. */
export function formatCpu(cpu: CpuSnapshot): string {
  const r = cpu.regs;
  const s = cpu.sregs;
  const q = (v: bigint) => v.toString(16).padStart(16, '0');
  const rows = [
    `rax ${q(r.rax)}  rbx ${q(r.rbx)}  rcx ${q(r.rcx)}  rdx ${q(r.rdx)}`,
    `rsi ${q(r.rsi)}  rdi ${q(r.rdi)}  rbp ${q(r.rbp)}  rsp ${q(r.rsp)}`,
    `r8  ${q(r.r8)}  r9  ${q(r.r9)}  r10 ${q(r.r10)}  r11 ${q(r.r11)}`,
    `r12 ${q(r.r12)}  r13 ${q(r.r13)}  r14 ${q(r.r14)}  r15 ${q(r.r15)}`,
    `rip ${q(r.rip)}  rflags ${q(r.rflags)}`,
    `cs ${hex(s.cs.selector, 4)} base ${hex(s.cs.base)} l=${s.cs.l} db=${s.cs.db}  ss ${hex(s.ss.selector, 4)}  ds ${hex(s.ds.selector, 4)}`,
    `cr0 ${hex(s.cr0)}  cr2 ${hex(s.cr2)}  cr3 ${hex(s.cr3)}  cr4 ${hex(s.cr4)}  efer ${hex(s.efer)}`,
    `gdt ${hex(s.gdt.base)}/${hex(s.gdt.limit)}  idt ${hex(s.idt.base)}/${hex(s.idt.limit)}`,
  ];
  return rows.join('\n');
}

export function endCpu(e: VcpuEnd): CpuSnapshot | undefined {
  return 'cpu' in e ? e.cpu : undefined;
}
