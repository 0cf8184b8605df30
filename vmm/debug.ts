// Guest-debug vocabulary shared by the machine and its vCPU threads: hardware
// breakpoint slots (DR0-3), how a paused vCPU resumes (continue, one
// instruction, a line's address range, run to a return address), and the
// DR7/DR6 encodings (Intel SDM Vol. 3, 18.2).

import { KvmGuestDebug } from './kvm/constants';
import type { ExitFilterSpec } from './exit-trace';
import type { Gpa, Gva } from '../common/address';

/** 'read' is exact where the backend can watch reads alone (emulation); DR7 has no such kind, so KVM watches reads and writes for it. */
export type WatchKind = 'exec' | 'write' | 'read' | 'rw';
export type WatchLength = 1 | 2 | 4 | 8;

/** One DR0-3 slot: an instruction breakpoint or a data watchpoint, at a linear address. */
export interface HwSlot {
  addr: Gva;
  kind: WatchKind;
  len: WatchLength;
}

export const HW_SLOTS = 4;

/**
 * A software watchpoint: where the host's KVM does not report DR0-3 data
 * breakpoints (it emulates guest instructions, as PVM does), the vCPU
 * single-steps while one is set and compares the watched bytes after every
 * instruction, as gdb does. `slot` numbers them after the hardware slots.
 */
export interface SoftWatch {
  slot: number;
  /** Guest-physical address of the watched bytes (translated when set). */
  physical: Gpa;
  len: WatchLength;
}

/** What the machine asks of every vCPU's guest-debug setup. */
export interface DebugConfig {
  slots: ReadonlyArray<HwSlot | null>;
  /** Route int3 to vmscope (KVM_GUESTDBG_USE_SW_BP). */
  softwareBreakpoints: boolean;
  /** Where the machine plants int3s (guest-physical; sw-breakpoints.ts). Not sent to vCPU threads' backends. */
  int3?: ReadonlyArray<Gpa>;
  softWatch?: ReadonlyArray<SoftWatch>;
}

export const NO_DEBUG: DebugConfig = { slots: [null, null, null, null], softwareBreakpoints: false };

/** How a paused vCPU runs next. Addresses are linear (what KVM reports as pc). */
export type ResumeHow =
  | { kind: 'continue' }
  /** Exactly one instruction. */
  | { kind: 'step-instruction' }
  /**
   * Single-step while pc stays in [start, end). `calls` lists the call
   * instructions in the range with their return addresses: stepping over
   * them runs the callee at full speed (step over); empty means step into.
   */
  | { kind: 'step-range'; start: Gva; end: Gva; calls: ReadonlyArray<{ at: Gva; ret: Gva }> }
  /** Run until pc == addr with the stack pointer above `aboveSp` (step out). */
  | { kind: 'run-to'; addr: Gva; aboveSp: bigint };

/** vCPU thread <- machine. */
export type VcpuCommand =
  | { kind: 'debug-config'; config: DebugConfig }
  | { kind: 'resume'; how: ResumeHow }
  /** Exit breakpoints/logpoints, and whether to record the exit trace. */
  | { kind: 'exit-config'; filters: ExitFilterSpec[]; trace: boolean }
  /** An external interrupt for the guest (the KVM_INTERRUPT equivalent): delivered once RFLAGS.IF allows. */
  | { kind: 'interrupt'; vector: number };

const RW_BITS: Record<WatchKind, bigint> = { exec: 0n, write: 1n, read: 3n, rw: 3n };
const LEN_BITS: Record<WatchLength, bigint> = { 1: 0n, 2: 1n, 8: 2n, 4: 3n };

/** DR7 for the enabled slots (local enable, RW and LEN per slot; GE/LE set as the SDM recommends). */
export function encodeDr7(slots: ReadonlyArray<HwSlot | null>): bigint {
  let dr7 = 0n;
  slots.forEach((s, i) => {
    if (!s || i >= HW_SLOTS) return;
    const n = BigInt(i);
    dr7 |= 1n << (2n * n); // L0..L3
    dr7 |= RW_BITS[s.kind] << (16n + 4n * n);
    dr7 |= (s.kind === 'exec' ? 0n : LEN_BITS[s.len]) << (18n + 4n * n);
  });
  if (dr7 !== 0n) dr7 |= 1n << 8n; // LE: exact data breakpoints
  return dr7;
}

/** Which slots DR6 says were hit (B0-B3), and whether it was a single-step trap (BS). */
export function decodeDr6(dr6: bigint): { slots: number[]; singleStep: boolean } {
  const slots = [0, 1, 2, 3].filter((i) => (dr6 >> BigInt(i)) & 1n);
  return { slots, singleStep: ((dr6 >> 14n) & 1n) === 1n };
}

/** The KVM_SET_GUEST_DEBUG control word and debugreg array for a config. */
export function guestDebugFor(config: DebugConfig, singleStep: boolean, mask?: bigint): { control: number; debugreg: bigint[] } {
  const slots = config.slots.map((s) => (s && s.kind === 'exec' && mask !== undefined && s.addr === mask ? null : s));
  const dr7 = encodeDr7(slots);
  let control = 0;
  if (dr7 !== 0n) control |= KvmGuestDebug.USE_HW_BP;
  if (config.softwareBreakpoints) control |= KvmGuestDebug.USE_SW_BP;
  if (singleStep) control |= KvmGuestDebug.SINGLESTEP;
  if (control !== 0) control |= KvmGuestDebug.ENABLE;
  const debugreg = [0n, 0n, 0n, 0n, 0n, 0n, 0n, dr7];
  slots.forEach((s, i) => {
    if (s) debugreg[i] = s.addr;
  });
  return { control, debugreg };
}

/** A free slot index, or -1. */
export function freeSlot(slots: ReadonlyArray<HwSlot | null>): number {
  for (let i = 0; i < Math.max(HW_SLOTS, slots.length); i++) if (!slots[i]) return i;
  return -1;
}
