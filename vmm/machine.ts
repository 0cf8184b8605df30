// A running VM as the main thread sees it: one worker thread per vCPU running
// the synchronous loop, device events and stops arriving as typed events, and
// control (pause, resume, kick, stop) through shared control words. Knows
// nothing of DAP, LSP or VS Code.

import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { VmSpec } from '../vmspec/types';
import { gpa, gva, isGpa, type Gpa, type Gva } from '../common/address';
import { kvmExitName } from './kvm/constants';
import { loadNative } from './kvm/native';
import type { LoadedImage } from './loaders';
import { releaseGuestMemory, type GuestMemory } from './memory';
import { createDevice, deviceStateBytes, uartEnqueue, type Device, type DeviceConfig, type DeviceEvent, type DeviceView } from './devices';
import { busContext, Bus, NO_MEMORY } from './devices/bus';
import type { UnclaimedAccess } from './devices/bus';
import { Cmd, Ctl, MAX_EXIT_CODE, State } from './loop/control';
import type { VcpuLoopConfig } from './vcpu-loop';
import type { VcpuStateApi } from './vcpu-state';
import type { BackendCapabilities, BackendImplementation, BackendName, MachineBackend } from './backend';
import { EmuMachine } from './emu/machine';
import type { RunEnd, RunResult, VcpuEnd, VcpuStop, WorkerMessage } from './exits';
import type { DebugConfig, ResumeHow, VcpuCommand } from './debug';
import { SoftwareBreakpoints } from './sw-breakpoints';
import { DEFAULT_OWNER, DebugOwners, type DebugOwner } from './debug-owners';
import { TraceRing, traceBytes, type ExitFilterSpec, type TraceEntry } from './exit-trace';

export interface MachineParts {
  spec: VmSpec;
  /** What runs the guest code: KVM or the emulator. */
  backend: MachineBackend;
  vcpuCount: number;
  memory: GuestMemory;
  image: LoadedImage;
  entry: Gva;
  devices: DeviceConfig[];
  mmioRegions: Array<{ name: string; gpa: number; size: number }>;
  /** Entries in each vCPU's exit trace ring (default TRACE_CAPACITY). */
  traceCapacity?: number;
}

export interface MachineEvents {
  /** Bytes the guest wrote to a serial device. */
  serial: [bytes: Uint8Array, device: string];
  /** Any device event (serial output included). */
  device: [event: DeviceEvent];
  /** A vCPU paused (it can be resumed); not emitted for a stop the stop filter resumed (setStopFilter). */
  stopped: [vcpu: number, stop: VcpuStop];
  /** vCPUs were told to run (`vcpu` undefined: all of them), by whichever front end called resume. */
  resumed: [vcpu: number | undefined, how: ResumeHow];
  /** An exit logpoint matched (or an exit condition failed to evaluate). */
  'exit-log': [vcpu: number, filter: string, text: string];
  /** A vCPU finished for good. */
  'vcpu-end': [vcpu: number, end: VcpuEnd];
  /** The machine ended and released its resources. */
  end: [result: RunResult];
}

export type VcpuRunState = 'created' | 'running' | 'paused' | 'finished';

interface VcpuHandle {
  index: number;
  control: Int32Array;
  controlBuf: SharedArrayBuffer;
  counters: Float64Array;
  countersBuf: SharedArrayBuffer;
  worker?: Worker;
  exited: Promise<void>;
  end?: VcpuEnd;
  unclaimed: UnclaimedAccess[];
  loopMs: number;
  /** Our end of the vCPU's command port; the other end lives in its thread. */
  commands: MessagePort;
  trace: TraceRing;
  workerCommands: MessagePort;
  /** Our end of the vCPU's report port (WorkerMessage: stops, device events, its end); the other end lives in its thread. */
  reports: MessagePort;
  workerReports: MessagePort;
  /**
   * Whether the machine has handled the vCPU's report of its latest stop (or
   * end). Its thread marks it paused just before it posts the report, so a
   * paused vCPU whose report is still in flight reads false.
   */
  reported: boolean;
  /** Set while the vCPU steps off an int3 for a continue: its next stop is vmscope's own. */
  steppingOff?: (stop: VcpuStop) => void;
  /** An int3 lifted for this vCPU's step, planted again at its next stop. */
  liftedForStep?: Gpa;
  /** The backend's state access for this vCPU (vcpuState), made on first use. */
  state?: VcpuStateApi;
}

/**
 * Whether a thread of this process may spin while it waits for another
 * thread or process (Machine.pollReports, the gdb stub's socket poll): only
 * with two or more CPUs, since on one the spin holds the CPU the other needs.
 */
export const SPINNING_PAYS = os.availableParallelism() >= 2;

/** Where the vCPU worker script lives: next to this module, in out/vmm/ and in dist/. */
function workerScript(): string {
  return path.join(__dirname, 'vcpu-worker.js');
}

export class Machine extends EventEmitter<MachineEvents> {
  readonly spec: VmSpec;
  readonly memory: GuestMemory;
  /** The int3s debuggers planted (one set per machine: guest memory is shared by every vCPU). */
  readonly breakpoints: SoftwareBreakpoints;
  /** Each front end's breakpoints, watchpoints and exit filters; the vCPUs run their union (debug-owners.ts). */
  readonly debugOwners: DebugOwners;
  /** Sees each stop before the 'stopped' event; true means it resumed the vCPU and nobody else hears of the stop. */
  private stopFilter: ((vcpu: number, stop: VcpuStop) => boolean) | undefined;
  readonly image: LoadedImage;
  readonly entry: Gva;
  private readonly vcpus: VcpuHandle[];
  private readonly deviceState = new Map<string, SharedArrayBuffer>();
  private ending: RunEnd | undefined;
  private startedAt = 0;
  private startedEpoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private resultPromise: Promise<RunResult> | undefined;
  private released = false;

  constructor(private readonly parts: MachineParts) {
    super();
    this.spec = parts.spec;
    this.memory = parts.memory;
    this.breakpoints = new SoftwareBreakpoints(parts.memory);
    this.debugOwners = new DebugOwners(parts.backend.capabilities.maxHardwareBreakpoints);
    this.image = parts.image;
    this.entry = parts.entry;
    for (const d of parts.devices) this.deviceState.set(d.name, new SharedArrayBuffer(Math.max(8, deviceStateBytes(d))));
    const backend = parts.backend;
    if (backend.memoryWritten) parts.memory.onWrite((gpa, len) => backend.memoryWritten!(gpa, len));
    this.vcpus = Array.from({ length: parts.vcpuCount }, (_, index) => {
      const controlBuf = new SharedArrayBuffer(Ctl.WORDS * 4);
      const countersBuf = new SharedArrayBuffer((MAX_EXIT_CODE + 1) * 8);
      const channel = new MessageChannel();
      const reports = new MessageChannel();
      return {
        trace: new TraceRing(new SharedArrayBuffer(traceBytes(parts.traceCapacity))),
        commands: channel.port1,
        workerCommands: channel.port2,
        reports: reports.port1,
        workerReports: reports.port2,
        reported: false,
        index,
        controlBuf,
        control: new Int32Array(controlBuf),
        countersBuf,
        counters: new Float64Array(countersBuf),
        exited: Promise.resolve(),
        unclaimed: [],
        loopMs: 0,
      };
    });
  }

  /** The backend's name: `kvm` or `emu`. */
  get backendName(): BackendName {
    return this.parts.backend.name;
  }

  /** What runs behind the backend: VMX, SVM or PVM under KVM, or the emulator. */
  get implementation(): BackendImplementation {
    return this.parts.backend.implementation;
  }

  /** One line naming the backend, for the first line of a run or a debug session. */
  get backendDescription(): string {
    return this.parts.backend.description;
  }

  /** What the backend can do for the debugger. */
  get capabilities(): BackendCapabilities {
    return this.parts.backend.capabilities;
  }

  /** The backend itself, for tools that need its own calls (the KVM benchmark's raw vCPU). */
  get backend(): MachineBackend {
    return this.parts.backend;
  }

  /** The CPUID table vCPU 0 sees. */
  get cpuid(): readonly import('./registers').CpuidEntry[] {
    return this.parts.backend.cpuid;
  }

  /** What the guest's CPUID says about paging: MAXPHYADDR and 1 GiB pages. */
  pagingFeatures(): { maxPhysAddr: number; gbPages: boolean } {
    return this.parts.backend.pagingFeatures();
  }

  /** Routes the guest's RDMSR/WRMSR to vmscope (MSR exit breakpoints); false where the backend cannot. */
  trapMsrs(on: boolean): boolean {
    return this.parts.backend.trapMsrs(on);
  }

  get vcpuCount(): number {
    return this.vcpus.length;
  }

  /** Starts every vCPU. Resolves with the result when the machine ends. */
  start(opts: { timeoutMs?: number | undefined; paused?: boolean; holdFailures?: boolean } = {}): Promise<RunResult> {
    if (this.resultPromise) return this.resultPromise;
    this.startedAt = performance.now();
    this.startedEpoch = performance.timeOrigin + this.startedAt;
    // Paused start: each vCPU reports `stopped` (pause) before its first instruction.
    if (opts.paused) for (const v of this.vcpus) Atomics.store(v.control, Ctl.CMD, Cmd.PAUSE);
    const lockBlock = this.vcpus[0]!.controlBuf;
    for (const v of this.vcpus) {
      const cfg: VcpuLoopConfig = {
        index: v.index,
        backend: this.parts.backend.name,
        ...this.parts.backend.loopConfig(v.index),
        mmioRegions: this.parts.mmioRegions,
        devices: this.parts.devices.map((config) => ({ config, state: this.deviceState.get(config.name)! })),
        control: v.controlBuf,
        lockBlock,
        useLock: this.vcpus.length > 1,
        counters: v.countersBuf,
        commands: v.workerCommands,
        reports: v.workerReports,
        holdFailures: opts.holdFailures ?? false,
        regions: this.memory.regions.map((r) => ({ gpa: r.gpa, size: r.size, hva: r.hva })),
        trace: v.trace.buffer,
        startedAt: this.startedEpoch,
      };
      const worker = new Worker(workerScript(), { workerData: cfg, transferList: [v.workerCommands, v.workerReports] });
      v.worker = worker;
      // The reports come on a port of their own (not the worker's), so that pollReports can take them synchronously.
      // It does not keep the process alive: the worker does, and its last reports are taken at its exit.
      v.reports.on('message', (m: WorkerMessage) => this.onMessage(v, m));
      v.reports.unref();
      v.exited = new Promise((resolve) => {
        worker.on('error', (e) => {
          this.takeReportsOf(v);
          if (!v.end) this.onFinished(v, { kind: 'host-error', message: e.message }, []);
        });
        worker.on('exit', () => {
          // The thread is gone, but its last reports (its 'finished') may not have been dispatched yet.
          this.takeReportsOf(v);
          v.reports.close();
          if (!v.end) this.onFinished(v, { kind: 'host-error', message: 'the vCPU thread exited unexpectedly' }, []);
          resolve();
        });
      });
    }
    if (opts.timeoutMs !== undefined) {
      const seconds = opts.timeoutMs / 1000;
      // setTimeout takes at most 2^31-1 ms (about 24.8 days) and fires at once beyond it, with a warning on stderr:
      // a longer timeout waits in steps.
      const MAX_TIMER_MS = 2 ** 31 - 1;
      const arm = (left: number) => {
        this.timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : this.endWith({ kind: 'timeout', seconds })), Math.min(left, MAX_TIMER_MS));
        this.timer.unref?.();
      };
      arm(opts.timeoutMs);
    }
    this.resultPromise = Promise.all(this.vcpus.map((v) => v.exited)).then(() => this.release());
    return this.resultPromise;
  }

  /** Handles the reports that have arrived from one vCPU's thread and not been dispatched yet. */
  private takeReportsOf(v: VcpuHandle): void {
    for (let r = receiveMessageOnPort(v.reports); r; r = receiveMessageOnPort(v.reports)) this.onMessage(v, r.message as WorkerMessage);
  }

  /**
   * Handles every report (stops, device events) that has arrived from the
   * vCPU threads and waits for the event loop, now: for a front end that
   * answers its client without going back to the event loop, so that it
   * sees the machine as it would have after a turn of it.
   */
  takeReports(): void {
    for (const v of this.vcpus) this.takeReportsOf(v);
  }

  /**
   * Handles the vCPUs' reports (stops, device events) as they arrive, in this
   * turn of the event loop rather than a later one, until `done()` holds or
   * `budgetUs` microseconds have passed; true when `done()` held. It spins:
   * for a front end that has just resumed a vCPU for a short, bounded run (a
   * gdb `stepi`) and has nothing to do until its stop. The stop then costs
   * no wake-up of this thread and no turn of the event loop, which measured
   * as a large share of a stepi's round trip (docs/performance.md). Reports
   * it does not take arrive as usual, and on a host with one CPU it does not
   * spin (it would hold the CPU the vCPU thread needs).
   */
  pollReports(done: () => boolean, budgetUs: number): boolean {
    const until = performance.now() + budgetUs / 1000;
    // The spin watches the vCPUs' report counters and takes the ports only when one moved: an empty take allocates,
    // and a spin that took the ports on every turn allocated about 10 MB per 500 gdb stepi (docs/performance.md).
    let seen = this.reportCount();
    this.takeReports();
    if (!SPINNING_PAYS) return done();
    let turns = 0;
    while (!done()) {
      const count = this.reportCount();
      if (count !== seen) {
        seen = count;
        this.takeReports();
      } else if ((++turns & 63) === 0 && performance.now() >= until) {
        // The clock is read every 64th turn: each read of it allocates until the loop is optimised.
        return false;
      }
    }
    return true;
  }

  /** How many reports the vCPU threads have posted in all (Ctl.REPORTS): it moves with every report. */
  private reportCount(): number {
    let n = 0;
    for (let i = 0; i < this.vcpus.length; i++) n += Atomics.load(this.vcpus[i]!.control, Ctl.REPORTS);
    return n;
  }

  private onMessage(v: VcpuHandle, m: WorkerMessage): void {
    switch (m.t) {
      case 'device':
        this.deviceEvent(m.seq, m.event);
        return;
      case 'stopped':
        v.reported = true;
        if (v.liftedForStep !== undefined) {
          this.breakpoints.replant(v.liftedForStep);
          v.liftedForStep = undefined;
        }
        if (v.steppingOff) v.steppingOff(m.stop);
        else this.reportStop(v.index, m.stop);
        return;
      case 'exit-log':
        this.emit('exit-log', v.index, m.filter, m.text);
        return;
      case 'finished':
        v.reported = true;
        v.loopMs = m.loopMs;
        this.onFinished(v, m.end, m.unclaimed);
        return;
    }
  }

  /**
   * Device events arrive on each vCPU thread's own port, so two threads' events
   * can arrive out of order; they are emitted in the order of their VM-wide
   * sequence numbers (the order the devices saw them).
   */
  private deviceEvent(seq: number, event: DeviceEvent): void {
    this.earlyEvents.set(seq, event);
    for (let e = this.earlyEvents.get(this.nextEventSeq); e; e = this.earlyEvents.get(this.nextEventSeq)) {
      this.earlyEvents.delete(this.nextEventSeq++);
      this.emit('device', e);
      if (e.kind === 'serial-output') this.emit('serial', e.bytes, e.device);
    }
  }

  private nextEventSeq = 0;
  private readonly earlyEvents = new Map<number, DeviceEvent>();

  private onFinished(v: VcpuHandle, end: VcpuEnd, unclaimed: UnclaimedAccess[]): void {
    v.end = end;
    v.unclaimed = unclaimed;
    this.emit('vcpu-end', v.index, end);
    // Anything but a halt (or our own stop) ends the whole machine; a halt
    // ends it once every vCPU has halted.
    if (end.kind !== 'stopped' && end.kind !== 'halted') this.endWith({ kind: 'vcpu', vcpu: v.index, end });
    else if (end.kind === 'halted' && this.vcpus.every((x) => x.end)) this.endWith({ kind: 'vcpu', vcpu: v.index, end });
  }

  /** Records why the machine ends (first reason wins) and stops every vCPU. */
  private endWith(end: RunEnd): void {
    if (!this.ending) this.ending = end;
    if (this.timer) clearTimeout(this.timer);
    for (const v of this.vcpus) {
      if (v.end) continue;
      Atomics.store(v.control, Ctl.CMD, Cmd.STOP);
      Atomics.add(v.control, Ctl.RESUME, 1);
      Atomics.notify(v.control, Ctl.RESUME);
      this.kickUntil(v, () => v.end !== undefined);
    }
  }

  /**
   * Kicks vCPU `v` out of guest code, again every few ms until `done` says it
   * took notice. A kick can land just before the backend enters the guest and
   * be lost there (the emulator's uc_emu_stop does nothing before emulation
   * starts); the repeat makes that harmless.
   */
  private kickUntil(v: VcpuHandle, done: () => boolean, tries = 400): void {
    if (v.end || done()) return;
    this.wake(v);
    this.parts.backend.kick(v.index);
    if (tries > 0) setTimeout(() => this.kickUntil(v, done, tries - 1), 5).unref?.();
  }

  /** Stops the machine; resolves when every vCPU thread is gone. A machine stopped before it started never starts. */
  stop(): Promise<RunResult> {
    this.endWith({ kind: 'stopped' });
    return (this.resultPromise ??= Promise.resolve(this.release()));
  }

  /** Whether the machine is ending or has ended: its vCPUs are told to stop, and its memory goes with them. */
  get isEnding(): boolean {
    return this.ending !== undefined || this.released;
  }

  /** Whether start (or stop) was called: its vCPU threads exist or have been and gone. */
  get started(): boolean {
    return this.resultPromise !== undefined;
  }

  /** Resolves once every vCPU that has not ended is paused and its stop handled (allPaused), or after `timeoutMs`. */
  async whenAllPaused(timeoutMs = 2000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.allPaused() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  /**
   * Whether every vCPU is paused or finished, with its stop (or end) handled:
   * a front end that sees true has heard every stop there is to hear.
   */
  allPaused(): boolean {
    this.takeReports();
    return this.vcpus.every((v) => v.end || (Atomics.load(v.control, Ctl.STATE) === State.PAUSED && v.reported));
  }

  /** Forces vCPU `index` out of guest mode now (it then pauses). */
  kick(index: number): void {
    const v = this.vcpus[index];
    if (v) this.wake(v);
    this.parts.backend.kick(index);
  }

  /** Wakes a vCPU halted with interrupts on (it waits on WAKE) and has it run the device polls. */
  private wake(v: VcpuHandle): void {
    Atomics.store(v.control, Ctl.WAKE, 1);
    Atomics.notify(v.control, Ctl.WAKE);
  }

  /** Asks vCPUs to pause; each reports a `stopped` event with reason `pause`. */
  pause(index?: number): void {
    // Once the machine is ending, its vCPUs' command is STOP: a pause must not replace it (the vCPU would wait paused
    // and stop() would never resolve).
    if (this.ending) return;
    for (const v of index === undefined ? this.vcpus : [this.vcpus[index]!]) {
      if (v.end) continue;
      Atomics.store(v.control, Ctl.CMD, Cmd.PAUSE);
      // A paused vCPU waits on its control words; only a running one needs the signal.
      if (Atomics.load(v.control, Ctl.STATE) !== State.PAUSED) {
        this.kickUntil(v, () => Atomics.load(v.control, Ctl.STATE) !== State.RUNNING || Atomics.load(v.control, Ctl.CMD) !== Cmd.PAUSE);
      }
    }
  }

  /**
   * Resumes paused vCPUs: all of them (continue), or one with `how` (a step;
   * the others stay paused). A vCPU paused on a planted int3 steps off it
   * first (sw-breakpoints.ts); for a continue every such vCPU does so before
   * any vCPU runs. Resolves once the vCPUs were told to run.
   */
  async resume(index?: number, how: ResumeHow = { kind: 'continue' }): Promise<void> {
    const targets = (index === undefined ? this.vcpus : [this.vcpus[index]!]).filter((v) => !v.end);
    // Before any vCPU runs, so that every front end hears of the resume before any stop it leads to.
    if (targets.length) this.emit('resumed', index, how);
    const stoppedAgain = new Set<VcpuHandle>();
    if (this.breakpoints.size > 0) {
      for (const v of targets) {
        const at = this.int3UnderPc(v);
        if (at === undefined) continue;
        if (how.kind !== 'continue') {
          this.breakpoints.lift(at);
          v.liftedForStep = at;
          continue;
        }
        const stop = await this.stepOff(v, at);
        // The one instruction stopped for another reason (an exit breakpoint, a fault): that stop is the user's.
        if (stop.kind !== 'step') {
          this.reportStop(v.index, stop);
          stoppedAgain.add(v);
        }
      }
    }
    for (const v of targets) if (!stoppedAgain.has(v)) this.run(v, how);
  }

  private run(v: VcpuHandle, how: ResumeHow): void {
    // As in pause(): nothing replaces the STOP of a machine that is ending.
    if (v.end || this.ending) return;
    v.reported = false;
    if (how.kind === 'step-instruction') Atomics.store(v.control, Ctl.STEP, 1);
    else if (how.kind !== 'continue') this.send(v, { kind: 'resume', how });
    Atomics.store(v.control, Ctl.CMD, Cmd.RUN);
    Atomics.add(v.control, Ctl.RESUME, 1);
    Atomics.notify(v.control, Ctl.RESUME);
  }

  /** A paused vCPU's pc as a linear address: CS base + rip. */
  linearPc(index: number): Gva {
    const st = this.vcpuState(index);
    return gva(BigInt.asUintN(64, st.getSregs().cs.base + st.getRegs().rip));
  }

  /** The guest-physical address of a planted int3 at a paused vCPU's pc, if there is one. */
  private int3UnderPc(v: VcpuHandle): Gpa | undefined {
    if (this.vcpuRunState(v.index) !== 'paused') return undefined;
    const t = this.vcpuState(v.index).translate(this.linearPc(v.index));
    if (!t.valid || !isGpa(t.physical)) return undefined;
    const at = gpa(t.physical);
    return this.breakpoints.has(at) ? at : undefined;
  }

  /** Runs one instruction with the int3 at `at` lifted, as vmscope's own step; resolves with its stop. */
  private stepOff(v: VcpuHandle, at: Gpa): Promise<VcpuStop> {
    return new Promise((resolve) => {
      this.breakpoints.lift(at);
      v.steppingOff = (stop) => {
        v.steppingOff = undefined;
        this.breakpoints.replant(at);
        resolve(stop);
      };
      this.run(v, { kind: 'step-instruction' });
    });
  }

  /**
   * Sets the one stop filter (the debug adapter's stop policy): it sees every
   * stop first and returns true when it resumed the vCPU at once (a logpoint, a
   * condition that is false, a step's next leg), so that other front ends (a gdb
   * stub) never see a stop that did not happen for the user.
   */
  setStopFilter(filter: ((vcpu: number, stop: VcpuStop) => boolean) | undefined): void {
    this.stopFilter = filter;
  }

  private reportStop(vcpu: number, stop: VcpuStop): void {
    if (this.stopFilter?.(vcpu, stop)) return;
    this.emit('stopped', vcpu, stop);
  }

  /**
   * Raises an external interrupt on vCPU `index` (what a device's interrupt
   * line does): the vCPU delivers `vector` through the guest's IDT as soon as
   * RFLAGS.IF allows, running or paused (then on resume).
   */
  injectInterrupt(index: number, vector: number): void {
    const v = this.vcpus[index];
    if (!v || v.end) return;
    this.send(v, { kind: 'interrupt', vector: vector & 0xff });
    if (Atomics.load(v.control, Ctl.STATE) === State.RUNNING) this.kickUntil(v, () => Atomics.load(v.control, Ctl.PENDING) === 0 || Atomics.load(v.control, Ctl.STATE) !== State.RUNNING);
  }

  /**
   * Sets `owner`'s exit breakpoints/logpoints and whether it wants the exit
   * trace; every vCPU runs every owner's filters (running ones pick them up at
   * once).
   */
  configureExits(filters: ExitFilterSpec[], trace: boolean, owner: DebugOwner = DEFAULT_OWNER): void {
    const all = this.debugOwners.setExits(owner, filters, trace);
    for (const v of this.vcpus) {
      if (v.end) continue;
      this.send(v, { kind: 'exit-config', filters: all.filters, trace: all.trace });
      if (Atomics.load(v.control, Ctl.STATE) === State.RUNNING) this.kickUntil(v, () => Atomics.load(v.control, Ctl.PENDING) === 0 || Atomics.load(v.control, Ctl.STATE) !== State.RUNNING);
    }
  }

  /** The recorded exits of every vCPU (tracing must be on), oldest first. */
  exitTrace(max = 4096): TraceEntry[] {
    return this.vcpus
      .flatMap((v) => v.trace.read(v.index, max))
      .sort((a, b) => a.time - b.time)
      .slice(-max);
  }

  /**
   * Sets `owner`'s breakpoints and watchpoints: every vCPU gets the union of
   * all owners' (running ones pick it up at once) and the int3s of every
   * owner's `int3` are planted. Returns the int3 addresses of `owner` that are
   * not in RAM or ROM, which were not planted; `debugOwners.unplaced(owner)`
   * names its slots that found no free machine slot.
   */
  configureDebug(config: DebugConfig, owner: DebugOwner = DEFAULT_OWNER): Gpa[] {
    const merged = this.debugOwners.set(owner, config);
    const mine = new Set(config.int3 ?? []);
    const skipped = this.breakpoints.set(merged.int3 ?? []).filter((a) => mine.has(a));
    for (const v of this.vcpus) {
      if (v.end) continue;
      this.send(v, { kind: 'debug-config', config: merged });
      if (Atomics.load(v.control, Ctl.STATE) === State.RUNNING) this.kickUntil(v, () => Atomics.load(v.control, Ctl.PENDING) === 0 || Atomics.load(v.control, Ctl.STATE) !== State.RUNNING);
    }
    return skipped;
  }

  private send(v: VcpuHandle, command: VcpuCommand): void {
    v.commands.postMessage(command);
    Atomics.store(v.control, Ctl.PENDING, 1);
  }

  vcpuRunState(index: number): VcpuRunState {
    const v = this.vcpus[index]!;
    if (v.end) return 'finished';
    switch (Atomics.load(v.control, Ctl.STATE)) {
      case State.RUNNING:
        return 'running';
      case State.PAUSED:
        return 'paused';
      case State.FINISHED:
        return 'finished';
      default:
        return 'created';
    }
  }

  /**
   * Register and state access for a vCPU that is paused (or not started).
   * One object per vCPU, made on first use: a backend's state object holds
   * only constants and scratch buffers and reads the vCPU afresh on every
   * call, so keeping it saves its set-up (a debugger asks many times per stop)
   * and can never give a stale value.
   */
  vcpuState(index: number): VcpuStateApi {
    const v = this.vcpus[index];
    if (!v) throw new RangeError(`no vCPU ${index}`);
    if (this.released) throw new Error('the machine has ended');
    return (v.state ??= this.parts.backend.vcpuState(index, () => Atomics.add(v.control, Ctl.STATE_WRITES, 1)));
  }

  /**
   * A GVA translated by the emulator's own MMU (QEMU's, in Unicorn), to check
   * vmscope's walk against. Only under emulation; KVM's is vcpuState().translate.
   */
  mmuTranslate(index: number, addr: Gva): import('./registers').Translation {
    const backend = this.parts.backend;
    if (!(backend instanceof EmuMachine)) throw new Error('mmuTranslate is the emulator\'s');
    return backend.vcpuState(index, () => {}).mmuTranslate(addr);
  }

  /** Main-thread instances of the devices, over the state the vCPU threads share, for the VM view (made on first use). */
  private inspectors: Device[] | undefined;

  /**
   * Each device's state as the VM view shows it: whether the guest uses it,
   * its interrupt count and its registers, read live from the shared state.
   */
  deviceViews(): DeviceView[] {
    if (!this.inspectors) {
      // These instances only read: their interrupt lines and events go nowhere.
      const bus = new Bus();
      const ctx = busContext(bus, () => {}, NO_MEMORY);
      this.inspectors = this.parts.devices.map((d) => createDevice(d, this.deviceState.get(d.name)!, ctx));
    }
    return this.inspectors.flatMap((d) => (d.inspect ? [d.inspect()] : []));
  }

  /** Queues bytes for the guest to read from a serial device. Returns how many fit. */
  serialInput(bytes: Uint8Array, device = 'serial'): number {
    const state = this.deviceState.get(device);
    if (!state) return 0;
    const n = uartEnqueue(state, bytes);
    // The boot vCPU runs the device polls: the UART raises its interrupt there.
    const v0 = this.vcpus[0];
    if (n && v0 && !v0.end) {
      this.wake(v0);
      if (Atomics.load(v0.control, Ctl.STATE) === State.RUNNING) this.parts.backend.kick(0);
    }
    return n;
  }

  /** Exits per exit reason (named as KVM names them, on either backend) so far, live while running, summed over vCPUs. */
  exitCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const v of this.vcpus) {
      v.counters.forEach((n, code) => {
        if (n > 0) {
          const name = kvmExitName(code);
          out[name] = (out[name] ?? 0) + n;
        }
      });
    }
    return out;
  }

  private unclaimed(): UnclaimedAccess[] {
    const merged = new Map<string, UnclaimedAccess>();
    for (const v of this.vcpus) {
      for (const u of v.unclaimed) {
        const key = `${u.space}:${u.addr}`;
        const m = merged.get(key);
        if (m) {
          m.reads += u.reads;
          m.writes += u.writes;
        } else merged.set(key, { ...u });
      }
    }
    return [...merged.values()].sort((a, b) => a.space.localeCompare(b.space) || a.addr - b.addr);
  }

  /** Frees the backend's and memory's resources once every vCPU thread has exited. */
  private release(): RunResult {
    const result: RunResult = {
      end: this.ending ?? { kind: 'stopped' },
      exits: this.exitCounts(),
      unclaimed: this.unclaimed(),
      elapsedMs: this.startedAt ? performance.now() - this.startedAt : 0,
      loopMs: this.vcpus.map((v) => v.loopMs),
    };
    if (!this.released) {
      this.released = true;
      for (const v of this.vcpus) v.commands.close();
      this.parts.backend.release();
      releaseGuestMemory(loadNative(), this.memory);
      this.emit('end', result);
    }
    return result;
  }
}
