// The DAP session: translates DAP requests into Machine calls and Machine
// events into DAP events. It holds no VM logic. This is the foundation's
// adapter (launch, run, pause, continue, vCPU threads, registers, serial
// output); stepping, breakpoints and the rest build on it.

import {
  DebugSession,
  ExitedEvent,
  InitializedEvent,
  OutputEvent,
  Scope,
  StackFrame,
  StoppedEvent,
  TerminatedEvent,
  Thread,
  ContinuedEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import { loadSpecFile, formatDiagnostic } from '../spec/load';
import { buildMachine } from '../vmm/builder';
import type { Machine } from '../vmm/machine';
import { describeRunEnd } from '../vmm/exits';
import { GPR_NAMES } from '../vmm/kvm/structs';
import { VmscopeError } from '../vmm/errors';
import { SymbolIndex } from './symbols';

export interface LaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** Path of the .vmspec to run. */
  spec: string;
  /** Stop every vCPU before its first instruction (default true). */
  stopOnEntry?: boolean;
  /** Stop the VM after this many seconds. */
  timeout?: number;
}

const REGISTERS_REF = 1;

export class VmscopeSession extends DebugSession {
  private machine: Machine | undefined;
  private symbols = new SymbolIndex([]);
  private configured!: () => void;
  private readonly configurationDone = new Promise<void>((resolve) => (this.configured = resolve));
  private firstStop = new Set<number>();
  private stopOnEntry = true;

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsTerminateRequest: true,
    };
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configured();
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: LaunchArguments): Promise<void> {
    if (!args.spec) {
      this.sendErrorResponse(response, 1001, 'launch needs "spec": the path of a .vmspec file');
      return;
    }
    const file = path.resolve(args.spec);
    const loaded = loadSpecFile(file);
    if (!loaded.spec) {
      const lines = loaded.diagnostics.map((d) => formatDiagnostic(file, d));
      this.sendErrorResponse(response, 1002, lines.join('\n') || `cannot load ${file}`);
      return;
    }
    let machine: Machine;
    try {
      const built = buildMachine(loaded.spec);
      machine = built.machine;
      for (const w of built.warnings) this.sendEvent(new OutputEvent(`warning: ${w}\n`, 'console'));
    } catch (e) {
      this.sendErrorResponse(response, 1003, e instanceof VmscopeError ? e.message : `internal error: ${String(e)}`);
      return;
    }
    this.machine = machine;
    this.symbols = new SymbolIndex(machine.image.symbols);
    this.stopOnEntry = args.stopOnEntry ?? true;
    for (let i = 0; i < machine.vcpuCount; i++) this.firstStop.add(i);
    machine.on('serial', (bytes) => this.sendEvent(new OutputEvent(Buffer.from(bytes).toString('latin1'), 'stdout')));
    machine.on('stopped', (vcpu, stop) => {
      const entry = this.firstStop.delete(vcpu) && this.stopOnEntry;
      const reason = entry ? 'entry' : stop.kind === 'pause' ? 'pause' : 'step';
      this.sendEvent(new StoppedEvent(reason, vcpu));
    });
    machine.on('end', (result) => {
      this.sendEvent(new OutputEvent(`vmscope: ${describeRunEnd(result.end)}\n`, 'console'));
      const end = result.end;
      const code = end.kind === 'vcpu' && end.end.kind === 'debug-exit' ? end.end.status : 1;
      this.sendEvent(new ExitedEvent(code));
      this.sendEvent(new TerminatedEvent());
    });
    this.sendResponse(response);
    await this.configurationDone;
    void machine.start({ paused: this.stopOnEntry, timeoutMs: args.timeout ? args.timeout * 1000 : undefined });
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const n = this.machine?.vcpuCount ?? 0;
    response.body = { threads: Array.from({ length: n }, (_, i) => new Thread(i, `vCPU ${i}`)) };
    this.sendResponse(response);
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse, args: DebugProtocol.PauseArguments): void {
    this.machine?.pause(args.threadId);
    this.sendResponse(response);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    this.machine?.resume();
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    this.sendEvent(new ContinuedEvent(0, true));
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const m = this.machine;
    if (!m || m.vcpuRunState(args.threadId) !== 'paused') {
      response.body = { stackFrames: [], totalFrames: 0 };
      this.sendResponse(response);
      return;
    }
    const rip = m.vcpuState(args.threadId).getRegs().rip;
    const frame = new StackFrame(args.threadId * 1000, this.symbols.describe(rip));
    frame.instructionPointerReference = `0x${rip.toString(16)}`;
    response.body = { stackFrames: [frame], totalFrames: 1 };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    const vcpu = Math.floor(args.frameId / 1000);
    response.body = { scopes: [new Scope('General registers', REGISTERS_REF + vcpu * 16, false)] };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    const vcpu = Math.floor((args.variablesReference - REGISTERS_REF) / 16);
    const m = this.machine;
    if (!m || m.vcpuRunState(vcpu) !== 'paused') {
      response.body = { variables: [] };
      this.sendResponse(response);
      return;
    }
    const regs = m.vcpuState(vcpu).getRegs();
    response.body = {
      variables: GPR_NAMES.map((name) => ({
        name,
        value: `0x${regs[name].toString(16).padStart(16, '0')}`,
        variablesReference: 0,
        memoryReference: name === 'rip' || name === 'rsp' || name === 'rbp' ? `0x${regs[name].toString(16)}` : undefined,
      })),
    };
    this.sendResponse(response);
  }

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    await this.machine?.stop();
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    await this.machine?.stop();
    this.sendResponse(response);
  }
}
