// What the vCPU loop hands its backend (the ExitSink of vmm/backend.ts): exits
// counted in the machine's shared counters, hooked (trace, filters), and
// port and MMIO accesses dispatched to this thread's copy of the device bus
// under the VM-wide device lock.

import { Bus, busContext, hostNow, type UnclaimedAccess } from '../devices/bus';
import { createDevice, type DeviceConfig, type DeviceEvent, type DeviceMemory, type DeviceView, type IrqChip } from '../devices';
import type { VcpuEnd, WorkerMessage } from '../exits';
import type { ExitSink } from '../backend';
import type { ExitHooks } from './exit-hooks';
import { Ctl, MAX_EXIT_CODE } from './control';

/** What the devices of one vCPU thread are built from (fields of the loop's configuration). */
export interface LoopDevicesConfig {
  /** Declared mmio regions, to name unclaimed accesses. */
  mmioRegions: ReadonlyArray<{ name: string; gpa: number; size: number }>;
  devices: ReadonlyArray<{ config: DeviceConfig; state: SharedArrayBuffer }>;
  /** The control block holding the VM-wide device lock and event sequence (vCPU 0's). */
  lockBlock: SharedArrayBuffer;
  /** Take the device lock around device accesses (more than one vCPU). */
  useLock: boolean;
  /** Which vCPU this thread runs: vCPU 0 (the boot vCPU) gets the interrupt controller's INTR and runs the device timers. */
  index: number;
}

/**
 * The device bus as one vCPU thread sees it. Each thread builds its own
 * devices over state shared in SharedArrayBuffers, so accesses from several
 * vCPUs take the VM-wide lock; with one vCPU there is nobody to exclude.
 */
export class LoopDevices {
  private readonly bus: Bus;
  private readonly lockWords: Int32Array;
  private readonly useLock: boolean;
  private end: VcpuEnd | undefined;
  /** The interrupt controller wired to this vCPU's INTR pin (vCPU 0 only). */
  private readonly chip: IrqChip | undefined;
  /** This thread runs the device timers and host input (vCPU 0, when a device has any). */
  readonly polls: boolean;

  constructor(cfg: LoopDevicesConfig, post: (m: WorkerMessage) => void, memory: DeviceMemory) {
    this.lockWords = new Int32Array(cfg.lockBlock);
    this.useLock = cfg.useLock;
    const emit = (event: DeviceEvent): void => {
      // Numbered VM-wide, so the machine emits events of several vCPU threads in the order devices saw them.
      post({ t: 'device', event, seq: Atomics.add(this.lockWords, Ctl.EVENT_SEQ, 1) });
      if (event.kind === 'debug-exit') this.end ??= { kind: 'debug-exit', status: event.status };
      // A reset ends this machine's run; with devices.i8042.on-reset: reset the runner (CLI, debug adapter) starts a fresh one.
      if (event.kind === 'reset') this.end ??= { kind: 'reset', device: event.device };
      if (event.kind === 'poweroff') this.end ??= { kind: 'poweroff', device: event.device };
    };
    this.bus = new Bus((gpa) => cfg.mmioRegions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size)?.name);
    const ctx = busContext(this.bus, emit, memory);
    for (const d of cfg.devices) this.bus.add(createDevice(d.config, d.state, ctx));
    this.chip = cfg.index === 0 ? this.bus.irqChip() : undefined;
    this.polls = cfg.index === 0 && (this.bus.polled || this.chip !== undefined);
  }

  /** Whether the platform has an interrupt controller wired to this vCPU: HLT then waits for an interrupt. */
  get interruptible(): boolean {
    return this.chip !== undefined;
  }

  /**
   * When the device timers next want to run (hostNow() ms; Infinity: none).
   * Kept current by poll() and by writes to devices with timers, which may
   * move it (a guest programming the PIT inside a run).
   */
  nextPoll = 0;

  /** Runs the device timers and host input when due, or now if `force`; returns nextPoll. */
  poll(now: number, force = false): number {
    if (force || now >= this.nextPoll) this.nextPoll = this.locked(() => this.bus.poll(now));
    return this.nextPoll;
  }

  /** INTR: the interrupt controller has a request for this vCPU. */
  interruptPending(): boolean {
    const chip = this.chip;
    return chip !== undefined && this.locked(() => chip.hasInterrupt());
  }

  /** Whether an interrupt could still wake a halted vCPU (the controller is programmed, some line unmasked). */
  canWake(): boolean {
    const chip = this.chip;
    return chip !== undefined && this.locked(() => chip.canInterrupt());
  }

  /** The interrupt-acknowledge cycle: the vector to deliver. */
  acknowledge(): number {
    return this.locked(() => this.chip!.acknowledge());
  }

  /** The VM view of the devices. */
  inspect(): DeviceView[] {
    return this.locked(() => this.bus.inspect());
  }

  pioRead(port: number, size: number): number {
    return this.locked(() => this.bus.pioRead(port, size));
  }

  pioWrite(port: number, size: number, value: number): void {
    this.locked(() => {
      this.bus.pioWrite(port, size, value);
      if (this.bus.timersChanged && this.polls) this.nextPoll = this.bus.poll(hostNow());
    });
  }

  mmioRead(gpa: number, size: number): bigint {
    return this.locked(() => this.bus.mmioRead(gpa, size));
  }

  mmioWrite(gpa: number, size: number, value: bigint): void {
    this.locked(() => {
      this.bus.mmioWrite(gpa, size, value);
      if (this.bus.timersChanged && this.polls) this.nextPoll = this.bus.poll(hostNow());
    });
  }

  claimsPort(port: number): boolean {
    return this.bus.claimsPort(port);
  }

  addUnclaimedPio(port: number, size: number, reads: number, writes: number, lastValue: number): void {
    this.bus.addUnclaimedPio(port, size, reads, writes, lastValue);
  }

  /** The end a device asked for (the debug-exit port), if any. */
  pendingEnd(): VcpuEnd | undefined {
    return this.end;
  }

  unclaimedAccesses(): UnclaimedAccess[] {
    return this.bus.unclaimedAccesses();
  }

  private locked<T>(fn: () => T): T {
    if (!this.useLock) return fn();
    while (Atomics.compareExchange(this.lockWords, Ctl.LOCK, 0, 1) !== 0) Atomics.wait(this.lockWords, Ctl.LOCK, 1, 1);
    try {
      return fn();
    } finally {
      Atomics.store(this.lockWords, Ctl.LOCK, 0);
      Atomics.notify(this.lockWords, Ctl.LOCK, 1);
    }
  }
}

/**
 * The sink a backend's vCPU reports its exits to. `pause` is the loop's side:
 * the resume handshake for a backend that pauses inside an exit.
 */
export function exitSink(counters: Float64Array, hooks: ExitHooks, devices: LoopDevices, pause: Pick<ExitSink, 'pauseInExit' | 'stopAfterExit'>): ExitSink {
  return {
    count: (code, n = 1) => {
      counters[code > MAX_EXIT_CODE ? MAX_EXIT_CODE : code]! += n;
    },
    get hooks() {
      return hooks.active;
    },
    get filtering() {
      return hooks.filtering;
    },
    exitHooks: (code, exit, registerOf, rip) => hooks.onExit(code, exit, registerOf, rip),
    pioRead: (port, size) => devices.pioRead(port, size),
    pioWrite: (port, size, value) => devices.pioWrite(port, size, value),
    mmioRead: (gpa, size) => devices.mmioRead(gpa, size),
    mmioWrite: (gpa, size, value) => devices.mmioWrite(gpa, size, value),
    pendingEnd: () => devices.pendingEnd(),
    interruptRaised: () => devices.interruptPending(),
    deadline: () => devices.nextPoll,
    claimsPort: (port) => devices.claimsPort(port),
    addUnclaimedPio: (port, size, reads, writes, lastValue) => devices.addUnclaimedPio(port, size, reads, writes, lastValue),
    pauseInExit: (stop) => pause.pauseInExit(stop),
    stopAfterExit: () => pause.stopAfterExit(),
  };
}
