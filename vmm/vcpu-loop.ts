// The synchronous run loop of one vCPU. It runs on the vCPU's own thread
// (a worker_thread) so KVM_RUN never blocks the main event loop, and it
// handles port and MMIO exits right there: an exit costs one ioctl return and
// a few DataView reads, with no hop to another thread (see docs/performance.md).

import type { KvmNative } from './kvm/native';
import { EAGAIN, EINTR, KvmExit, KVM_EXIT_IO_OUT, MAX_EXIT_CODE } from './kvm/constants';
import { Bus } from './devices/bus';
import { createDevice, type DeviceConfig, type DeviceEvent } from './devices';
import { VcpuState } from './vcpu-state';
import type { CpuSnapshot, VcpuEnd, VcpuStop, WorkerMessage } from './exits';

/** Layout of the control words shared between the machine and one vCPU thread. */
export const Ctl = {
  /** Command from the machine: RUN, PAUSE or STOP. */
  CMD: 0,
  /** State published by the vCPU thread. */
  STATE: 1,
  /** Bumped by the machine to wake a paused vCPU. */
  RESUME: 2,
  /** VM-wide device lock (only in the first vCPU's control block). */
  LOCK: 3,
  WORDS: 4,
} as const;

export const Cmd = { RUN: 0, PAUSE: 1, STOP: 2 } as const;
export const State = { STARTING: 0, RUNNING: 1, PAUSED: 2, FINISHED: 3 } as const;

export interface VcpuLoopConfig {
  index: number;
  fd: number;
  mmapSize: number;
  /** Declared mmio regions, to name unclaimed accesses. */
  mmioRegions: Array<{ name: string; gpa: number; size: number }>;
  devices: Array<{ config: DeviceConfig; state: SharedArrayBuffer }>;
  control: SharedArrayBuffer;
  /** The control block holding the VM-wide device lock (vCPU 0's). */
  lockBlock: SharedArrayBuffer;
  /** Take the device lock around device accesses (more than one vCPU). */
  useLock: boolean;
  /** Float64 exit counters indexed by KVM exit code, read live by the machine. */
  counters: SharedArrayBuffer;
}

export function runVcpuLoop(native: KvmNative, cfg: VcpuLoopConfig, post: (m: WorkerMessage) => void): void {
  const ctl = new Int32Array(cfg.control);
  const lockWords = new Int32Array(cfg.lockBlock);
  const counters = new Float64Array(cfg.counters);
  const L = native.layout.kvm_run as Record<string, number>;
  const runBuf = native.mapRun(cfg.fd, cfg.mmapSize);
  const run = new DataView(runBuf);
  const runBytes = new Uint8Array(runBuf);
  const state = new VcpuState(native, cfg.fd);

  const offExit = L.exit_reason!;
  const offImm = L.immediate_exit!;
  const offIoDir = L.io_direction!;
  const offIoSize = L.io_size!;
  const offIoPort = L.io_port!;
  const offIoCount = L.io_count!;
  const offIoData = L.io_data_offset!;
  const offMmioAddr = L.mmio_phys_addr!;
  const offMmioData = L.mmio_data!;
  const offMmioLen = L.mmio_len!;
  const offMmioWrite = L.mmio_is_write!;

  let pendingEnd: VcpuEnd | undefined;
  const emit = (event: DeviceEvent): void => {
    post({ t: 'device', event });
    if (event.kind === 'debug-exit') pendingEnd = { kind: 'debug-exit', status: event.status };
  };
  const bus = new Bus((gpa) => cfg.mmioRegions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size)?.name);
  for (const d of cfg.devices) bus.add(createDevice(d.config, d.state, { emit }));

  const useLock = cfg.useLock;
  const lock = (): void => {
    while (Atomics.compareExchange(lockWords, Ctl.LOCK, 0, 1) !== 0) Atomics.wait(lockWords, Ctl.LOCK, 1, 1);
  };
  const unlock = (): void => {
    Atomics.store(lockWords, Ctl.LOCK, 0);
    Atomics.notify(lockWords, Ctl.LOCK, 1);
  };

  const snapshot = (): CpuSnapshot => ({ regs: state.getRegs(), sregs: state.getSregs() });
  let lastExitWasIo = false;

  const handleIo = (): void => {
    const dir = run.getUint8(offIoDir);
    const size = run.getUint8(offIoSize);
    const port = run.getUint16(offIoPort, true);
    const count = run.getUint32(offIoCount, true);
    let at = run.getUint32(offIoData, true); // data_offset is within the kvm_run mapping
    if (useLock) lock();
    try {
      for (let i = 0; i < count; i++, at += size) {
        if (dir === KVM_EXIT_IO_OUT) {
          const v = size === 1 ? run.getUint8(at) : size === 2 ? run.getUint16(at, true) : run.getUint32(at, true);
          bus.pioWrite(port, size, v);
        } else {
          const v = bus.pioRead(port, size);
          if (size === 1) run.setUint8(at, v);
          else if (size === 2) run.setUint16(at, v, true);
          else run.setUint32(at, v >>> 0, true);
        }
      }
    } finally {
      if (useLock) unlock();
    }
  };

  const handleMmio = (): void => {
    const gpa = Number(run.getBigUint64(offMmioAddr, true));
    const len = run.getUint32(offMmioLen, true);
    const isWrite = run.getUint8(offMmioWrite) !== 0;
    if (useLock) lock();
    try {
      if (isWrite) {
        let v = 0n;
        for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(runBytes[offMmioData + i]!);
        bus.mmioWrite(gpa, len, v);
      } else {
        let v = bus.mmioRead(gpa, len);
        for (let i = 0; i < len; i++, v >>= 8n) runBytes[offMmioData + i] = Number(v & 0xffn);
      }
    } finally {
      if (useLock) unlock();
    }
  };

  /**
   * Lets KVM finish an in-progress IN/MMIO read (it does so at the start of
   * the next KVM_RUN) without entering the guest, so that registers read
   * while paused show the completed instruction.
   */
  const completePendingIo = (): void => {
    if (!lastExitWasIo) return;
    runBytes[offImm] = 1;
    native.run(cfg.fd);
    runBytes[offImm] = 0;
    lastExitWasIo = false;
  };

  const pause = (stop: VcpuStop): boolean => {
    completePendingIo();
    const gen = Atomics.load(ctl, Ctl.RESUME);
    Atomics.store(ctl, Ctl.STATE, State.PAUSED);
    post({ t: 'stopped', stop });
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd === Cmd.STOP) return false;
      if (cmd === Cmd.RUN && Atomics.load(ctl, Ctl.RESUME) !== gen) break;
      Atomics.wait(ctl, Ctl.RESUME, gen, 1000);
    }
    runBytes[offImm] = 0;
    Atomics.store(ctl, Ctl.STATE, State.RUNNING);
    return true;
  };

  const finish = (end: VcpuEnd): void => {
    Atomics.store(ctl, Ctl.STATE, State.FINISHED);
    // After unmapRun, kick() from the machine no longer signals this thread.
    native.unmapRun(cfg.fd);
    post({ t: 'finished', end, unclaimed: bus.unclaimedAccesses(), loopMs: performance.now() - loopStart });
  };

  Atomics.store(ctl, Ctl.STATE, State.RUNNING);
  const loopStart = performance.now();
  try {
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd !== Cmd.RUN) {
        if (cmd === Cmd.STOP || !pause({ kind: 'pause' })) {
          completePendingIo();
          return finish({ kind: 'stopped' });
        }
        continue;
      }
      const r = native.run(cfg.fd);
      if (r === -EINTR || r === -EAGAIN) {
        runBytes[offImm] = 0;
        continue; // a kick: the command word says why
      }
      const reason = run.getUint32(offExit, true);
      counters[reason > MAX_EXIT_CODE ? MAX_EXIT_CODE : reason]!++;
      lastExitWasIo = false;
      switch (reason) {
        case KvmExit.IO:
          lastExitWasIo = run.getUint8(offIoDir) !== KVM_EXIT_IO_OUT;
          handleIo();
          break;
        case KvmExit.MMIO:
          lastExitWasIo = run.getUint8(offMmioWrite) === 0;
          handleMmio();
          break;
        case KvmExit.INTR:
          break;
        case KvmExit.HLT:
          return finish({ kind: 'halted', cpu: snapshot() });
        case KvmExit.SHUTDOWN:
          return finish({ kind: 'triple-fault', cpu: snapshot() });
        case KvmExit.FAIL_ENTRY:
          return finish({
            kind: 'entry-failure',
            hardwareReason: run.getBigUint64(L.fail_entry_reason!, true),
            hostCpu: run.getUint32(L.fail_entry_cpu!, true),
            cpu: snapshot(),
          });
        case KvmExit.INTERNAL_ERROR: {
          const n = Math.min(run.getUint32(L.internal_ndata!, true), 16);
          const data = Array.from({ length: n }, (_, i) => run.getBigUint64(L.internal_data! + 8 * i, true));
          return finish({ kind: 'internal-error', suberror: run.getUint32(L.internal_suberror!, true), data, cpu: snapshot() });
        }
        case KvmExit.SYSTEM_EVENT:
          return finish({ kind: 'system-event', type: run.getUint32(L.system_event_type!, true), cpu: snapshot() });
        case KvmExit.DEBUG:
          if (
            !pause({
              kind: 'debug',
              exception: run.getUint32(L.debug_exception!, true),
              pc: run.getBigUint64(L.debug_pc!, true),
              dr6: run.getBigUint64(L.debug_dr6!, true),
              dr7: run.getBigUint64(L.debug_dr7!, true),
            })
          ) {
            return finish({ kind: 'stopped' });
          }
          break;
        default:
          return finish({ kind: 'unhandled-exit', code: reason, cpu: snapshot() });
      }
      if (pendingEnd) return finish(pendingEnd);
    }
  } catch (e) {
    finish({ kind: 'host-error', message: e instanceof Error ? e.message : String(e) });
  }
}
