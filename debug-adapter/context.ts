// What every part of the debug session shares: the machine and its spec, the
// program's symbols and lines, guest memory as the debugger sees it, the
// breakpoints, which vCPU the UI looks at, and the per-stop caches (frames).
// The request modules (lifecycle, stop-policy, stepping, variables,
// expressions, memory-requests, breakpoint-requests, custom-requests) take a
// VmContext, so each can be driven without a DAP connection.

import { OutputEvent, Source } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gpa, gva, hex, isGpa, type Gva } from '../common/address';
import type { VmSpec } from '../vmspec/types';
import type { Machine } from '../vmm/machine';
import type { BackendImplementation } from '../vmm/backend';
import { GPR_NAMES, SEGMENT_NAMES } from '../vmm/registers';
import { VmscopeError } from '../vmm/errors';
import type { ExitFilterSpec } from '../vmm/exit-trace';
import { GuestAccess, type MemRef } from '../vmm/guest-access';
import { compile, EvalError, type EvalContext, type Width } from '../vmm/expr/evaluate';
import { BreakpointManager } from './breakpoints';
import { ProgramInfo } from './program';
import { bitnessOf, CALL_LOOKBEHIND, endsWithCall, type Bitness } from '../vmm/disasm';
import { unwind, type Frame } from './unwind';
import type { LaunchArguments } from './launch-arguments';
import type { DebugOwner } from '../vmm/debug-owners';

/** The session's breakpoints, watchpoints and exit filters among the machine's debug owners (a gdb stub has its own). */
export const DAP_OWNER: DebugOwner = 'dap';

/** Where the session's events go (the DAP connection, or a test's list). */
export type EventSink = (event: DebugProtocol.Event) => void;

/** A frame id holds the vCPU and the frame's index: vcpu * FRAME_STRIDE + index. */
export const FRAME_STRIDE = 10_000;

export class VmContext {
  machine: Machine | undefined;
  spec: VmSpec | undefined;
  args: LaunchArguments | undefined;
  program = ProgramInfo.load([]);
  access: GuestAccess | undefined;
  bps = new BreakpointManager(false);
  /** The vCPU whose stop the UI shows (and whose state evaluate reads). */
  focus = 0;
  /** 'running': vCPUs run or step; 'stopped': all are paused and the UI knows. */
  runState: 'running' | 'stopped' = 'running';
  /** The machine has ended (its exit code was sent). */
  ended = false;
  /** The old machine is stopping for a restart: its end is not the session's. */
  restarting = false;
  /** The vCPU whose VM-exit breakpoint made the current stop, if one did. */
  exitStop: { vcpu: number; io: boolean } | undefined;
  /** The exit filters on now (exception breakpoints and the spec's debug.break-on-exit). */
  exitSpecs: ExitFilterSpec[] = [];
  extraMsrs: Array<[number, string]> = [];
  hexDefault = true;
  private readonly frames = new Map<number, Frame[]>();
  /** Line-table file → the path shown to the user (see source()). */
  private readonly shownPaths = new Map<string, string>();

  constructor(readonly send: EventSink) {}

  console(text: string): void {
    this.send(new OutputEvent(text, 'console'));
  }

  /** What runs behind the machine's backend (VMX, SVM, PVM or the emulator), for exit descriptions and the VMCS view. */
  get backend(): BackendImplementation {
    return this.machine?.implementation ?? 'unknown';
  }

  /** Guest memory of the running machine; throws before launch. */
  get memory(): GuestAccess {
    if (!this.access) throw new VmscopeError('no VM is running');
    return this.access;
  }

  /** Forgets what the last stop cached: call whenever the guest ran or its state changed. */
  forgetStopState(): void {
    this.exitStop = undefined;
    this.guestStateChanged();
  }

  /** Forgets cached frames and translations after the debugger changed guest state. */
  guestStateChanged(): void {
    this.frames.clear();
    this.access?.invalidate();
  }

  requirePaused(vcpu: number): Machine {
    const m = this.machine;
    if (!m) throw new VmscopeError('no VM is running');
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= m.vcpuCount) throw new VmscopeError(`there is no vCPU ${vcpu}`);
    switch (m.vcpuRunState(vcpu)) {
      case 'paused':
        return m;
      case 'finished':
        // A stop can be reported just before another vCPU ends the machine (it ran on to its exit before the all-stop reached it).
        throw new VmscopeError(m.isEnding ? 'the VM has ended' : `vCPU ${vcpu} has ended`);
      case 'created':
        throw new VmscopeError(`vCPU ${vcpu} has not started yet`);
      case 'running':
        throw new VmscopeError(`vCPU ${vcpu} is running: pause it first`);
    }
  }

  /** A paused vCPU's linear pc, stack and frame pointers, and code width. */
  pcOf(vcpu: number): { pc: Gva; rsp: bigint; rbp: bigint; bits: Bitness } {
    const st = this.requirePaused(vcpu).vcpuState(vcpu);
    const r = st.getRegs();
    const s = st.getSregs();
    return { pc: gva(BigInt.asUintN(64, s.cs.base + r.rip)), rsp: r.rsp, rbp: r.rbp, bits: bitnessOf({ cr0: s.cr0, efer: s.efer, csL: s.cs.l, csDb: s.cs.db }) };
  }

  /** The paused vCPU's call stack (frame-pointer chain), cached until it runs. */
  unwind(vcpu: number): Frame[] {
    const cached = this.frames.get(vcpu);
    if (cached) return cached;
    const { pc, rsp, rbp, bits } = this.pcOf(vcpu);
    const word = bits === 64 ? 8 : 4;
    const frames = unwind({
      pc,
      sp: rsp,
      fp: rbp,
      wordSize: word,
      readWord: (a) => {
        try {
          return this.memory.readUint(vcpu, { space: 'virtual', addr: gva(a) }, word);
        } catch {
          return undefined;
        }
      },
      isCode: (a) => this.program.isCode(a),
      functionStart: (a) => this.program.functionStart(a),
      followsCall: (a) => {
        const from = a - BigInt(CALL_LOOKBEHIND);
        if (from < 0n) return undefined;
        try {
          return endsWithCall(this.memory.read(vcpu, { space: 'virtual', addr: gva(from) }, CALL_LOOKBEHIND), a, bits);
        } catch {
          return undefined;
        }
      },
    });
    this.frames.set(vcpu, frames);
    return frames;
  }

  describeAddress(addr: bigint): string {
    const sym = this.program.symbolize(addr);
    const loc = this.program.location(addr);
    return `${hex(addr)}${sym ? ` (${sym})` : ''}${loc ? ` at ${path.basename(loc.file)}:${loc.line}` : ''}`;
  }

  /** Registers, symbols and memory of a paused vCPU, for expressions and breakpoint conditions. */
  evalContext(vcpu: number): EvalContext {
    const st = this.requirePaused(vcpu).vcpuState(vcpu);
    let regs: ReturnType<typeof st.getRegs> | undefined;
    let sregs: ReturnType<typeof st.getSregs> | undefined;
    const access = this.memory;
    const read = (ref: MemRef, width: Width): bigint => {
      try {
        return access.readUint(vcpu, ref, width);
      } catch (e) {
        throw new EvalError(e instanceof Error ? e.message : String(e));
      }
    };
    return {
      register: (name) => {
        const n = name.toLowerCase();
        if ((GPR_NAMES as readonly string[]).includes(n)) return (regs ??= st.getRegs())[n as keyof typeof regs];
        sregs ??= st.getSregs();
        if ((SEGMENT_NAMES as readonly string[]).includes(n)) return BigInt(sregs[n as (typeof SEGMENT_NAMES)[number]].selector);
        if (n === 'cr0' || n === 'cr2' || n === 'cr3' || n === 'cr4' || n === 'cr8' || n === 'efer') return sregs[n];
        if (n === 'pc') return sregs.cs.base + (regs ??= st.getRegs()).rip;
        return undefined;
      },
      symbol: (name) => this.program.symbol(name)?.value,
      readVirtual: (addr, width) => read({ space: 'virtual', addr: gva(BigInt.asUintN(64, addr)) }, width),
      readPhysical: (addr, width) => {
        if (!isGpa(addr)) throw new EvalError(`${hex(addr)} is not a guest-physical address`);
        return read({ space: 'physical', addr: gpa(addr) }, width);
      },
    };
  }

  evaluateOn(vcpu: number, text: string): bigint {
    return compile(text).evaluate(this.evalContext(vcpu));
  }

  /**
   * The Source for a file named in the image's line tables, as the user's editor should open it. A guest built in one
   * directory and debugged from a copy (another checkout, a CI artifact) names files where it was built: when the
   * spec's own directory holds the same file under the same trailing path, with the same contents or where the built
   * path no longer exists, the user's copy is shown, so that stops land in the files their breakpoints are in.
   */
  source(file: string): Source {
    let shown = this.shownPaths.get(file);
    if (shown === undefined) {
      shown = localCopy(file, this.spec?.dir) ?? file;
      this.shownPaths.set(file, shown);
    }
    return new Source(path.basename(shown), shown);
  }
}

/**
 * `file` as found under `dir` by its trailing path (hello.c, then src/hello.c, ...), the longest match first, when that
 * copy has the same contents or `file` itself is gone. Undefined when `file` is already under `dir` or has no copy.
 */
export function localCopy(file: string, dir: string | undefined): string | undefined {
  if (!dir || !path.isAbsolute(file) || file.startsWith(dir + path.sep)) return undefined;
  const parts = file.split(path.sep).filter(Boolean);
  const original = readOrUndefined(file);
  for (let k = parts.length - 1; k >= 1; k--) {
    const candidate = path.join(dir, ...parts.slice(parts.length - k));
    const copy = readOrUndefined(candidate);
    if (copy === undefined) continue;
    if (original === undefined || original.equals(copy)) return candidate;
  }
  return undefined;
}

function readOrUndefined(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}
