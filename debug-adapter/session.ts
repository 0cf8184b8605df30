// The DAP session: translates DAP requests into Machine calls and Machine
// events into DAP events. The logic of breakpoints (breakpoints.ts), symbols
// and lines (program.ts), registers (registers.ts), memory (guest-memory.ts),
// expressions (expr/), disassembly (disasm.ts), unwinding (unwind.ts) and
// step planning (stepping.ts) lives in modules that are tested without DAP.
//
// Run control is all-stop: when one vCPU stops, vmscope pauses the others and
// reports one `stopped` event with allThreadsStopped. `continue` resumes every
// vCPU. A step runs only the stepping vCPU; the others stay paused until the
// next continue (like gdb's scheduler-locking "step" mode), so a step never
// lets them run away unseen.

import {
  ContinuedEvent,
  DebugSession,
  ExitedEvent,
  Handles,
  InitializedEvent,
  InvalidatedEvent,
  MemoryEvent,
  OutputEvent,
  Scope,
  Source,
  StackFrame,
  StoppedEvent,
  TerminatedEvent,
  Thread,
  BreakpointEvent,
  CapabilitiesEvent,
  Event,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSpecFile, formatDiagnostic } from '../vmspec/load';
import type { VmSpec } from '../vmspec/types';
import { parseSize } from '../vmspec/units';
import { buildMachine, deviceConfigs, memoryLayout } from '../vmm/builder';
import type { Machine } from '../vmm/machine';
import { cpuModeName, describeVcpuEnd, formatCpu, type RunResult, type VcpuStop } from '../vmm/exits';
import { GPR_NAMES, SEGMENT_NAMES } from '../vmm/registers';
import type { BackendImplementation } from '../vmm/backend';
import { exitName } from '../vmm/exit-trace';
import { VmscopeError } from '../vmm/errors';
import type { ResumeHow, WatchLength } from '../vmm/debug';
import { BreakpointManager, type HitDecision, type ManagedBreakpoint } from './breakpoints';
import { describeExitInfo, EXIT_CODES, splitCondition, toTraceEvents, type ExitFilterSpec } from '../vmm/exit-trace';
import { parseHitCondition } from '../vmm/expr/hit-condition';
import { EXIT_FILTERS, describeExitStop, type ExitFilterName } from './exit-filters';
import { formatTranslation, translateOn, translationJson, translationNodes } from './translation';
import { ioExitPc, vmcsNodes } from './vmcs-view';
import { ProgramInfo } from './program';
import { GuestAccess, formatMemoryReference, parseMemoryReference, type MemRef } from './guest-memory';
import {
  controlRegisters,
  formatNumber,
  fpuRegisters,
  generalRegisters,
  msrRegisters,
  segmentRegisters,
  type VarNode,
} from './registers';
import { compile, completionPrefix, EvalError, SUBREGISTERS, type EvalContext, type Width } from '../vmm/expr/evaluate';
import { bitnessOf, decode, disassemblyWindow, type Bitness, type DecodedInstruction } from './disasm';
import { unwind, type Frame } from './unwind';

export interface LaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** Path of the .vmspec to run. */
  spec: string;
  /** Stop every vCPU before its first instruction (default true). */
  stopOnEntry?: boolean;
  /** Override the spec's boot image (path relative to the spec, or absolute). */
  image?: string;
  /** Override the spec's memory size (bytes or a size such as "64MiB"). */
  memory?: string | number;
  /** Extra ELF files to load symbols and line tables from. */
  symbols?: string[];
  /** Extra MSRs to show, by index (e.g. 0x3a or "0x3a"). */
  msrs?: Array<number | string>;
  /** Stop the VM after this many seconds. */
  timeout?: number;
  /** Disassembly syntax: "intel" (default) or "gas" (AT&T). */
  disassemblySyntax?: 'intel' | 'gas';
  /** Exit filters to turn on from the start, in addition to the spec's debug.break-on-exit (e.g. ["io", "hlt"]). */
  breakOnExit?: string[];
  /** Entries in each vCPU's exit trace ring (default 4096). */
  traceBufferSize?: number;
  /** The backend: auto (KVM where usable, else the emulator), kvm or emu; overrides the spec's accel. */
  accel?: 'auto' | 'kvm' | 'emu';
  /**
   * Send guest serial output as `vmscope.serial` events (for a client's terminal) instead of Debug Console output.
   * The Debug Console then keeps vmscope's own messages only.
   */
  serialConsole?: boolean;
}

interface SerialInputArguments {
  text?: string;
  /** Raw bytes, as numbers 0-255. */
  bytes?: number[];
}

type StopReason = 'entry' | 'step' | 'breakpoint' | 'function breakpoint' | 'instruction breakpoint' | 'data breakpoint' | 'pause' | 'exception';

/** What a variablesReference stands for; handles are reset at every stop. */
type VarContainer = { kind: 'nodes'; nodes: () => VarNode[] };

const FRAME_STRIDE = 10_000;
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

/** KVM exit name (KVM_EXIT_IO) → exit filter name (io). */
const FILTER_BY_KVM_NAME = new Map(Object.entries(EXIT_CODES).map(([id, code]) => [exitName(code), id]));
/** How many recent exits the Exits scope lists. */
const EXITS_SHOWN = 32;

export class VmscopeSession extends DebugSession {
  private machine: Machine | undefined;
  private spec: VmSpec | undefined;
  private args: LaunchArguments | undefined;
  private program = ProgramInfo.load([]);
  private access: GuestAccess | undefined;
  private bps = new BreakpointManager(false);
  private configured!: () => void;
  private readonly configurationDone = new Promise<void>((resolve) => (this.configured = resolve));
  private handles = new Handles<VarContainer>();
  /** Nodes by variablesReference, for setVariable. */
  private shown = new Map<number, VarNode[]>();
  private frames = new Map<number, Frame[]>();
  /** 'running': vCPUs run or step; 'stopped': all are paused and the UI knows. */
  private runState: 'running' | 'stopped' = 'running';
  private entryPending = false;
  /** The vCPU whose stop the UI shows (and whose state evaluate reads). */
  private focus = 0;
  /** The vCPU whose VM-exit breakpoint made the current stop, if one did. */
  private exitStop: { vcpu: number; io: boolean } | undefined;
  /** Line-table file → the path shown to the user (see source()). */
  private readonly shownPaths = new Map<string, string>();
  /** The machine has ended (its exit code was sent). */
  private ended = false;
  /** A stepping plan continues after intermediate stops (line steps into code without lines). */
  private stepPlan: { vcpu: number; kind: 'in' | 'over'; granularity: 'line'; fromLine?: { file: string; line: number }; rounds: number } | undefined;
  private restarting = false;
  private hexDefault = true;
  /** What runs behind the machine's backend (VMX, SVM, PVM or the emulator), for exit descriptions and the VMCS view. */
  private get backend(): BackendImplementation {
    return this.machine?.implementation ?? 'unknown';
  }
  private extraMsrs: Array<[number, string]> = [];

  // ---------------------------------------------------------------- setup

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsFunctionBreakpoints: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsLogPoints: true,
      supportsEvaluateForHovers: true,
      supportsSetVariable: true,
      supportsRestartRequest: true,
      supportsTerminateRequest: true,
      supportsDataBreakpoints: true,
      supportsDataBreakpointBytes: true,
      supportsDisassembleRequest: true,
      supportsSteppingGranularity: true,
      supportsInstructionBreakpoints: true,
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: true,
      supportsCompletionsRequest: true,
      supportsValueFormattingOptions: true,
      completionTriggerCharacters: ['$'],
      exceptionBreakpointFilters: this.exitFilters(),
      supportsExceptionFilterOptions: true,
      breakpointModes: [
        { mode: 'break', label: 'Break', appliesTo: ['exception'] },
        { mode: 'log', label: 'Log', description: 'Log each matching exit in the Debug Console without stopping', appliesTo: ['exception'] },
      ],
    };
    this.sendResponse(response);
  }

  /** One exception filter per VM exit reason user space sees. */
  private exitFilters(): DebugProtocol.ExceptionBreakpointsFilter[] {
    const defaults = new Set<string>(this.defaultExitFilters);
    return EXIT_FILTERS.map((f) => ({
      filter: f.id,
      label: f.label,
      description: f.description,
      default: defaults.has(f.id),
      supportsCondition: true,
      conditionDescription: f.conditionHelp,
    }));
  }

  /** Filters the spec asks for (debug.break-on-exit); set before initialize answers. */
  private defaultExitFilters: readonly string[] = [];
  private exitSpecs: ExitFilterSpec[] = [];

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    const options: DebugProtocol.ExceptionFilterOptions[] = [...(args.filterOptions ?? []), ...args.filters.map((filterId) => ({ filterId }))];
    const specs: ExitFilterSpec[] = [];
    const results: DebugProtocol.Breakpoint[] = [];
    /** For each spec, its index in results. */
    const resultOf: number[] = [];
    for (const o of options) {
      const f = EXIT_FILTERS.find((x) => x.id === o.filterId);
      if (!f) {
        results.push({ verified: false, message: `unknown exit filter "${o.filterId}"` });
        continue;
      }
      if (o.condition) {
        try {
          const { expr, hit } = splitCondition(o.condition);
          if (expr) compile(expr);
          if (hit) parseHitCondition(hit);
        } catch (e) {
          results.push({ verified: false, message: e instanceof Error ? e.message : String(e) });
          continue;
        }
      }
      specs.push({ id: f.id, codes: [EXIT_CODES[f.id]], condition: o.condition, logMessage: o.mode === 'log' ? '' : undefined });
      resultOf.push(results.length);
      results.push({ verified: true });
    }
    // RDMSR/WRMSR reach vmscope only through an MSR filter: on while such a filter is set.
    const wantMsrs = specs.some((x) => x.id === 'rdmsr' || x.id === 'wrmsr');
    if (this.machine && !this.machine.trapMsrs(wantMsrs)) {
      specs.forEach((x, i) => {
        if (x.id === 'rdmsr' || x.id === 'wrmsr') results[resultOf[i]!] = { verified: false, message: 'this KVM cannot route MSR accesses to user space (no KVM_CAP_X86_USER_SPACE_MSR)' };
      });
    }
    this.exitSpecs = specs;
    this.machine?.configureExits(specs, true);
    response.body = { breakpoints: results };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configured();
  }

  private loadSpec(args: LaunchArguments): VmSpec {
    const file = path.resolve(args.spec);
    const loaded = loadSpecFile(file);
    if (!loaded.spec) {
      const lines = loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(file, d));
      throw new VmscopeError(lines.join('\n') || `cannot load ${file}`);
    }
    const spec: VmSpec = { ...loaded.spec, boot: { ...loaded.spec.boot }, devices: { ...loaded.spec.devices } };
    if (args.image) spec.boot.image = path.resolve(spec.dir, args.image);
    if (args.memory !== undefined) {
      const size = parseSize(typeof args.memory === 'number' ? BigInt(args.memory) : args.memory);
      if (!size.ok) throw new VmscopeError(`launch attribute "memory": ${size.message}`);
      spec.memory = Number(size.value);
    }
    return spec;
  }

  private createMachine(spec: VmSpec): Machine {
    const accel = this.args?.accel;
    if (accel !== undefined && accel !== 'auto' && accel !== 'kvm' && accel !== 'emu') throw new VmscopeError(`launch attribute "accel" is "${String(accel)}"`, 'use auto, kvm or emu');
    const built = buildMachine(spec, { traceCapacity: this.args?.traceBufferSize, ...(accel ? { accel } : {}) });
    const machine = built.machine;
    // The Debug Console's first line names the backend, and why it is not KVM when auto chose emulation.
    this.console(`vmscope: ${spec.name} on ${machine.backendDescription}${built.notice ? ` (${built.notice})` : ''}\n`);
    for (const w of built.warnings) this.console(`warning: ${w}\n`);
    machine.on('serial', (bytes, device) => {
      const text = Buffer.from(bytes).toString('latin1');
      this.sendEvent(this.args?.serialConsole ? new Event('vmscope.serial', { device, text }) : new OutputEvent(text, 'stdout'));
    });
    machine.on('stopped', (vcpu, stop) => this.onStopped(machine, vcpu, stop));
    machine.on('end', (result) => this.onEnd(machine, result));
    machine.on('exit-log', (vcpu, filter, text) => this.console(`[vCPU ${vcpu}] ${filter}: ${text}\n`));
    return machine;
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: LaunchArguments): Promise<void> {
    if (!args.spec) {
      this.sendErrorResponse(response, 1001, 'launch needs "spec": the path of a .vmspec file');
      return;
    }
    try {
      this.args = args;
      this.spec = this.loadSpec(args);
      this.extraMsrs = (args.msrs ?? []).map((m) => {
        const n = Number(m);
        if (!Number.isInteger(n) || n < 0) throw new VmscopeError(`launch attribute "msrs": ${String(m)} is not an MSR index`);
        return [n, `MSR`] as [number, string];
      });
      this.machine = this.createMachine(this.spec);
    } catch (e) {
      this.sendErrorResponse(response, 1002, e instanceof VmscopeError ? e.message : `internal error: ${String(e)}`);
      return;
    }
    const machine = this.machine;
    const symbolFiles = (args.symbols ?? []).map((p) => ({ path: path.resolve(this.spec!.dir, p) }));
    this.program = ProgramInfo.load([{ path: this.spec.boot.image }, ...symbolFiles]);
    for (const w of this.program.warnings) this.console(`warning: ${w}\n`);
    const caps = machine.capabilities;
    this.bps = new BreakpointManager(
      caps.softwareBreakpoints,
      caps.softwareBreakpoints ? undefined : 'int3 breakpoints do not work on this KVM host (probed: int3 ends in a KVM internal error, as on PVM)',
      caps.dataWatchpoints,
      caps.maxHardwareBreakpoints,
    );
    this.access = new GuestAccess(machine, (physical, bytes) => this.hideSoftwareBreakpoints(physical, bytes));
    // The spec's debug.break-on-exit filters are on from the start, and shown ticked.
    const defaults: string[] = [...(this.spec.debug.breakOnExit ?? [])];
    for (const id of args.breakOnExit ?? []) {
      if (!EXIT_FILTERS.some((f) => f.id === id)) this.console(`warning: launch attribute "breakOnExit": unknown exit filter "${id}" (known: ${EXIT_FILTERS.map((f) => f.id).join(', ')})\n`);
      else if (!defaults.includes(id)) defaults.push(id);
    }
    this.defaultExitFilters = defaults;
    this.exitSpecs = this.defaultExitFilters.map((id) => ({ id, codes: [EXIT_CODES[id as ExitFilterName]] }));
    if (this.exitSpecs.some((x) => x.id === 'rdmsr' || x.id === 'wrmsr')) machine.trapMsrs(true);
    this.sendResponse(response);
    if (this.defaultExitFilters.length) this.sendEvent(new CapabilitiesEvent({ exceptionBreakpointFilters: this.exitFilters() }));
    // Breakpoints arrive after `initialized`; the VM starts after configurationDone.
    this.sendEvent(new InitializedEvent());
    await this.configurationDone;
    this.startMachine(machine);
  }

  private startMachine(machine: Machine): void {
    const stopOnEntry = this.args?.stopOnEntry ?? true;
    this.entryPending = stopOnEntry;
    this.runState = 'running';
    this.applyBreakpoints();
    machine.configureExits(this.exitSpecs, true);
    void machine.start({ paused: stopOnEntry, holdFailures: true, timeoutMs: this.args?.timeout ? this.args.timeout * 1000 : undefined });
  }

  protected override async restartRequest(response: DebugProtocol.RestartResponse): Promise<void> {
    const old = this.machine;
    if (!old || !this.spec) {
      this.sendErrorResponse(response, 1003, 'nothing to restart');
      return;
    }
    this.restarting = true;
    await old.stop();
    this.restarting = false;
    try {
      this.machine = this.createMachine(this.spec);
    } catch (e) {
      this.sendErrorResponse(response, 1004, e instanceof VmscopeError ? e.message : `internal error: ${String(e)}`);
      return;
    }
    this.access = new GuestAccess(this.machine, (p, b) => this.hideSoftwareBreakpoints(p, b));
    for (const bp of this.bps.all()) bp.hits = 0;
    this.sendResponse(response);
    this.startMachine(this.machine);
    if (!this.entryPending) this.sendEvent(new ContinuedEvent(0, true));
  }

  private console(text: string): void {
    this.sendEvent(new OutputEvent(text, 'console'));
  }

  // ---------------------------------------------------- stops and the end

  private reset(): void {
    this.exitStop = undefined;
    this.handles.reset();
    this.shown.clear();
    this.frames.clear();
    this.access?.invalidate();
  }

  private onStopped(machine: Machine, vcpu: number, stop: VcpuStop): void {
    try {
      this.handleStop(machine, vcpu, stop);
    } catch (e) {
      // Never lose a stop: show it, with what went wrong.
      this.console(`vmscope: while handling a stop of vCPU ${vcpu}: ${e instanceof Error ? e.message : String(e)}\n`);
      if (this.runState !== 'stopped') void this.allStop(machine, vcpu, 'pause');
    }
  }

  private handleStop(machine: Machine, vcpu: number, stop: VcpuStop): void {
    if (machine !== this.machine || this.suppressStops.has(vcpu)) return;
    if (this.runState === 'stopped') return; // another vCPU joining an all-stop
    this.reset();
    if (this.entryPending) {
      this.entryPending = false;
      void this.allStop(machine, vcpu, 'entry');
      return;
    }
    const decision = this.decide(machine, vcpu, stop);
    if (decision === 'resume') {
      const how = (): ResumeHow => this.stepPlanHow(machine, vcpu) ?? { kind: 'continue' };
      // A breakpoint that does not stop (condition false, hit count not reached, logpoint) on an
      // int3: step off it first, or the vCPU would execute the int3 again at once.
      if (stop.kind === 'sw-breakpoint') {
        void this.stepOffSoftwareBreakpoint(machine, vcpu).then(
          () => machine.resume(vcpu, how()),
          (e: unknown) => this.console(`vmscope: stepping vCPU ${vcpu} off a breakpoint: ${e instanceof Error ? e.message : String(e)}\n`),
        );
        return;
      }
      machine.resume(vcpu, how());
      return;
    }
    void this.allStop(machine, vcpu, decision.reason, decision.description, decision.text, decision.hitIds);
  }

  /** Turns a vCPU stop into a DAP stop (or a silent resume). */
  private decide(
    machine: Machine,
    vcpu: number,
    stop: VcpuStop,
  ): 'resume' | { reason: StopReason; description?: string; text?: string; hitIds?: number[] } {
    switch (stop.kind) {
      case 'pause':
        this.stepPlan = undefined;
        return { reason: 'pause' };
      case 'step':
        return this.continueStepPlan(machine, vcpu) ? 'resume' : { reason: 'step' };
      case 'breakpoint':
      case 'sw-breakpoint': {
        const bps = this.bps.codeAt(stop.pc);
        if (bps.length === 0) {
          this.stepPlan = undefined;
          return stop.kind === 'sw-breakpoint'
            ? { reason: 'exception', description: `the guest executed an int3 of its own at ${this.describeAddress(stop.pc)}` }
            : { reason: 'breakpoint', description: `stopped at ${this.describeAddress(stop.pc)}` };
        }
        const d = this.countHit(vcpu, bps);
        if (!d.stop) return 'resume';
        this.stepPlan = undefined;
        const first = bps.find((b) => d.hitIds.includes(b.id))!;
        const reason: StopReason = first.kind === 'function' ? 'function breakpoint' : first.kind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
        return { reason, hitIds: d.hitIds };
      }
      case 'watchpoint': {
        const bps = this.bps.dataInSlots(stop.slots);
        const d = this.countHit(vcpu, bps);
        if (!d.stop && bps.length > 0) return 'resume';
        this.stepPlan = undefined;
        const w = bps[0]?.watch;
        const description = w ? `${w.access === 'write' ? 'write to' : 'access to'} ${formatMemoryReference({ space: 'virtual', addr: w.addr })} (${w.len} bytes) by the instruction before ${this.describeAddress(stop.pc)}` : 'data breakpoint';
        return { reason: 'data breakpoint', description, hitIds: d.hitIds };
      }
      case 'debug':
        this.stepPlan = undefined;
        return { reason: 'exception', description: `debug exception (vector ${stop.exception}) at ${this.describeAddress(stop.pc)}, DR6 ${'0x' + stop.dr6.toString(16)}` };
      case 'exit': {
        this.stepPlan = undefined;
        this.exitStop = { vcpu, io: stop.exit.reason === 'io' };
        const description = describeExitStop(stop.code, stop.exit, this.backend);
        return { reason: 'exception', description, text: `${description} (filter ${stop.filter}, hit ${stop.hits})` };
      }
      case 'failure': {
        this.stepPlan = undefined;
        const description = describeVcpuEnd(vcpu, stop.end);
        const cpu = 'cpu' in stop.end ? stop.end.cpu : undefined;
        return { reason: 'exception', description, text: cpu ? `${description}\n${formatCpu(cpu)}` : description };
      }
    }
  }

  /** Counts a hit with conditions evaluated on `vcpu`; prints logpoints and condition errors. */
  private countHit(vcpu: number, bps: readonly ManagedBreakpoint[]): HitDecision {
    const d = this.bps.onHit(
      bps,
      (e) => this.evaluateOn(vcpu, e),
      (e) => formatNumber(this.evaluateOn(vcpu, e), undefined, true),
    );
    for (const l of d.logs) this.sendEvent(new OutputEvent(l + '\n', 'console'));
    for (const err of d.errors) this.console(err + '\n');
    return d;
  }

  private async allStop(machine: Machine, vcpu: number, reason: StopReason, description?: string, text?: string, hitIds?: number[]): Promise<void> {
    this.runState = 'stopped';
    this.focus = vcpu;
    machine.pause();
    // The UI may ask any vCPU for its state as soon as it hears of the stop.
    await machine.whenAllPaused().catch(() => undefined);
    const ev = new StoppedEvent(reason, vcpu, text) as DebugProtocol.StoppedEvent;
    ev.body.allThreadsStopped = true;
    if (description) ev.body.description = description;
    if (hitIds?.length) ev.body.hitBreakpointIds = hitIds;
    if (text && reason === 'exception') this.console(text + '\n');
    this.sendEvent(ev);
  }

  private onEnd(machine: Machine, result: RunResult): void {
    if (machine !== this.machine || this.restarting) return;
    const end = result.end;
    if (end.kind !== 'vcpu' || end.end.kind !== 'debug-exit') this.console(`vmscope: ${end.kind === 'vcpu' ? describeVcpuEnd(end.vcpu, end.end) : end.kind === 'timeout' ? `timed out after ${end.seconds} s` : 'stopped'}\n`);
    const code = end.kind === 'vcpu' && end.end.kind === 'debug-exit' ? end.end.status : 1;
    this.ended = true;
    this.sendEvent(new ExitedEvent(code));
    this.sendEvent(new TerminatedEvent());
  }

  private describeAddress(addr: bigint): string {
    const sym = this.program.symbolize(addr);
    const loc = this.program.location(addr);
    return `${'0x' + addr.toString(16)}${sym ? ` (${sym})` : ''}${loc ? ` at ${path.basename(loc.file)}:${loc.line}` : ''}`;
  }

  // --------------------------------------------------------------- threads

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const n = this.machine?.vcpuCount ?? 0;
    response.body = { threads: Array.from({ length: n }, (_, i) => new Thread(i, `vCPU ${i}`)) };
    this.sendResponse(response);
  }

  private requirePaused(vcpu: number): Machine {
    const m = this.machine;
    if (!m) throw new VmscopeError('no VM is running');
    if (m.vcpuRunState(vcpu) !== 'paused') throw new VmscopeError(`vCPU ${vcpu} is not stopped`);
    return m;
  }

  // ---------------------------------------------------------- run control

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.machine?.pause();
    this.sendResponse(response);
  }

  protected override async continueRequest(response: DebugProtocol.ContinueResponse): Promise<void> {
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    await this.stepOffSoftwareBreakpoints();
    this.resumeAll();
  }

  private resumeAll(): void {
    this.reset();
    this.stepPlan = undefined;
    this.runState = 'running';
    this.machine?.resume();
  }

  /**
   * A vCPU stopped on an int3 vmscope planted would hit it again at once:
   * put the original byte back, step that one instruction, plant it again
   * (what gdb does). Hardware breakpoints need none of this: the vCPU thread
   * masks the slot at pc for one instruction.
   */
  private async stepOffSoftwareBreakpoints(): Promise<void> {
    const m = this.machine;
    if (!m || this.planted.size === 0) return;
    for (let vcpu = 0; vcpu < m.vcpuCount; vcpu++) await this.stepOffSoftwareBreakpoint(m, vcpu);
  }

  /** Steps one paused vCPU off an int3 vmscope planted at its pc, if there is one. */
  private async stepOffSoftwareBreakpoint(m: Machine, vcpu: number): Promise<void> {
    if (m.vcpuRunState(vcpu) !== 'paused') return;
    const phys = this.access?.translate(vcpu, this.pcOf(m, vcpu).pc);
    const orig = phys === undefined ? undefined : this.planted.get(phys);
    if (phys === undefined || orig === undefined) return;
    m.memory.write(Number(phys) as never, Uint8Array.of(orig));
    const stepped = new Promise<void>((resolve) => {
      const on = (v: number) => {
        if (v !== vcpu) return;
        m.off('stopped', on);
        resolve();
      };
      m.on('stopped', on);
    });
    this.suppressStops.add(vcpu);
    m.resume(vcpu, { kind: 'step-instruction' });
    await stepped;
    this.suppressStops.delete(vcpu);
    m.memory.write(Number(phys) as never, Uint8Array.of(0xcc));
  }

  /** vCPUs whose next stop is internal (stepping off an int3), not for the UI. */
  private readonly suppressStops = new Set<number>();

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    this.step(response, args.threadId, 'over', args.granularity);
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    this.step(response, args.threadId, 'in', args.granularity);
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    this.step(response, args.threadId, 'out', args.granularity);
  }

  private step(response: DebugProtocol.Response, vcpu: number, kind: 'in' | 'over' | 'out', granularity?: DebugProtocol.SteppingGranularity): void {
    let how: ResumeHow;
    let machine: Machine;
    try {
      machine = this.requirePaused(vcpu);
      how = this.planStep(machine, vcpu, kind, granularity ?? 'statement');
    } catch (e) {
      this.sendErrorResponse(response, 2001, e instanceof Error ? e.message : String(e));
      return;
    }
    this.reset();
    this.focus = vcpu;
    this.runState = 'running';
    if (this.planted.size > 0) {
      // An int3 under pc: put the original byte back for this step (it is planted again after).
      const phys = this.access?.translate(vcpu, this.pcOf(machine, vcpu).pc);
      const orig = phys === undefined ? undefined : this.planted.get(phys);
      if (phys !== undefined && orig !== undefined) {
        machine.memory.write(Number(phys) as never, Uint8Array.of(orig));
        this.planted.delete(phys);
        machine.once('stopped', () => this.plantSoftwareBreakpoints());
      }
    }
    // Start the vCPU first: the response goes out while it runs.
    machine.resume(vcpu, how);
    this.sendResponse(response);
  }

  private pcOf(machine: Machine, vcpu: number): { pc: bigint; rsp: bigint; rbp: bigint; bits: Bitness } {
    const st = machine.vcpuState(vcpu);
    const r = st.getRegs();
    const s = st.getSregs();
    return { pc: s.cs.base + r.rip, rsp: r.rsp, rbp: r.rbp, bits: bitnessOf({ cr0: s.cr0, efer: s.efer, csL: s.cs.l, csDb: s.cs.db }) };
  }

  /** Calls in [start, end) with their return addresses, for stepping over them. */
  private callsIn(vcpu: number, start: bigint, end: bigint, bits: Bitness): Array<{ at: bigint; ret: bigint }> {
    const len = Number(end - start);
    if (len <= 0 || len > 1 << 16) return [];
    const bytes = this.access!.read(vcpu, { space: 'virtual', addr: start }, len);
    return decode(bytes, start, bits)
      .filter((i) => i.kind === 'call')
      .map((i) => ({ at: i.address, ret: i.nextAddress }));
  }

  /** Works out how the vCPU must run for a DAP step. */
  private planStep(machine: Machine, vcpu: number, kind: 'in' | 'over' | 'out', granularity: DebugProtocol.SteppingGranularity): ResumeHow {
    this.stepPlan = undefined;
    // The hot case (the Disassembly view's step) needs no state at all.
    if (kind === 'in' && granularity === 'instruction') return { kind: 'step-instruction' };
    const { pc, rsp, bits } = this.pcOf(machine, vcpu);
    if (kind === 'out') {
      const frames = this.unwindVcpu(machine, vcpu);
      const caller = frames[1];
      if (!caller) throw new VmscopeError('cannot step out: the caller\'s frame is unknown (no frame pointer chain here)');
      return { kind: 'run-to', addr: caller.pc, aboveSp: rsp };
    }
    const range = granularity === 'instruction' ? undefined : this.program.lineRange(pc);
    if (!range) {
      if (kind === 'over') {
        const insn = this.instructionAt(vcpu, pc, bits);
        if (insn?.kind === 'call') return { kind: 'step-range', start: pc, end: insn.nextAddress, calls: [{ at: pc, ret: insn.nextAddress }] };
      }
      return { kind: 'step-instruction' };
    }
    const loc = this.program.location(pc);
    this.stepPlan = { vcpu, kind, granularity: 'line', rounds: 0, ...(loc ? { fromLine: { file: loc.file, line: loc.line } } : {}) };
    return { kind: 'step-range', start: range.start, end: range.end, calls: kind === 'over' ? this.callsIn(vcpu, range.start, range.end, bits) : [] };
  }

  /**
   * After a line step lands: stop if at the start of a new line; keep going
   * if in the middle of one or in code without line info (step back out of it).
   */
  private continueStepPlan(machine: Machine, vcpu: number): boolean {
    const plan = this.stepPlan;
    if (!plan || plan.vcpu !== vcpu) return false;
    if (++plan.rounds > 200) {
      this.stepPlan = undefined;
      return false;
    }
    const { pc } = this.pcOf(machine, vcpu);
    const loc = this.program.location(pc);
    if (loc && loc.address === pc && !(plan.fromLine && loc.file === plan.fromLine.file && loc.line === plan.fromLine.line)) {
      this.stepPlan = undefined;
      return false;
    }
    return true;
  }

  /** The next leg of a line step that landed somewhere it should not stop. */
  private stepPlanHow(machine: Machine, vcpu: number): ResumeHow | undefined {
    const plan = this.stepPlan;
    if (!plan || plan.vcpu !== vcpu) return undefined;
    const { pc, rsp, bits } = this.pcOf(machine, vcpu);
    const range = this.program.lineRange(pc);
    if (range) return { kind: 'step-range', start: range.start, end: range.end, calls: plan.kind === 'over' ? this.callsIn(vcpu, range.start, range.end, bits) : [] };
    // No line info here (a function without debug info): run back to the caller.
    const caller = this.unwindVcpu(machine, vcpu)[1];
    if (caller) return { kind: 'run-to', addr: caller.pc, aboveSp: rsp };
    return { kind: 'step-instruction' };
  }

  // ------------------------------------------------------------ the stack

  private unwindVcpu(machine: Machine, vcpu: number): Frame[] {
    const cached = this.frames.get(vcpu);
    if (cached) return cached;
    const { pc, rsp, rbp, bits } = this.pcOf(machine, vcpu);
    const word = bits === 64 ? 8 : 4;
    const frames = unwind({
      pc,
      sp: rsp,
      fp: rbp,
      wordSize: word,
      readWord: (a) => {
        try {
          return this.access!.readUint(vcpu, { space: 'virtual', addr: a }, word);
        } catch {
          return undefined;
        }
      },
      isCode: (a) => this.program.isCode(a),
      functionStart: (a) => this.program.functionStart(a),
    });
    this.frames.set(vcpu, frames);
    return frames;
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    let frames: Frame[];
    try {
      frames = this.unwindVcpu(this.requirePaused(args.threadId), args.threadId);
    } catch {
      response.body = { stackFrames: [], totalFrames: 0 };
      this.sendResponse(response);
      return;
    }
    const start = args.startFrame ?? 0;
    const count = args.levels ? Math.min(args.levels, frames.length - start) : frames.length - start;
    // Stopped at an I/O exit where rip is already past the instruction (PVM): show the instruction that exited, so
    // that the editor marks the line of the `out` rather than the next one. rip itself is unchanged.
    let exitPc: bigint | undefined;
    if (start === 0 && this.exitStop?.io && this.exitStop.vcpu === args.threadId && this.access) {
      try {
        exitPc = ioExitPc(this.machine!, args.threadId, this.access);
      } catch {
        exitPc = undefined;
      }
    }
    const out: StackFrame[] = [];
    for (let i = start; i < start + count; i++) {
      const f = frames[i]!;
      const pc = i === 0 && exitPc !== undefined ? exitPc : f.pc;
      // A return address points after the call: look up the call's line.
      const lookupPc = i === 0 ? pc : pc - 1n;
      const loc = this.program.location(lookupPc);
      const name = (this.program.symbolize(pc) ?? '0x' + pc.toString(16)) + (pc !== f.pc ? ` (I/O exit; rip 0x${f.pc.toString(16)})` : '');
      const frame = new StackFrame(args.threadId * FRAME_STRIDE + i, name, loc ? this.source(loc.file) : undefined, loc?.line ?? 0, loc?.column ?? 0);
      frame.instructionPointerReference = '0x' + pc.toString(16);
      if (!loc) frame.presentationHint = 'subtle';
      out.push(frame);
    }
    response.body = { stackFrames: out, totalFrames: frames.length };
    this.sendResponse(response);
  }

  // ------------------------------------------------------ scopes/variables

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    const vcpu = Math.floor(args.frameId / FRAME_STRIDE);
    const index = args.frameId % FRAME_STRIDE;
    const m = this.machine;
    if (!m || m.vcpuRunState(vcpu) !== 'paused') {
      response.body = { scopes: [] };
      this.sendResponse(response);
      return;
    }
    const st = () => m.vcpuState(vcpu);
    const scope = (name: string, nodes: () => VarNode[], expensive = false, hint?: string) => {
      const s = new Scope(name, this.handles.create({ kind: 'nodes', nodes }), expensive) as DebugProtocol.Scope;
      if (hint) s.presentationHint = hint;
      return s;
    };
    const scopes: DebugProtocol.Scope[] = [];
    if (index === 0) {
      scopes.push(
        scope('General registers', () => generalRegisters(st()), false, 'registers'),
        scope('Segments', () => segmentRegisters(st()), false, 'registers'),
        scope('Control and debug', () => controlRegisters(st()), false, 'registers'),
        scope('MSRs', () => msrRegisters(st(), this.extraMsrs), true, 'registers'),
        scope('FPU/SSE', () => fpuRegisters(st()), true, 'registers'),
      );
    } else {
      const f = this.unwindVcpu(m, vcpu)[index];
      if (f) {
        scopes.push(
          scope('Frame', () => [
            { name: 'pc', value: f.pc, bits: 64, memoryReference: '0x' + f.pc.toString(16) },
            { name: 'sp', value: f.sp, bits: 64, memoryReference: '0x' + f.sp.toString(16) },
            { name: 'fp', value: f.fp, bits: 64, memoryReference: '0x' + f.fp.toString(16) },
          ]),
        );
      }
    }
    if (index === 0) {
      scopes.push(
        scope('VMCS', () => vmcsNodes(m, vcpu, this.access!, this.backend), true, 'registers'),
        scope('Translation', () => {
          const r = st().getRegs();
          const sr = st().getSregs();
          return [
            translationNodes('rip', translateOn(m, vcpu, sr.cs.base + r.rip, { execute: true, user: sr.cs.dpl === 3 })),
            translationNodes('rsp', translateOn(m, vcpu, sr.ss.base + r.rsp, { write: true, user: sr.cs.dpl === 3 })),
          ];
        }, true),
      );
    }
    scopes.push(scope('Globals', () => this.globals(vcpu), true));
    scopes.push(scope('Exits', () => this.exitsView(m, vcpu), true));
    response.body = { scopes };
    this.sendResponse(response);
  }

  /** Exit counts per reason since launch, and this vCPU's last exits. */
  private exitsView(m: Machine, vcpu: number): VarNode[] {
    const counts = Object.entries(m.exitCounts()).sort((a, b) => b[1] - a[1]);
    const recent = m.exitTrace().filter((e) => e.vcpu === vcpu).slice(-EXITS_SHOWN).reverse();
    return [
      {
        name: 'counts',
        value: `${counts.reduce((a, [, n]) => a + n, 0)} exits`,
        children: () => counts.map(([name, n]): VarNode => ({ name, value: String(n) })),
      },
      {
        name: 'last exits',
        value: `${recent.length} (newest first)`,
        children: () =>
          recent.map((e, i): VarNode => ({
            name: `[${i}] ${e.exit.reason}`,
            value: `${describeExitInfo(e.exit)}${e.rip !== undefined ? ` at rip 0x${e.rip.toString(16)}` : ''} (+${e.time.toFixed(3)} ms)`,
            ...(e.rip !== undefined ? { memoryReference: '0x' + e.rip.toString(16) } : {}),
          })),
      },
    ];
  }

  /** Object symbols of up to 8 bytes with their current values. */
  private globals(vcpu: number): VarNode[] {
    return this.program
      .allSymbols()
      .filter((s) => s.kind === 'object' && s.size > 0)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s): VarNode => {
        const ref: MemRef = { space: 'virtual', addr: s.value };
        const width = ([1, 2, 4, 8] as const).find((w) => w === s.size);
        if (!width) return { name: s.name, value: `${s.size} bytes at 0x${s.value.toString(16)}`, memoryReference: formatMemoryReference(ref) };
        let value: bigint | string;
        try {
          value = this.access!.readUint(vcpu, ref, width);
        } catch (e) {
          value = `<${e instanceof Error ? e.message : String(e)}>`;
        }
        return {
          name: s.name,
          value,
          bits: width * 8,
          memoryReference: formatMemoryReference(ref),
          evaluateName: `u${width * 8}[${s.name}]`,
          set: (v) => {
            const bytes = new Uint8Array(width);
            for (let i = 0; i < width; i++) bytes[i] = Number((v >> BigInt(8 * i)) & 0xffn);
            if (this.access!.write(vcpu, ref, bytes) !== width) throw new VmscopeError(`${s.name} is not writable`);
          },
        };
      });
  }

  private toVariable(node: VarNode, hex: boolean): DebugProtocol.Variable {
    const v: DebugProtocol.Variable = {
      name: node.name,
      value: typeof node.value === 'bigint' ? formatNumber(node.value, node.bits, hex) : node.value,
      variablesReference: node.children ? this.handles.create({ kind: 'nodes', nodes: node.children }) : 0,
    };
    if (node.memoryReference) v.memoryReference = node.memoryReference;
    if (node.evaluateName) v.evaluateName = node.evaluateName;
    if (!node.set) v.presentationHint = { attributes: ['readOnly'] };
    return v;
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    const c = this.handles.get(args.variablesReference);
    if (!c) {
      response.body = { variables: [] };
      this.sendResponse(response);
      return;
    }
    try {
      const nodes = c.nodes();
      this.shown.set(args.variablesReference, nodes);
      const hex = args.format?.hex ?? this.hexDefault;
      response.body = { variables: nodes.map((n) => this.toVariable(n, hex)) };
      this.sendResponse(response);
    } catch (e) {
      this.sendErrorResponse(response, 3001, e instanceof Error ? e.message : String(e));
    }
  }

  protected override setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): void {
    try {
      const nodes = this.shown.get(args.variablesReference) ?? this.handles.get(args.variablesReference)?.nodes();
      const node = nodes?.find((n) => n.name === args.name);
      if (!node) throw new VmscopeError(`no variable "${args.name}" here`);
      if (!node.set) throw new VmscopeError(node.readOnlyReason ?? `${args.name} is read-only`);
      const value = compile(args.value).evaluate(this.evalContext(this.focus));
      node.set(value);
      this.access?.invalidate();
      this.frames.clear();
      // Re-read so the UI shows what the vCPU now holds.
      const fresh = this.handles.get(args.variablesReference)?.nodes().find((n) => n.name === args.name) ?? node;
      const hex = args.format?.hex ?? this.hexDefault;
      const v = this.toVariable(fresh, hex);
      response.body = { value: v.value, variablesReference: v.variablesReference };
      if (v.memoryReference) response.body.memoryReference = v.memoryReference;
      this.sendResponse(response);
      this.sendEvent(new InvalidatedEvent(['variables', 'stacks']));
    } catch (e) {
      this.sendErrorResponse(response, 3002, e instanceof Error ? e.message : String(e));
    }
  }

  // ---------------------------------------------------------- expressions

  private evalContext(vcpu: number): EvalContext {
    const m = this.requirePaused(vcpu);
    const st = m.vcpuState(vcpu);
    let regs: ReturnType<typeof st.getRegs> | undefined;
    let sregs: ReturnType<typeof st.getSregs> | undefined;
    const access = this.access!;
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
      readVirtual: (addr, width) => read({ space: 'virtual', addr }, width),
      readPhysical: (addr, width) => read({ space: 'physical', addr }, width),
    };
  }

  private evaluateOn(vcpu: number, text: string): bigint {
    return compile(text).evaluate(this.evalContext(vcpu));
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    const vcpu = args.frameId !== undefined ? Math.floor(args.frameId / FRAME_STRIDE) : this.focus;
    const tr = /^\s*translate\s+(.+)$/s.exec(args.expression);
    if (tr) {
      try {
        const t = translateOn(this.requirePaused(vcpu), vcpu, this.evaluateOn(vcpu, tr[1]!));
        const node = translationNodes(`translate ${tr[1]}`, t);
        response.body = { result: formatTranslation(t), variablesReference: this.handles.create({ kind: 'nodes', nodes: node.children! }) };
        this.sendResponse(response);
      } catch (e) {
        this.sendErrorResponse(response, 4003, e instanceof Error ? e.message : String(e));
      }
      return;
    }
    try {
      const value = this.evaluateOn(vcpu, args.expression);
      const hex = args.format?.hex ?? this.hexDefault;
      response.body = {
        result: formatNumber(value, undefined, hex),
        variablesReference: 0,
        memoryReference: formatMemoryReference({ space: 'virtual', addr: value }),
      };
      this.sendResponse(response);
    } catch (e) {
      // Hovering over text that is not an expression is not worth a message.
      if (args.context === 'hover') {
        this.sendErrorResponse(response, { id: 4001, format: e instanceof Error ? e.message : String(e), showUser: false });
        return;
      }
      this.sendErrorResponse(response, 4002, e instanceof Error ? e.message : String(e));
    }
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    const { prefix, start } = completionPrefix(args.text, args.column - 1);
    const bare = prefix.replace(/^\$/, '');
    const regs = [...GPR_NAMES, ...SEGMENT_NAMES, 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', ...Object.keys(SUBREGISTERS)];
    const items: DebugProtocol.CompletionItem[] = [];
    for (const r of regs) if (r.startsWith(bare)) items.push({ label: prefix.startsWith('$') ? `$${r}` : r, type: 'variable' });
    if (!prefix.startsWith('$')) {
      for (const s of this.program.allSymbols()) {
        if (s.name.startsWith(bare) && items.length < 200) items.push({ label: s.name, type: s.kind === 'func' ? 'function' : 'reference' });
      }
    }
    for (const i of items) {
      i.start = start;
      i.length = prefix.length;
    }
    response.body = { targets: items };
    this.sendResponse(response);
  }

  // ----------------------------------------------------------- breakpoints

  /** Pushes the breakpoint plan into every vCPU and plants int3s. */
  private applyBreakpoints(): void {
    const m = this.machine;
    if (!m) return;
    this.plantSoftwareBreakpoints();
    const softWatch = this.bps.softWatches().flatMap((w) => {
      const phys = this.access?.translate(this.focus, w.addr);
      if (phys === undefined) {
        this.console(`watchpoint at 0x${w.addr.toString(16)}: not mapped now, not watched\n`);
        return [];
      }
      return [{ slot: w.slot, physical: Number(phys), len: w.len }];
    });
    m.configureDebug({ ...this.bps.debugConfig(), softWatch });
  }

  /** Guest-physical address -> original byte under an int3 vmscope planted. */
  private planted = new Map<bigint, number>();

  private plantSoftwareBreakpoints(): void {
    const m = this.machine;
    if (!m || !this.access) return;
    const want = new Set<bigint>();
    for (const addr of this.bps.softwareAddresses()) {
      const phys = this.access.translate(this.focus, addr);
      if (phys !== undefined) want.add(phys);
    }
    for (const [phys, orig] of this.planted) {
      if (!want.has(phys)) {
        m.memory.write(Number(phys) as never, Uint8Array.of(orig));
        this.planted.delete(phys);
      }
    }
    for (const phys of want) {
      if (this.planted.has(phys)) continue;
      const orig = m.memory.read(Number(phys) as never, 1)[0]!;
      this.planted.set(phys, orig);
      m.memory.write(Number(phys) as never, Uint8Array.of(0xcc));
    }
  }

  private hideSoftwareBreakpoints(physical: bigint, bytes: Uint8Array): void {
    if (this.planted.size === 0) return;
    for (const [phys, orig] of this.planted) {
      const off = phys - physical;
      if (off >= 0n && off < BigInt(bytes.length)) bytes[Number(off)] = orig;
    }
  }

  private toDap(bp: ManagedBreakpoint): DebugProtocol.Breakpoint {
    const out: DebugProtocol.Breakpoint = { id: bp.id, verified: bp.verified };
    if (bp.message) out.message = bp.message;
    if (bp.line !== undefined) out.line = bp.line;
    if (bp.file) out.source = this.source(bp.file);
    if (bp.addresses[0] !== undefined) out.instructionReference = '0x' + bp.addresses[0].toString(16);
    return out;
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    const file = args.source.path ?? args.source.name ?? '';
    const source: DebugProtocol.SourceBreakpoint[] = args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
    const requests = source.map((b) => ({ line: b.line, condition: b.condition, hitCondition: b.hitCondition, logMessage: b.logMessage }));
    const bps = this.bps.setSource(file, requests, (line) => this.program.resolveLine(file, line));
    this.applyBreakpoints();
    response.body = { breakpoints: bps.map((b) => this.toDap(b)) };
    this.sendResponse(response);
    this.refreshOtherBreakpoints(bps);
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    const bps = this.bps.setFunction(args.breakpoints, (name) => {
      const s = this.program.symbol(name);
      return s && s.kind === 'func' ? this.program.afterPrologue(s) : undefined;
    });
    this.applyBreakpoints();
    response.body = { breakpoints: bps.map((b) => this.toDap(b)) };
    this.sendResponse(response);
    this.refreshOtherBreakpoints(bps);
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    const bps = this.bps.setInstruction(args.breakpoints);
    this.applyBreakpoints();
    response.body = { breakpoints: bps.map((b) => this.toDap(b)) };
    this.sendResponse(response);
    this.refreshOtherBreakpoints(bps);
  }

  /** Hardware slots are shared: a new breakpoint can change whether others fit. */
  private refreshOtherBreakpoints(justSet: readonly ManagedBreakpoint[]): void {
    const ids = new Set(justSet.map((b) => b.id));
    for (const bp of this.bps.all()) if (!ids.has(bp.id)) this.sendEvent(new BreakpointEvent('changed', this.toDap(bp) as DebugProtocol.Breakpoint));
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    const unavailable = (why: string) => {
      response.body = { dataId: null, description: why };
      this.sendResponse(response);
    };
    let addr: bigint | undefined;
    let len: number | undefined;
    let label = args.name;
    try {
      if (args.asAddress) {
        addr = parseMemoryReference(args.name).addr;
        len = args.bytes ?? 8;
      } else {
        const container = args.variablesReference ? this.shown.get(args.variablesReference) : undefined;
        const node = container?.find((n) => n.name === args.name);
        const sym = this.program.symbol(args.name);
        if (node && !node.memoryReference?.length) return unavailable(`${args.name} is not in memory`);
        if (node && node.evaluateName?.startsWith('$')) return unavailable('registers cannot be watched: watch the memory they point to (use an address)');
        if (sym && sym.kind === 'object') {
          addr = sym.value;
          len = args.bytes ?? sym.size;
        } else {
          addr = this.evaluateOn(this.focus, args.name);
          len = args.bytes ?? 8;
          label = `*(u64*)(${args.name})`;
        }
      }
    } catch (e) {
      return unavailable(e instanceof Error ? e.message : String(e));
    }
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return unavailable(`x86 debug registers watch 1, 2, 4 or 8 bytes, not ${len}`);
    if (addr % BigInt(len) !== 0n) return unavailable(`a ${len}-byte watchpoint needs a ${len}-byte aligned address (0x${addr.toString(16)} is not)`);
    response.body = {
      dataId: `0x${addr.toString(16)}/${len}`,
      description: `${label} (${len} bytes at 0x${addr.toString(16)})`,
      accessTypes: ['write', 'readWrite'],
      canPersist: true,
    };
    this.sendResponse(response);
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    const bps = this.bps.setData(
      args.breakpoints.map((b) => ({
        dataId: b.dataId,
        access: b.accessType === 'write' ? 'write' : 'readWrite',
        condition: b.condition,
        hitCondition: b.hitCondition,
      })),
      (id) => {
        const m = /^0x([0-9a-f]+)\/(1|2|4|8)$/.exec(id);
        return m ? { addr: BigInt('0x' + m[1]), len: Number(m[2]) as WatchLength } : undefined;
      },
    );
    for (const b of args.breakpoints.filter((b) => b.accessType === 'read')) this.console(`data breakpoint ${b.dataId}: x86 cannot watch reads alone; watching reads and writes\n`);
    this.applyBreakpoints();
    response.body = { breakpoints: bps.map((b) => this.toDap(b)) };
    this.sendResponse(response);
    this.refreshOtherBreakpoints(bps);
  }

  // ------------------------------------------------------------ memory

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    try {
      this.requirePaused(this.focus);
      const ref = parseMemoryReference(args.memoryReference);
      const start: MemRef = { ...ref, addr: BigInt.asUintN(64, ref.addr + BigInt(args.offset ?? 0)) };
      const bytes = this.access!.read(this.focus, start, args.count);
      response.body = {
        address: formatMemoryReference(start),
        data: Buffer.from(bytes).toString('base64'),
        unreadableBytes: args.count - bytes.length,
      };
      this.sendResponse(response);
    } catch (e) {
      this.sendErrorResponse(response, 5001, e instanceof Error ? e.message : String(e));
    }
  }

  protected override writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): void {
    try {
      this.requirePaused(this.focus);
      const ref = parseMemoryReference(args.memoryReference);
      const start: MemRef = { ...ref, addr: BigInt.asUintN(64, ref.addr + BigInt(args.offset ?? 0)) };
      const data = Buffer.from(args.data, 'base64');
      const written = this.access!.write(this.focus, start, data);
      if (written === 0 && data.length > 0) throw new VmscopeError(`${formatMemoryReference(start)} is not writable guest memory`);
      this.plantSoftwareBreakpoints();
      response.body = { bytesWritten: written };
      this.sendResponse(response);
      this.sendEvent(new MemoryEvent(args.memoryReference, args.offset ?? 0, written));
      this.sendEvent(new InvalidatedEvent(['variables']));
    } catch (e) {
      this.sendErrorResponse(response, 5002, e instanceof Error ? e.message : String(e));
    }
  }

  // --------------------------------------------------------- disassembly

  private instructionAt(vcpu: number, pc: bigint, bits: Bitness): DecodedInstruction | undefined {
    const bytes = this.access!.read(vcpu, { space: 'virtual', addr: pc }, 15);
    return bytes.length ? decode(bytes, pc, bits, 1)[0] : undefined;
  }

  protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    try {
      const m = this.requirePaused(this.focus);
      const { bits } = this.pcOf(m, this.focus);
      const base = BigInt.asUintN(64, parseMemoryReference(args.memoryReference).addr + BigInt(args.offset ?? 0));
      const want = args.instructionCount;
      const syntax = this.args?.disassemblySyntax ?? 'intel';
      const symbolize = (a: bigint) => this.program.symbolize(a);
      const decodeFrom = (start: bigint, count: number, maxBytes = count * 15): DecodedInstruction[] => {
        const bytes = this.access!.read(this.focus, { space: 'virtual', addr: start }, Math.min(maxBytes, count * 15));
        return bytes.length ? decode(bytes, start, bits, count, { syntax, symbolize }) : [];
      };
      const offset = args.instructionOffset ?? 0;
      const { before, from } = disassemblyWindow(base, offset, want, decodeFrom, (a) => this.program.functionStart(a));
      // Placeholders where nothing could be decoded, so that VS Code gets the count it asked for: before the first
      // decoded instruction (at descending addresses), and after the last.
      const negative = Math.max(0, Math.min(offset + want, 0) - offset);
      const list: DecodedInstruction[] = [...before, ...from];
      const placeholder = (address: bigint): DecodedInstruction => ({ address, bytes: new Uint8Array(), length: 1, text: '??', mnemonic: '??', kind: 'other', nextAddress: address + 1n, invalid: true });
      for (let k = before.length; k < negative; k++) {
        const low = list[0]?.address ?? base;
        list.unshift(placeholder(low > 0n ? low - 1n : 0n));
      }
      let lastFile: string | undefined;
      const instructions = list.slice(0, want).map((i): DebugProtocol.DisassembledInstruction => {
        const d: DebugProtocol.DisassembledInstruction = {
          address: '0x' + i.address.toString(16),
          instruction: i.text,
          instructionBytes: Array.from(i.bytes, (b) => b.toString(16).padStart(2, '0')).join(' '),
        };
        const hit = this.program.symbols.lookup(i.address);
        if (hit && hit.offset === 0n) d.symbol = hit.symbol.name;
        const loc = this.program.location(i.address);
        if (loc) {
          if (loc.file !== lastFile) d.location = this.source(loc.file);
          lastFile = loc.file;
          d.line = loc.line;
          if (loc.column) d.column = loc.column;
        }
        if (i.invalid) d.presentationHint = 'invalid';
        return d;
      });
      while (instructions.length < want) {
        const last = instructions[instructions.length - 1];
        const next = last ? BigInt(last.address) + 1n : base;
        instructions.push({ address: '0x' + next.toString(16), instruction: '??', presentationHint: 'invalid' });
      }
      response.body = { instructions };
      this.sendResponse(response);
    } catch (e) {
      this.sendErrorResponse(response, 6001, e instanceof Error ? e.message : String(e));
    }
  }

  // ------------------------------------------------------------- custom

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (command === 'exitTrace' || command === 'exportExitTrace') {
      const m = this.machine;
      const max = Math.min(Number((args as { max?: number } | undefined)?.max ?? 4096), 65536);
      const entries = m ? m.exitTrace(max) : [];
      if (command === 'exitTrace') {
        response.body = {
          counts: m?.exitCounts() ?? {},
          exits: entries.map((e) => ({
            time: e.time,
            vcpu: e.vcpu,
            reason: e.exit.reason,
            kvmExit: e.code,
            rip: e.rip !== undefined ? '0x' + e.rip.toString(16) : undefined,
            detail: describeExitInfo(e.exit),
          })),
        };
      } else {
        response.body = { traceEvents: toTraceEvents(entries, this.spec?.name ?? 'vmscope') };
      }
      this.sendResponse(response);
      return;
    }
    if (command === 'translate') {
      const a = (args ?? {}) as { address?: string; vcpu?: number; access?: { write?: boolean; user?: boolean; execute?: boolean } };
      try {
        const vcpu = a.vcpu ?? this.focus;
        const m = this.requirePaused(vcpu);
        if (!a.address) throw new VmscopeError('translate needs "address": an expression or a memory reference');
        const addr = /^\s*(gva:)?0x[0-9a-f_]+\s*$/i.test(a.address) ? parseMemoryReference(a.address).addr : this.evaluateOn(vcpu, a.address);
        response.body = translationJson(translateOn(m, vcpu, addr, a.access));
        this.sendResponse(response);
      } catch (e) {
        this.sendErrorResponse(response, 7002, e instanceof Error ? e.message : String(e));
      }
      return;
    }
    if (command === 'vmInfo') {
      response.body = this.vmInfo();
      this.sendResponse(response);
      return;
    }
    if (command !== 'serialInput') {
      this.sendErrorResponse(response, 7001, `unknown request "${command}"`);
      return;
    }
    const a = (args ?? {}) as SerialInputArguments;
    const bytes = a.bytes ? Uint8Array.from(a.bytes) : Buffer.from(a.text ?? '', 'latin1');
    const accepted = this.machine?.serialInput(bytes) ?? 0;
    response.body = { accepted };
    this.sendResponse(response);
  }

  /**
   * The Source for a file named in the image's line tables, as the user's editor should open it. A guest built in one
   * directory and debugged from a copy (another checkout, a CI artifact) names files where it was built: when the
   * spec's own directory holds the same file under the same trailing path, with the same contents or where the built
   * path no longer exists, the user's copy is shown, so that stops land in the files their breakpoints are in.
   */
  private source(file: string): Source {
    let shown = this.shownPaths.get(file);
    if (shown === undefined) {
      shown = localCopy(file, this.spec?.dir) ?? file;
      this.shownPaths.set(file, shown);
    }
    return new Source(path.basename(shown), shown);
  }

  /**
   * What the client's VM view shows: the vCPUs (state, and for stopped ones mode, CPL and rip), the memory map, the
   * devices and exit counts. Safe to ask while the guest runs (registers are read from stopped vCPUs only).
   */
  private vmInfo(): object {
    const m = this.machine;
    const spec = this.spec;
    const vcpus = [];
    for (let i = 0; i < (m?.vcpuCount ?? 0); i++) {
      const state = m!.vcpuRunState(i);
      let cpu: { mode: string; cpl: number; rip: string } | undefined;
      if (state === 'paused') {
        try {
          const st = m!.vcpuState(i);
          const r = st.getRegs();
          const sr = st.getSregs();
          cpu = { mode: cpuModeName(sr), cpl: sr.cs.selector & 3, rip: '0x' + (sr.cs.base + r.rip).toString(16) };
        } catch {
          // The vCPU resumed between the two reads: show it without registers.
        }
      }
      vcpus.push({ id: i, state, focus: i === this.focus, ...cpu });
    }
    let memory: object[] = [];
    try {
      memory = spec ? memoryLayout(spec).map((e) => ({ name: e.name, kind: e.kind, gpa: '0x' + e.gpa.toString(16), size: e.size })) : [];
    } catch {
      // A layout the builder refused never ran; nothing to show.
    }
    return {
      name: spec?.name,
      spec: spec?.file,
      backend: this.backend,
      accel: m ? { name: m.backendName, description: m.backendDescription, capabilities: m.capabilities } : undefined,
      state: !m ? 'none' : this.ended ? 'ended' : this.runState,
      vcpus,
      memory,
      devices: spec ? deviceConfigs(spec).map((d) => ({ name: d.name, kind: d.kind, port: '0x' + d.port.toString(16) })) : [],
      // By the names exit breakpoints use (io, mmio, hlt, ...); KVM's name for exits no filter covers.
      exitCounts: Object.fromEntries(Object.entries(m?.exitCounts() ?? {}).map(([kvm, n]) => [FILTER_BY_KVM_NAME.get(kvm) ?? kvm, n])),
      exitFilters: this.exitSpecs.map((x) => x.id),
    };
  }

  // ------------------------------------------------------------- the end

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    await this.machine?.stop();
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    await this.machine?.stop();
    this.sendResponse(response);
  }
}
