// The DAP router: each request goes to the module that owns it, and errors
// become error responses with the message a user should read. The modules
// work without DAP plumbing and are tested on their own:
//   lifecycle.ts            launch, start, restart, the end
//   stop-policy.ts          what a vCPU stop becomes (all-stop, hit counts, logpoints)
//   stepping.ts             DAP steps as resume plans
//   variables.ts            scopes, variables, setVariable
//   expressions.ts          evaluate (and `translate <expr>`), completions
//   memory-requests.ts      readMemory, writeMemory, disassemble
//   breakpoint-requests.ts  every kind of breakpoint, exit filters
//   custom-requests.ts      vmscope's own requests (vmInfo, translate, exitTrace, startGdbServer, ...)
//   gdb-bridge.ts           a gdb stub on the session's machine (gdbServer, startGdbServer)
//   request-arguments.ts    each request's argument shapes, checked before any handler runs
// Software breakpoints (planting, hiding, stepping off) are the machine's
// (vmm/sw-breakpoints.ts), so every front end shares them.

import { CapabilitiesEvent, ContinuedEvent, DebugSession, InitializedEvent, Response, StackFrame, Thread } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { hex } from '../common/address';
import { userErrorMessage, VmscopeError } from '../vmm/errors';
import type { ResumeHow } from '../vmm/debug';
import { VmContext, FRAME_STRIDE } from './context';
import { isGuestReset, launch, restart, start, type LaunchArguments, type MachineListeners } from './lifecycle';
import { StopPolicy } from './stop-policy';
import { Stepper, type StepKind } from './stepping';
import { VariablesView } from './variables';
import { completions, evaluate } from './expressions';
import { disassemble, memoryWrittenEvents, readMemory, writeMemory } from './memory-requests';
import { applyBreakpoints, BreakpointRequests, exitFilters, setExitFilters } from './breakpoint-requests';
import { customRequest, isCustomRequest } from './custom-requests';
import { checkArguments } from './request-arguments';
import { ioExitPc } from './vmcs-view';
import { GdbBridge } from './gdb-bridge';
import { gdbServerAddress } from './launch-arguments';
import type { Frame } from './unwind';

export type { LaunchArguments } from './lifecycle';

/** The message of anything thrown, for an error response. */
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class VmscopeSession extends DebugSession {
  private readonly ctx = new VmContext((event) => this.sendEvent(event));
  private readonly stepper = new Stepper(this.ctx);
  private readonly variables = new VariablesView(this.ctx);
  private readonly stops = new StopPolicy(this.ctx, this.stepper, () => this.variables.reset());
  private readonly breakpoints = new BreakpointRequests(this.ctx);
  private readonly gdb = new GdbBridge(this.ctx);
  private readonly machineListeners: MachineListeners = {
    stopped: (machine, vcpu, stop) => this.stops.onStopped(machine, vcpu, stop),
    resumed: (machine, vcpu) => {
      // Someone else (a gdb client) ran the VM while the UI showed it stopped: the UI shows it running.
      if (machine !== this.ctx.machine || this.ctx.runState !== 'stopped' || this.ctx.ended) return;
      this.forgetStop();
      this.stepper.cancel();
      this.stops.dropHeld(vcpu);
      this.ctx.runState = 'running';
      this.sendEvent(new ContinuedEvent(vcpu ?? this.ctx.focus, vcpu === undefined));
    },
    ended: (machine, result) => {
      // A guest that resets the machine, with devices.i8042.on-reset: reset, gets a fresh machine, as the restart request gives one.
      if (machine === this.ctx.machine && !this.ctx.restarting && isGuestReset(this.ctx.spec, result)) {
        this.ctx.console('vmscope: the guest reset the machine; restarting it (devices.i8042.on-reset: reset)\n');
        void this.serialized(() => this.restartMachine()).catch((e: unknown) => this.ctx.console(`vmscope: the restart failed: ${e instanceof Error ? e.message : String(e)}\n`));
        return;
      }
      this.stops.onEnd(machine, result);
    },
  };
  private configured!: () => void;
  private readonly configurationDone = new Promise<void>((resolve) => (this.configured = resolve));
  /** Filters the spec asks for (debug.break-on-exit); set before initialize answers. */
  private defaultExitFilters: readonly string[] = [];
  constructor(...args: ConstructorParameters<typeof DebugSession>) {
    super(...args);
    // The library ends the session on any 'error' event, one message it could not parse included: a stray line of
    // garbage on the connection would end a debug session. Only a broken stream ends it; a bad message is logged.
    this.removeAllListeners('error');
    this.on('error', (e: DebugProtocol.Event) => {
      const text = String(e.body ?? '');
      if (text.startsWith('Error handling data')) process.stderr.write(`vmscope: ignored a message that is not a DAP request (${text.slice(0, 200)})\n`);
      else this.shutdown();
    });
  }

  /** Where the session is: a second launch is refused, and nothing starts a machine once it ended. */
  private phase: 'new' | 'launched' | 'ended' = 'new';
  /**
   * Restart, terminate and disconnect (and a guest reset's restart) run one at a time, in order: two restarts at once
   * would each build a machine and leave one running, and a terminate during a restart would stop the old machine
   * while the new one starts.
   */
  private lifecycleQueue: Promise<unknown> = Promise.resolve();

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lifecycleQueue.then(fn, fn);
    this.lifecycleQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * Every request's arguments are checked against the protocol's shapes first (request-arguments.ts): a malformed
   * request gets one line naming the field instead of reaching a handler that trusts the types.
   */
  protected override dispatchRequest(request: DebugProtocol.Request): void {
    const problem = checkArguments(String(request.command), request.arguments);
    if (problem) {
      this.sendErrorResponse(new Response(request), 1005, problem);
      return;
    }
    super.dispatchRequest(request);
  }

  /**
   * The library answers a handler that threw with its stack as the message (id 1104): the user gets one line, and
   * the stack goes to the adapter's log (stderr), where a bug report can quote it.
   */
  protected override sendErrorResponse(
    response: DebugProtocol.Response,
    codeOrMessage: number | DebugProtocol.Message,
    format?: string,
    // The library's own type for these substitution variables is `any`.
    variables?: Record<string, unknown>,
    dest?: Parameters<DebugSession['sendErrorResponse']>[4],
  ): void {
    if (codeOrMessage === 1104 && variables && '_exception' in variables) {
      process.stderr.write(`vmscope debug adapter: ${response.command}: ${String(variables._stack ?? variables._exception)}\n`);
      super.sendErrorResponse(response, 1104, `internal error in vmscope's debug adapter on "${response.command}": ${String(variables._exception).split('\n')[0]} (please report it; the adapter's log has the details)`);
      return;
    }
    super.sendErrorResponse(response, codeOrMessage as number, format, variables, dest);
  }

  /** The client went away (its stream closed) or asked to disconnect: the machine stops with it. */
  override shutdown(): void {
    this.phase = 'ended';
    void this.ctx.machine?.stop();
    super.shutdown();
  }

  /** Answers a request with `body()`'s result, or with an error response carrying its message. */
  private reply<R extends DebugProtocol.Response>(response: R, code: number, body: () => R['body']): void {
    try {
      response.body = body();
      this.sendResponse(response);
    } catch (e) {
      this.sendErrorResponse(response, code, messageOf(e));
    }
  }

  // ---------------------------------------------------------- lifecycle

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
      exceptionBreakpointFilters: exitFilters(this.defaultExitFilters),
      supportsExceptionFilterOptions: true,
      breakpointModes: [
        { mode: 'break', label: 'Break', appliesTo: ['exception'] },
        { mode: 'log', label: 'Log', description: 'Log each matching exit in the Debug Console without stopping', appliesTo: ['exception'] },
      ],
    };
    this.sendResponse(response);
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: LaunchArguments): Promise<void> {
    if (!args.spec) {
      this.sendErrorResponse(response, 1001, 'launch needs "spec": the path of a .vmspec file');
      return;
    }
    if (this.phase !== 'new') {
      this.sendErrorResponse(response, 1006, this.phase === 'ended' ? 'this debug session has ended; start a new one' : 'this debug session already launched a VM; use restart, or start a new debug session');
      return;
    }
    this.phase = 'launched';
    try {
      this.defaultExitFilters = launch(this.ctx, args, this.machineListeners);
    } catch (e) {
      // A launch that failed may be tried again, with other arguments; a machine it built is stopped.
      void this.ctx.machine?.stop();
      this.ctx.machine = undefined;
      this.ctx.access = undefined;
      this.phase = 'new';
      this.sendErrorResponse(response, 1002, userErrorMessage(e) ?? `internal error: ${String(e)}`);
      return;
    }
    if (args.gdbServer !== undefined) {
      try {
        await this.gdb.start(gdbServerAddress(args.gdbServer));
      } catch (e) {
        await this.ctx.machine?.stop();
        this.sendErrorResponse(response, 1005, messageOf(e));
        return;
      }
    }
    this.sendResponse(response);
    if (this.defaultExitFilters.length) this.sendEvent(new CapabilitiesEvent({ exceptionBreakpointFilters: exitFilters(this.defaultExitFilters) }));
    // Breakpoints arrive after `initialized`; the VM starts after configurationDone.
    this.sendEvent(new InitializedEvent());
    await this.configurationDone;
    // Terminated or disconnected before configurationDone: the machine was never started, and must not be now.
    if (this.phase !== 'launched') return;
    this.stops.entryPending = start(this.ctx, () => applyBreakpoints(this.ctx));
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configured();
  }

  protected override async restartRequest(response: DebugProtocol.RestartResponse): Promise<void> {
    try {
      await this.serialized(() => this.restartMachine());
    } catch (e) {
      this.sendErrorResponse(response, this.ctx.machine ? 1004 : 1003, userErrorMessage(e) ?? `internal error: ${String(e)}`);
      return;
    }
    this.sendResponse(response);
  }

  /** A fresh machine from the same spec, started as the launch said (stopped at entry or running). */
  private async restartMachine(): Promise<void> {
    if (this.phase === 'ended') throw new VmscopeError('this debug session has ended; start a new one');
    await restart(this.ctx, this.machineListeners);
    this.stops.dropHeld();
    this.gdb.machineReplaced();
    this.stops.entryPending = start(this.ctx, () => applyBreakpoints(this.ctx));
    if (!this.stops.entryPending) this.sendEvent(new ContinuedEvent(0, true));
  }

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    this.gdb.close();
    await this.serialized(async () => {
      // A machine built but not started (terminate before configurationDone) is never started.
      if (this.phase === 'launched' && !this.ctx.machine?.started) this.phase = 'ended';
      await this.ctx.machine?.stop();
    });
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    this.gdb.close();
    await this.serialized(async () => {
      this.phase = 'ended';
      await this.ctx.machine?.stop();
    });
    this.sendResponse(response);
    // The session is over: an adapter on stdio exits (after the response is out); one serving a port keeps serving.
    this.shutdown();
  }

  // -------------------------------------------------------- run control

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const n = this.ctx.machine?.vcpuCount ?? 0;
    response.body = { threads: Array.from({ length: n }, (_, i) => new Thread(i, `vCPU ${i}`)) };
    this.sendResponse(response);
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    // A gdb client waiting for its continue to stop hears of this pause as of its own Ctrl-C.
    this.gdb.interrupt();
    this.ctx.machine?.pause();
    this.sendResponse(response);
  }

  protected override async continueRequest(response: DebugProtocol.ContinueResponse): Promise<void> {
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    this.forgetStop();
    this.stepper.cancel();
    this.ctx.runState = 'running';
    const machine = this.ctx.machine;
    // A vCPU that stopped at its own breakpoint while the VM was stopped is reported now, and nothing runs.
    if (!machine || this.stops.reportHeld(machine)) return;
    await machine.resume();
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    this.step(response, args.threadId, 'over', args.granularity);
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    this.step(response, args.threadId, 'in', args.granularity);
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    this.step(response, args.threadId, 'out', args.granularity);
  }

  private step(response: DebugProtocol.Response, vcpu: number, kind: StepKind, granularity?: DebugProtocol.SteppingGranularity): void {
    let how: ResumeHow;
    try {
      this.ctx.requirePaused(vcpu);
      how = this.stepper.planStep(vcpu, kind, granularity ?? 'statement');
    } catch (e) {
      this.sendErrorResponse(response, 2001, messageOf(e));
      return;
    }
    this.forgetStop();
    this.stops.dropHeld(vcpu);
    this.ctx.focus = vcpu;
    this.ctx.runState = 'running';
    // Start the vCPU first: the response goes out while it runs.
    void this.ctx.machine!.resume(vcpu, how);
    this.sendResponse(response);
  }

  private forgetStop(): void {
    this.ctx.forgetStopState();
    this.variables.reset();
  }

  // ------------------------------------------------------------ the stack

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const ctx = this.ctx;
    let frames: Frame[];
    try {
      ctx.requirePaused(args.threadId);
      frames = ctx.unwind(args.threadId);
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
    if (start === 0 && ctx.exitStop?.io && ctx.exitStop.vcpu === args.threadId && ctx.access) {
      try {
        exitPc = ioExitPc(ctx.machine!, args.threadId, ctx.access);
      } catch {
        exitPc = undefined;
      }
    }
    const out: StackFrame[] = [];
    for (let i = start; i < start + count; i++) {
      const f = frames[i]!;
      const pc = i === 0 && exitPc !== undefined ? exitPc : f.pc;
      // A return address points after the call: look up the call's line. An interrupted frame's pc is the
      // instruction the interrupt will return to.
      const at = i === 0 || f.interrupted ? pc : pc - 1n;
      const loc = ctx.program.location(at);
      const name = (ctx.program.symbolize(pc) ?? hex(pc)) + (pc !== f.pc ? ` (I/O exit; rip ${hex(f.pc)})` : '') + (f.interrupted ? ' [interrupted]' : '');
      const frame = new StackFrame(args.threadId * FRAME_STRIDE + i, name, loc ? ctx.source(loc.file) : undefined, loc?.line ?? 0, loc?.column ?? 0);
      frame.instructionPointerReference = hex(pc);
      if (!loc) frame.presentationHint = 'subtle';
      out.push(frame);
    }
    response.body = { stackFrames: out, totalFrames: frames.length };
    this.sendResponse(response);
  }

  // ------------------------------------------------- variables, expressions

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    response.body = { scopes: this.variables.scopes(args.frameId) };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    this.reply(response, 3001, () => ({ variables: this.variables.variables(args.variablesReference, args.format?.hex) }));
  }

  protected override setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): void {
    this.reply(response, 3002, () => this.variables.setVariable(args));
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    try {
      response.body = evaluate(this.ctx, this.variables, args);
      this.sendResponse(response);
    } catch (e) {
      if (/^\s*translate\s/.test(args.expression)) this.sendErrorResponse(response, 4003, messageOf(e));
      // Hovering over text that is not an expression is not worth a message.
      else if (args.context === 'hover') this.sendErrorResponse(response, { id: 4001, format: messageOf(e), showUser: false });
      else this.sendErrorResponse(response, 4002, messageOf(e));
    }
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    response.body = { targets: completions(this.ctx, args) };
    this.sendResponse(response);
  }

  // ----------------------------------------------------------- breakpoints

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    response.body = { breakpoints: setExitFilters(this.ctx, args) };
    this.sendResponse(response);
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    response.body = { breakpoints: this.breakpoints.setSource(args) };
    this.sendResponse(response);
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    response.body = { breakpoints: this.breakpoints.setFunction(args) };
    this.sendResponse(response);
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    response.body = { breakpoints: this.breakpoints.setInstruction(args) };
    this.sendResponse(response);
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    response.body = this.breakpoints.dataBreakpointInfo(args, (ref) => this.variables.shownUnder(ref));
    this.sendResponse(response);
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    response.body = { breakpoints: this.breakpoints.setData(args) };
    this.sendResponse(response);
  }

  // ------------------------------------------------- memory, disassembly

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    this.reply(response, 5001, () => readMemory(this.ctx, args));
  }

  protected override writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): void {
    let body: DebugProtocol.WriteMemoryResponse['body'];
    try {
      body = writeMemory(this.ctx, args);
    } catch (e) {
      this.sendErrorResponse(response, 5002, messageOf(e));
      return;
    }
    response.body = body;
    this.sendResponse(response);
    for (const ev of memoryWrittenEvents(args, body?.bytesWritten ?? 0)) this.sendEvent(ev);
  }

  protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    this.reply(response, 6001, () => {
      this.ctx.requirePaused(this.ctx.focus);
      return { instructions: disassemble(this.ctx, args) };
    });
  }

  // ------------------------------------------------------------- custom

  protected override async customRequest(command: string, response: DebugProtocol.Response, args: unknown): Promise<void> {
    if (!isCustomRequest(command)) {
      this.sendErrorResponse(response, 7001, `unknown request "${command}"`);
      return;
    }
    try {
      response.body = await customRequest(this.ctx, command, args, this.gdb);
      this.sendResponse(response);
    } catch (e) {
      this.sendErrorResponse(response, 7002, messageOf(e));
    }
  }
}
