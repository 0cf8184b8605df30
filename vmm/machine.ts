// A running VM as the main thread sees it: one worker thread per vCPU running
// the synchronous loop, device events and stops arriving as typed events, and
// control (pause, resume, kick, stop) through shared control words. Knows
// nothing of DAP, LSP or VS Code.

import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { VmSpec } from '../spec/types';
import type { Gva } from './address';
import { KvmCap, kvmExitName, MAX_EXIT_CODE } from './kvm/constants';
import type { KvmSystem } from './kvm/system';
import type { CpuidEntry } from './kvm/structs';
import { probeDataWatchpoints, probeSoftwareBreakpoints } from './kvm/probe';
import type { LoadedImage } from './loaders';
import { releaseGuestMemory, type GuestMemory } from './memory';
import { deviceStateBytes, uartEnqueue, type DeviceConfig, type DeviceEvent } from './devices';
import type { UnclaimedAccess } from './devices/bus';
import { Cmd, Ctl, State, type VcpuLoopConfig } from './vcpu-loop';
import { VcpuState } from './vcpu-state';
import type { RunEnd, RunResult, VcpuEnd, VcpuStop, WorkerMessage } from './exits';
import type { DebugConfig, ResumeHow, VcpuCommand } from './debug';
import { TraceRing, traceBytes, type ExitFilterSpec, type TraceEntry } from './exit-trace';

export interface MachineParts {
  spec: VmSpec;
  /** The CPUID vCPU 0 got (the others differ only in their APIC IDs). */
  cpuid: CpuidEntry[];
  sys: KvmSystem;
  vmFd: number;
  vcpuFds: number[];
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
  /** A vCPU paused (it can be resumed). */
  stopped: [vcpu: number, stop: VcpuStop];
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
  fd: number;
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
}

/** Where the vCPU worker script lives: next to this module, in out/vmm/ and in dist/. */
function workerScript(): string {
  return path.join(__dirname, 'vcpu-worker.js');
}

export class Machine extends EventEmitter<MachineEvents> {
  readonly spec: VmSpec;
  readonly memory: GuestMemory;
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
    this.image = parts.image;
    this.entry = parts.entry;
    for (const d of parts.devices) this.deviceState.set(d.name, new SharedArrayBuffer(Math.max(8, deviceStateBytes(d))));
    this.vcpus = parts.vcpuFds.map((fd, index) => {
      const controlBuf = new SharedArrayBuffer(Ctl.WORDS * 4);
      const countersBuf = new SharedArrayBuffer((MAX_EXIT_CODE + 1) * 8);
      const channel = new MessageChannel();
      return {
        trace: new TraceRing(new SharedArrayBuffer(traceBytes(parts.traceCapacity))),
        commands: channel.port1,
        workerCommands: channel.port2,
        index,
        fd,
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

  /**
   * The vCPU's KVM fd and kvm_run mmap size, for tools that drive a vCPU with
   * their own loop instead of start() (the benchmark's thread-hop variant).
   */
  rawVcpu(index: number): { fd: number; mmapSize: number } {
    return { fd: this.vcpus[index]!.fd, mmapSize: this.parts.sys.vcpuMmapSize };
  }

  /** What the guest's CPUID says about paging: MAXPHYADDR and 1 GiB pages. */
  pagingFeatures(): { maxPhysAddr: number; gbPages: boolean } {
    const leaf = (fn: number) => this.parts.cpuid.find((e) => e.function === fn && e.index === 0);
    const phys = leaf(0x80000008)?.eax;
    return { maxPhysAddr: phys ? phys & 0xff : 36, gbPages: ((leaf(0x80000001)?.edx ?? 0) >>> 26) & 1 ? true : false };
  }

  /**
   * Routes the guest's RDMSR/WRMSR to vmscope (so MSR exit breakpoints see
   * them) by denying MSRs 0-0x1fff and 0xc0000000-0xc0001fff in a KVM MSR
   * filter; the vCPU threads then carry out each access with KVM_GET/SET_MSRS.
   * False when this KVM cannot (no KVM_CAP_X86_USER_SPACE_MSR).
   */
  trapMsrs(on: boolean): boolean {
    const n = this.parts.sys.native;
    const vm = this.parts.vmFd;
    if (!this.msrExitsEnabled) {
      if (!on) return true;
      if (this.capability(KvmCap.X86_USER_SPACE_MSR) <= 0) return false;
      const cap = new ArrayBuffer(n.layout.sizes.kvm_enable_cap!);
      const dv = new DataView(cap);
      dv.setUint32(0, KvmCap.X86_USER_SPACE_MSR, true);
      dv.setBigUint64(8, BigInt(n.constants.KVM_MSR_EXIT_REASON_FILTER!), true);
      n.enableCap(vm, cap);
      this.msrExitsEnabled = true;
    }
    n.setMsrFilter(vm, on ? [[0, 0x2000], [0xc0000000, 0x2000]] : []);
    return true;
  }

  private msrExitsEnabled = false;

  /** KVM_CHECK_EXTENSION on the system fd. */
  capability(cap: number): number {
    return this.parts.sys.native.checkExtension(this.parts.sys.fd, cap);
  }

  /** Whether int3 breakpoints work on this host (probed once per process). */
  softwareBreakpointsWork(): boolean {
    return probeSoftwareBreakpoints(this.parts.sys);
  }

  /** Whether DR0-3 data watchpoints fire on this host (probed once per process). */
  dataWatchpointsWork(): boolean {
    return probeDataWatchpoints(this.parts.sys);
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
        fd: v.fd,
        mmapSize: this.parts.sys.vcpuMmapSize,
        mmioRegions: this.parts.mmioRegions,
        devices: this.parts.devices.map((config) => ({ config, state: this.deviceState.get(config.name)! })),
        control: v.controlBuf,
        lockBlock,
        useLock: this.vcpus.length > 1,
        counters: v.countersBuf,
        commands: v.workerCommands,
        holdFailures: opts.holdFailures ?? false,
        regions: this.memory.regions.map((r) => ({ gpa: r.gpa, size: r.size, hva: r.hva })),
        trace: v.trace.buffer,
        startedAt: this.startedEpoch,
      };
      const worker = new Worker(workerScript(), { workerData: cfg, transferList: [v.workerCommands] });
      v.worker = worker;
      worker.on('message', (m: WorkerMessage) => this.onMessage(v, m));
      v.exited = new Promise((resolve) => {
        worker.on('error', (e) => {
          if (!v.end) this.onFinished(v, { kind: 'host-error', message: e.message }, []);
        });
        worker.on('exit', () => {
          if (!v.end) this.onFinished(v, { kind: 'host-error', message: 'the vCPU thread exited unexpectedly' }, []);
          resolve();
        });
      });
    }
    if (opts.timeoutMs !== undefined) {
      const seconds = opts.timeoutMs / 1000;
      this.timer = setTimeout(() => this.endWith({ kind: 'timeout', seconds }), opts.timeoutMs);
      this.timer.unref?.();
    }
    this.resultPromise = Promise.all(this.vcpus.map((v) => v.exited)).then(() => this.release());
    return this.resultPromise;
  }

  private onMessage(v: VcpuHandle, m: WorkerMessage): void {
    switch (m.t) {
      case 'device':
        this.emit('device', m.event);
        if (m.event.kind === 'serial-output') this.emit('serial', m.event.bytes, m.event.device);
        return;
      case 'stopped':
        this.emit('stopped', v.index, m.stop);
        return;
      case 'exit-log':
        this.emit('exit-log', v.index, m.filter, m.text);
        return;
      case 'finished':
        v.loopMs = m.loopMs;
        this.onFinished(v, m.end, m.unclaimed);
        return;
    }
  }

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
      this.parts.sys.native.kick(v.fd);
    }
  }

  /** Stops the machine; resolves when every vCPU thread is gone. */
  stop(): Promise<RunResult> {
    this.endWith({ kind: 'stopped' });
    return this.resultPromise ?? Promise.resolve(this.release());
  }

  /** Resolves once every vCPU that has not ended is paused. */
  async whenAllPaused(timeoutMs = 2000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const settled = () => this.vcpus.every((v) => v.end || Atomics.load(v.control, Ctl.STATE) === State.PAUSED || Atomics.load(v.control, Ctl.STATE) === State.FINISHED);
    while (!settled() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  /** Forces vCPU `index` out of guest mode now (it then pauses). */
  kick(index: number): void {
    this.parts.sys.native.kick(this.vcpus[index]!.fd);
  }

  /** Asks vCPUs to pause; each reports a `stopped` event with reason `pause`. */
  pause(index?: number): void {
    for (const v of index === undefined ? this.vcpus : [this.vcpus[index]!]) {
      if (v.end) continue;
      Atomics.store(v.control, Ctl.CMD, Cmd.PAUSE);
      // A paused vCPU waits on its control words; only a running one needs the signal.
      if (Atomics.load(v.control, Ctl.STATE) !== State.PAUSED) this.parts.sys.native.kick(v.fd);
    }
  }

  /**
   * Resumes paused vCPUs: all of them (continue), or one with `how` (a step;
   * the others stay paused).
   */
  resume(index?: number, how: ResumeHow = { kind: 'continue' }): void {
    for (const v of index === undefined ? this.vcpus : [this.vcpus[index]!]) {
      if (v.end) continue;
      if (how.kind !== 'continue') this.send(v, { kind: 'resume', how });
      Atomics.store(v.control, Ctl.CMD, Cmd.RUN);
      Atomics.add(v.control, Ctl.RESUME, 1);
      Atomics.notify(v.control, Ctl.RESUME);
    }
  }

  /** Sets exit breakpoints/logpoints and exit tracing on every vCPU; running ones pick it up at once. */
  configureExits(filters: ExitFilterSpec[], trace: boolean): void {
    for (const v of this.vcpus) {
      if (v.end) continue;
      this.send(v, { kind: 'exit-config', filters, trace });
      if (Atomics.load(v.control, Ctl.STATE) === State.RUNNING) this.parts.sys.native.kick(v.fd);
    }
  }

  /** The recorded exits of every vCPU (tracing must be on), oldest first. */
  exitTrace(max = 4096): TraceEntry[] {
    return this.vcpus
      .flatMap((v) => v.trace.read(v.index, max))
      .sort((a, b) => a.time - b.time)
      .slice(-max);
  }

  /** Sets breakpoints and watchpoints on every vCPU; running ones pick it up at once. */
  configureDebug(config: DebugConfig): void {
    for (const v of this.vcpus) {
      if (v.end) continue;
      this.send(v, { kind: 'debug-config', config });
      if (Atomics.load(v.control, Ctl.STATE) === State.RUNNING) this.parts.sys.native.kick(v.fd);
    }
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

  /** Register and state access for a vCPU that is paused (or not started). */
  vcpuState(index: number): VcpuState {
    const v = this.vcpus[index];
    if (!v) throw new RangeError(`no vCPU ${index}`);
    if (this.released) throw new Error('the machine has ended');
    return new VcpuState(this.parts.sys.native, v.fd, () => Atomics.add(v.control, Ctl.STATE_WRITES, 1));
  }

  /** Queues bytes for the guest to read from a serial device. Returns how many fit. */
  serialInput(bytes: Uint8Array, device = 'serial'): number {
    const state = this.deviceState.get(device);
    if (!state) return 0;
    return uartEnqueue(state, bytes);
  }

  /** Exits per KVM exit reason so far (live while running), summed over vCPUs. */
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

  /** Frees KVM and memory resources once every vCPU thread has exited. */
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
      const n = this.parts.sys.native;
      for (const v of this.vcpus) {
        n.unmapRun(v.fd);
        n.close(v.fd);
        v.commands.close();
      }
      n.close(this.parts.vmFd);
      releaseGuestMemory(n, this.memory);
      this.parts.sys.close();
      this.emit('end', result);
    }
    return result;
  }
}
