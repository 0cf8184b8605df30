// VM exits as data: what one exit was (each backend decodes its own), the names a
// condition on it can use (`port == 0x3f8 && write`), exit filters (break or
// log on matching exits, evaluated on the vCPU thread), and the exit trace:
// a ring buffer per vCPU in shared memory, readable at any time.

import { gpa, gva, hex, type Gpa, type Gva } from '../common/address';
import { KvmExit, kvmExitName } from './kvm/constants';
import { compile, type CompiledExpression, type EvalContext } from './expr/evaluate';
import { parseHitCondition } from './expr/hit-condition';

/** One exit, decoded. Exhaustive over the exits vmscope reports. */
export type ExitInfo =
  | { reason: 'io'; port: number; size: number; direction: 'in' | 'out'; count: number; value?: number }
  | { reason: 'mmio'; gpa: Gpa; len: number; write: boolean; value?: bigint }
  | { reason: 'hlt' }
  | { reason: 'shutdown' }
  | { reason: 'fail-entry'; hardwareReason: bigint }
  | { reason: 'internal-error'; suberror: number }
  | { reason: 'debug'; exception: number; pc: Gva }
  | { reason: 'system-event'; type: number }
  | { reason: 'hypercall'; nr: bigint }
  | { reason: 'rdmsr' | 'wrmsr'; index: number; data: bigint }
  | { reason: 'other'; code: number };

export type ExitReasonName = ExitInfo['reason'];

/**
 * The name of an exit code, as run results and the Exits view count them.
 * Both backends use KVM's exit codes and names (KVM_EXIT_IO, …): under
 * emulation they name the exit the emulated instruction corresponds to.
 */
export function exitName(code: number): string {
  return kvmExitName(code);
}

/** KVM exit code for each name that has one. */
export const EXIT_CODES: Readonly<Record<Exclude<ExitReasonName, 'other'>, number>> = {
  io: KvmExit.IO,
  mmio: KvmExit.MMIO,
  hlt: KvmExit.HLT,
  shutdown: KvmExit.SHUTDOWN,
  'fail-entry': KvmExit.FAIL_ENTRY,
  'internal-error': KvmExit.INTERNAL_ERROR,
  debug: KvmExit.DEBUG,
  'system-event': KvmExit.SYSTEM_EVENT,
  hypercall: KvmExit.HYPERCALL,
  rdmsr: KvmExit.X86_RDMSR,
  wrmsr: KvmExit.X86_WRMSR,
};

/** The names a condition on an exit can use, besides registers and symbols. */
export function exitVariables(e: ExitInfo): Record<string, bigint> {
  const b = (x: boolean) => (x ? 1n : 0n);
  switch (e.reason) {
    case 'io':
      return {
        port: BigInt(e.port), size: BigInt(e.size), count: BigInt(e.count), in: b(e.direction === 'in'), out: b(e.direction === 'out'),
        write: b(e.direction === 'out'), read: b(e.direction === 'in'), value: BigInt(e.value ?? 0),
      };
    case 'mmio':
      return { gpa: BigInt(e.gpa), size: BigInt(e.len), len: BigInt(e.len), write: b(e.write), read: b(!e.write), value: e.value ?? 0n };
    case 'rdmsr':
    case 'wrmsr':
      return { msr: BigInt(e.index), data: e.data, value: e.data, write: b(e.reason === 'wrmsr'), read: b(e.reason === 'rdmsr') };
    case 'debug':
      return { exception: BigInt(e.exception), pc: e.pc };
    case 'fail-entry':
      return { hardware_reason: e.hardwareReason };
    case 'internal-error':
      return { suberror: BigInt(e.suberror) };
    case 'system-event':
      return { type: BigInt(e.type) };
    case 'hypercall':
      return { nr: e.nr };
    case 'hlt':
    case 'shutdown':
    case 'other':
      return {};
  }
}

/** One line: what the exit did. */
export function describeExitInfo(e: ExitInfo): string {
  switch (e.reason) {
    case 'io':
      return `${e.direction} ${hex(e.port)}, ${e.size} byte${e.size > 1 ? 's' : ''}${e.count > 1 ? ` x${e.count}` : ''}${e.value !== undefined ? `, value ${hex(e.value)}` : ''}`;
    case 'mmio':
      return `${e.write ? 'write' : 'read'} ${hex(e.gpa)}, ${e.len} byte${e.len > 1 ? 's' : ''}${e.value !== undefined ? `, value ${hex(e.value)}` : ''}`;
    case 'rdmsr':
      return `rdmsr ${hex(e.index)}`;
    case 'wrmsr':
      return `wrmsr ${hex(e.index)}, value ${hex(e.data)}`;
    case 'debug':
      return `#${e.exception === 1 ? 'DB' : e.exception === 3 ? 'BP' : e.exception} at ${hex(e.pc)}`;
    case 'fail-entry':
      return `hardware entry failure reason ${hex(e.hardwareReason)}`;
    case 'internal-error':
      return `suberror ${e.suberror}`;
    case 'system-event':
      return `type ${e.type}`;
    case 'hypercall':
      return `nr ${hex(e.nr)}`;
    case 'hlt':
    case 'shutdown':
      return '';
    case 'other':
      return `KVM exit ${e.code}`;
  }
}

// ---- filters ---------------------------------------------------------------

/** Serializable: a break or log on exits of some reasons, with a condition. */
export interface ExitFilterSpec {
  id: string;
  /** KVM exit codes it applies to. */
  codes: number[];
  condition?: string | undefined;
  /** Log this message (with {expr} substituted) instead of stopping. */
  logMessage?: string | undefined;
}

export interface ExitFilter extends ExitFilterSpec {
  compiled?: CompiledExpression | undefined;
  /** From a `; N` suffix of the condition: whether the Nth match stops. */
  hitTest?: ((hits: number) => boolean) | undefined;
  /** Exits that matched the condition so far. */
  hits: number;
}

/**
 * A filter's condition text: an expression, optionally followed by `;` and a
 * hit condition as breakpoints take it (`N`, `==N`, `>N`, `%N`, ...):
 * `port == 0x3f8 && value == 'l'; ==2` stops at the second matching exit.
 */
export function splitCondition(text: string): { expr: string; hit?: string } {
  const i = text.lastIndexOf(';');
  if (i < 0) return { expr: text.trim() };
  return { expr: text.slice(0, i).trim(), hit: text.slice(i + 1).trim() };
}

export function prepareFilters(specs: readonly ExitFilterSpec[]): { byCode: Array<ExitFilter[] | undefined>; errors: string[] } {
  const byCode: Array<ExitFilter[] | undefined> = [];
  const errors: string[] = [];
  for (const s of specs) {
    let compiled: CompiledExpression | undefined;
    let hitTest: ((hits: number) => boolean) | undefined;
    const { expr, hit } = splitCondition(s.condition ?? '');
    try {
      if (expr) compiled = compile(expr);
      if (hit) hitTest = parseHitCondition(hit);
    } catch (e) {
      errors.push(`${s.id}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    const f: ExitFilter = { ...s, compiled, hitTest, hits: 0 };
    for (const c of s.codes) (byCode[c] ??= []).push(f);
  }
  return { byCode, errors };
}

/**
 * The evaluation context for a condition on an exit: the exit's fields
 * first, then the vCPU's registers (read only if the condition names one).
 */
export function exitContext(vars: Record<string, bigint>, registers: (name: string) => bigint | undefined): EvalContext {
  const fail = (): never => {
    throw new Error('memory reads are not available in exit conditions');
  };
  return {
    register: (name) => (name in vars ? undefined : registers(name)),
    variable: (name) => vars[name],
    symbol: () => undefined,
    readVirtual: fail,
    readPhysical: fail,
  };
}

// ---- the trace ring -------------------------------------------------------

/** Entries per vCPU ring. */
export const TRACE_CAPACITY = 4096;
const WORDS = 6; // time, code, rip, a, b, c
const HEADER = 2; // u64 words: write count, (reserved)

export function traceBytes(capacity = TRACE_CAPACITY): number {
  return (HEADER + capacity * WORDS) * 8;
}

export interface TraceEntry {
  /** ms since the machine started (performance.now() of the vCPU thread's clock origin). */
  time: number;
  vcpu: number;
  code: number;
  rip?: bigint;
  exit: ExitInfo;
}

/** Single writer (the vCPU thread), any number of readers. */
export class TraceRing {
  private readonly f: Float64Array;
  private readonly u: BigUint64Array;
  private readonly capacity: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.f = new Float64Array(buffer);
    this.u = new BigUint64Array(buffer);
    this.capacity = (buffer.byteLength / 8 - HEADER) / WORDS;
  }

  get written(): number {
    return Number(Atomics.load(this.u, 0));
  }

  push(time: number, code: number, rip: bigint, e: ExitInfo): void {
    const n = Number(this.u[0]!);
    const at = HEADER + (n % this.capacity) * WORDS;
    this.f[at] = time;
    this.f[at + 1] = code;
    this.u[at + 2] = rip;
    let a = 0n;
    let b = 0n;
    let c = 0n;
    switch (e.reason) {
      case 'io':
        a = BigInt(e.port) | (BigInt(e.size) << 16n) | ((e.direction === 'out' ? 1n : 0n) << 24n) | (BigInt(e.count) << 32n);
        b = BigInt(e.value ?? 0);
        c = e.value === undefined ? 0n : 1n;
        break;
      case 'mmio':
        a = BigInt(e.gpa);
        b = BigInt(e.len) | ((e.write ? 1n : 0n) << 8n) | ((e.value === undefined ? 0n : 1n) << 9n);
        c = e.value ?? 0n;
        break;
      case 'rdmsr':
      case 'wrmsr':
        a = BigInt(e.index);
        b = e.data;
        break;
      case 'debug':
        a = BigInt(e.exception);
        b = e.pc;
        break;
      case 'fail-entry':
        a = e.hardwareReason;
        break;
      case 'internal-error':
        a = BigInt(e.suberror);
        break;
      case 'system-event':
        a = BigInt(e.type);
        break;
      case 'hypercall':
        a = e.nr;
        break;
      case 'hlt':
      case 'shutdown':
      case 'other':
        break;
    }
    this.u[at + 3] = a;
    this.u[at + 4] = b;
    this.u[at + 5] = c;
    Atomics.store(this.u, 0, BigInt(n + 1));
  }

  /** The last `max` entries, oldest first. Entries being overwritten while read may be skipped. */
  read(vcpu: number, max = this.capacity): TraceEntry[] {
    const n = this.written;
    const count = Math.min(n, this.capacity, max);
    const out: TraceEntry[] = [];
    for (let i = n - count; i < n; i++) {
      const at = HEADER + (i % this.capacity) * WORDS;
      const code = this.f[at + 1]!;
      const a = this.u[at + 3]!;
      const b = this.u[at + 4]!;
      const c = this.u[at + 5]!;
      const entry: TraceEntry = { time: this.f[at]!, vcpu, code, exit: decodeTraceFields(code, a, b, c) };
      const rip = this.u[at + 2]!;
      if (rip !== 0xffff_ffff_ffff_ffffn) entry.rip = rip;
      out.push(entry);
    }
    return out;
  }
}

/** rip value stored when the rip was not captured. */
export const NO_RIP = 0xffff_ffff_ffff_ffffn;

function decodeTraceFields(code: number, a: bigint, b: bigint, c: bigint): ExitInfo {
  switch (code) {
    case KvmExit.IO: {
      const e: ExitInfo = { reason: 'io', port: Number(a & 0xffffn), size: Number((a >> 16n) & 0xffn), direction: (a >> 24n) & 1n ? 'out' : 'in', count: Number(a >> 32n) };
      if (c) e.value = Number(b);
      return e;
    }
    case KvmExit.MMIO: {
      return { reason: 'mmio', gpa: gpa(a), len: Number(b & 0xffn), write: ((b >> 8n) & 1n) === 1n, ...((b >> 9n) & 1n ? { value: c } : {}) };
    }
    case KvmExit.X86_RDMSR:
    case KvmExit.X86_WRMSR:
      return { reason: code === KvmExit.X86_RDMSR ? 'rdmsr' : 'wrmsr', index: Number(a), data: b };
    case KvmExit.DEBUG:
      return { reason: 'debug', exception: Number(a), pc: gva(b) };
    case KvmExit.HLT:
      return { reason: 'hlt' };
    case KvmExit.SHUTDOWN:
      return { reason: 'shutdown' };
    case KvmExit.FAIL_ENTRY:
      return { reason: 'fail-entry', hardwareReason: a };
    case KvmExit.INTERNAL_ERROR:
      return { reason: 'internal-error', suberror: Number(a) };
    case KvmExit.SYSTEM_EVENT:
      return { reason: 'system-event', type: Number(a) };
    case KvmExit.HYPERCALL:
      return { reason: 'hypercall', nr: a };
    default:
      return { reason: 'other', code };
  }
}

/** Chrome/Perfetto trace-event JSON (instant events, one track per vCPU). */
export function toTraceEvents(entries: readonly TraceEntry[], name = 'vmscope'): object {
  return {
    displayTimeUnit: 'ns',
    traceEvents: [
      { name: 'process_name', ph: 'M', pid: 1, args: { name } },
      ...[...new Set(entries.map((e) => e.vcpu))].map((v) => ({ name: 'thread_name', ph: 'M', pid: 1, tid: v, args: { name: `vCPU ${v}` } })),
      ...entries.map((e) => ({
        name: e.exit.reason,
        cat: 'vm-exit',
        ph: 'i',
        s: 't',
        ts: e.time * 1000,
        pid: 1,
        tid: e.vcpu,
        args: { detail: describeExitInfo(e.exit), ...(e.rip !== undefined ? { rip: hex(e.rip) } : {}) },
      })),
    ],
  };
}
