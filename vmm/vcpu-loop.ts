// The synchronous run loop of one vCPU. It runs on the vCPU's own thread
// (a worker_thread) so KVM_RUN never blocks the main event loop, and it
// handles port and MMIO exits right there: an exit costs one ioctl return and
// a few DataView reads, with no hop to another thread (see docs/performance.md).
// Stepping also runs here, so a line step of many instructions costs no hop
// per instruction.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { KvmNative } from './kvm/native';
import { EAGAIN, EINTR, KvmExit, KVM_EXIT_IO_OUT, MAX_EXIT_CODE } from './kvm/constants';
import { Bus } from './devices/bus';
import { createDevice, type DeviceConfig, type DeviceEvent } from './devices';
import { VcpuState } from './vcpu-state';
import { GPR_NAMES } from './kvm/structs';
import type { CpuSnapshot, VcpuEnd, VcpuStop, WorkerMessage } from './exits';
import { decodeDr6, freeSlot, guestDebugFor, NO_DEBUG, type DebugConfig, type ResumeHow, type VcpuCommand } from './debug';
import { decodeExit, describeExitInfo, exitContext, exitVariables, prepareFilters, TraceRing, type ExitFilter, type ExitInfo } from './exit-trace';
import { interpolate } from './expr/interpolate';
import { compile } from './expr/evaluate';

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
  /** Set by the machine when it posted commands on the command port. */
  PENDING: 4,
  /** Bumped by the machine whenever it writes the vCPU's registers. */
  STATE_WRITES: 5,
  WORDS: 6,
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
  /** Machine -> vCPU commands (VcpuCommand), read synchronously. */
  commands: MessagePort;
  /** Stop on guest failures (triple fault, ...) instead of ending, for inspection. */
  holdFailures: boolean;
  /** Guest RAM/ROM, for software watchpoints. */
  regions: ReadonlyArray<{ gpa: number; size: number; hva: bigint }>;
  /** This vCPU's exit trace ring (TraceRing). */
  trace: SharedArrayBuffer;
  /** Epoch ms the machine started: trace times are ms since then, on every thread. */
  startedAt: number;
}

/** What one KVM_RUN produced that the loop must act on (I/O is handled inside). */
type Event =
  | { kind: 'kicked' }
  | { kind: 'debug'; exception: number; pc: bigint; dr6: bigint }
  /** An exit filter matched: stop before the exit is handled. */
  | { kind: 'exit-break'; filter: string; code: number; exit: ExitInfo; hits: number }
  | { kind: 'end'; end: VcpuEnd };

class Finished extends Error {
  constructor(readonly end: VcpuEnd) {
    super('vCPU finished');
  }
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

  // Views of guest memory, for software watchpoints (see SoftWatch).
  const memory = cfg.regions.map((r) => ({ gpa: r.gpa, size: r.size, bytes: new Uint8Array(native.externalBuffer(r.hva, r.size)) }));
  const readPhysical = (addr: number, len: number): bigint | undefined => {
    const r = memory.find((m) => addr >= m.gpa && addr + len <= m.gpa + m.size);
    if (!r) return undefined;
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(r.bytes[addr - r.gpa + i]!);
    return v;
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

  // ---- guest debug -------------------------------------------------------

  let debugConfig: DebugConfig = NO_DEBUG;
  let applied = '';
  /** Sets KVM_SET_GUEST_DEBUG, skipping the ioctl when nothing changed. */
  const applyDebug = (config: DebugConfig, singleStep: boolean, mask?: bigint): void => {
    const { control, debugreg } = guestDebugFor(config, singleStep, mask);
    const key = `${control}:${debugreg.join(',')}`;
    if (key === applied) return;
    state.setGuestDebug(control, debugreg);
    applied = key;
  };

  // ---- exit filters and the exit trace ------------------------------------

  const ring = new TraceRing(cfg.trace);
  const clockOffset = performance.timeOrigin - cfg.startedAt;
  let tracing = false;
  let filtersByCode: Array<ExitFilter[] | undefined> = [];
  /** Anything to do per exit besides handling it (keeps the hot path to one check). */
  let hooks = false;
  /** An exit a filter stopped on, handled when the vCPU resumes. */
  let pendingExit: number | undefined;
  const offValidRegs = L.kvm_valid_regs!;
  const offSyncRip = L.sync_rip!;
  const syncRegsFlag = BigInt(native.constants.KVM_SYNC_X86_REGS ?? 1);

  /** A 64-bit register for an exit condition: from kvm_run's sync regs when tracing (no ioctl), else KVM_GET_REGS. */
  const registerOf = (name: string): bigint | undefined => {
    const i = (GPR_NAMES as readonly string[]).indexOf(name);
    if (i < 0) return undefined;
    // kvm_regs and GPR_NAMES share one order.
    return tracing ? run.getBigUint64(L.sync_regs! + 8 * i, true) : state.getRegs()[GPR_NAMES[i]!];
  };

  /** Records the exit and runs the filters; returns a break if one matched. */
  const exitHooks = (code: number): Event | undefined => {
    const exit = decodeExit(run, L, code);
    if (tracing) ring.push(performance.now() + clockOffset, code, run.getBigUint64(offSyncRip, true), exit);
    const filters = filtersByCode[code];
    if (!filters) return undefined;
    const vars = exitVariables(exit);
    let hit: Event | undefined;
    for (const f of filters) {
      let match = true;
      if (f.compiled) {
        try {
          match = f.compiled.evaluate(exitContext(vars, registerOf)) !== 0n;
        } catch (e) {
          post({ t: 'exit-log', filter: f.id, text: `condition "${f.condition}" failed: ${e instanceof Error ? e.message : String(e)}` });
        }
      }
      if (!match) continue;
      const hits = ++f.hits;
      if (f.hitTest && !f.hitTest(hits)) continue;
      if (f.logMessage !== undefined) {
        // An empty message logs the exit itself: `out 0x3f8, 1 byte, value 0x48 at rip 0x10008a`.
        const rip = registerOf('rip');
        const text = f.logMessage
          ? interpolate(f.logMessage, (expr) => '0x' + compile(expr).evaluate(exitContext(vars, registerOf)).toString(16))
          : `${exit.reason} ${describeExitInfo(exit)}${rip !== undefined ? ` at rip 0x${rip.toString(16)}` : ''}`;
        post({ t: 'exit-log', filter: f.id, text });
        continue;
      }
      hit ??= { kind: 'exit-break', filter: f.id, code, exit, hits };
    }
    return hit;
  };

  let how: ResumeHow = { kind: 'continue' };
  const drainCommands = (): void => {
    Atomics.store(ctl, Ctl.PENDING, 0);
    for (;;) {
      const m = receiveMessageOnPort(cfg.commands);
      if (!m) return;
      const c = m.message as VcpuCommand;
      switch (c.kind) {
        case 'debug-config':
          debugConfig = c.config;
          break;
        case 'resume':
          how = c.how;
          break;
        case 'exit-config': {
          const prepared = prepareFilters(c.filters);
          for (const err of prepared.errors) post({ t: 'exit-log', filter: 'config', text: err });
          filtersByCode = prepared.byCode;
          tracing = c.trace;
          run.setBigUint64(offValidRegs, tracing ? syncRegsFlag : 0n, true);
          hooks = tracing || filtersByCode.some((f) => f !== undefined);
          break;
        }
      }
    }
  };

  /** One KVM_RUN; I/O and MMIO are handled here and yield undefined. */
  const runOnce = (): Event | undefined => {
    knownPc = undefined;
    const r = native.run(cfg.fd);
    if (r === -EINTR || r === -EAGAIN) {
      runBytes[offImm] = 0;
      return { kind: 'kicked' };
    }
    const reason = run.getUint32(offExit, true);
    counters[reason > MAX_EXIT_CODE ? MAX_EXIT_CODE : reason]!++;
    lastExitWasIo = false;
    if (hooks) {
      const stop = exitHooks(reason);
      if (stop) {
        pendingExit = reason;
        return stop;
      }
    }
    return handleExit(reason);
  };

  /** What an exit does: device accesses, ends, debug events. */
  const handleExit = (reason: number): Event | undefined => {
    switch (reason) {
      case KvmExit.IO:
        lastExitWasIo = run.getUint8(offIoDir) !== KVM_EXIT_IO_OUT;
        handleIo();
        return pendingEnd ? { kind: 'end', end: pendingEnd } : undefined;
      case KvmExit.MMIO:
        lastExitWasIo = run.getUint8(offMmioWrite) === 0;
        handleMmio();
        return undefined;
      case KvmExit.INTR:
        return { kind: 'kicked' };
      case KvmExit.X86_RDMSR: {
        // A filtered MSR (see Machine.trapMsrs): read it as KVM holds it; a refusal becomes #GP.
        const index = run.getUint32(L.msr_index!, true);
        const v = state.getMsrs([index]).get(index);
        run.setUint8(L.msr_error!, v === undefined ? 1 : 0);
        if (v !== undefined) run.setBigUint64(L.msr_data!, v, true);
        return undefined;
      }
      case KvmExit.X86_WRMSR: {
        const ok = state.setMsrs([{ index: run.getUint32(L.msr_index!, true), data: run.getBigUint64(L.msr_data!, true) }]) === 1;
        run.setUint8(L.msr_error!, ok ? 0 : 1);
        return undefined;
      }
      case KvmExit.DEBUG:
        notePc(run.getBigUint64(L.debug_pc!, true));
        return {
          kind: 'debug',
          exception: run.getUint32(L.debug_exception!, true),
          pc: run.getBigUint64(L.debug_pc!, true),
          dr6: run.getBigUint64(L.debug_dr6!, true),
        };
      case KvmExit.HLT:
        return { kind: 'end', end: { kind: 'halted', cpu: snapshot() } };
      case KvmExit.SHUTDOWN:
        return { kind: 'end', end: { kind: 'triple-fault', cpu: snapshot() } };
      case KvmExit.FAIL_ENTRY:
        return {
          kind: 'end',
          end: {
            kind: 'entry-failure',
            hardwareReason: run.getBigUint64(L.fail_entry_reason!, true),
            hostCpu: run.getUint32(L.fail_entry_cpu!, true),
            cpu: snapshot(),
          },
        };
      case KvmExit.INTERNAL_ERROR: {
        const n = Math.min(run.getUint32(L.internal_ndata!, true), 16);
        const data = Array.from({ length: n }, (_, i) => run.getBigUint64(L.internal_data! + 8 * i, true));
        return { kind: 'end', end: { kind: 'internal-error', suberror: run.getUint32(L.internal_suberror!, true), data, cpu: snapshot() } };
      }
      case KvmExit.SYSTEM_EVENT:
        return { kind: 'end', end: { kind: 'system-event', type: run.getUint32(L.system_event_type!, true), cpu: snapshot() } };
      default:
        return { kind: 'end', end: { kind: 'unhandled-exit', code: reason, cpu: snapshot() } };
    }
  };

  /**
   * Publishes a stop and waits until the machine resumes this vCPU (true) or
   * stops it (false). On resume, `how` and `debugConfig` hold the new orders.
   */
  const waitForResume = (stop: VcpuStop): boolean => {
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
    how = { kind: 'continue' };
    drainCommands();
    Atomics.store(ctl, Ctl.STATE, State.RUNNING);
    return true;
  };

  const isFailure = (end: VcpuEnd): boolean =>
    end.kind === 'triple-fault' || end.kind === 'entry-failure' || end.kind === 'internal-error' || end.kind === 'unhandled-exit';

  /**
   * Runs until something needs the machine's attention: returns the stop to
   * report. Ends (debug-exit, halt, failures not held) throw Finished. A
   * kick returns undefined so the caller re-reads the command word.
   */
  const runUntilEvent = (singleStep: boolean, mask?: bigint): Exclude<Event, { kind: 'end' }> | undefined => {
    applyDebug(debugConfig, singleStep, mask);
    if (pendingExit !== undefined) {
      // Resuming from an exit breakpoint: the exit now completes as if no breakpoint had been there.
      const code = pendingExit;
      pendingExit = undefined;
      const ev = handleExit(code);
      if (ev?.kind === 'end') {
        if (cfg.holdFailures && isFailure(ev.end)) waitForResume({ kind: 'failure', end: ev.end });
        throw new Finished(ev.end);
      }
      if (ev && ev.kind !== 'kicked') return ev;
    }
    for (;;) {
      if (Atomics.load(ctl, Ctl.PENDING)) {
        drainCommands();
        applyDebug(debugConfig, singleStep, mask);
      }
      if (Atomics.load(ctl, Ctl.CMD) !== Cmd.RUN) return { kind: 'kicked' };
      const ev = runOnce();
      if (!ev) continue;
      // A kick only for new commands (PENDING) keeps the current orders.
      if (ev.kind === 'kicked' && Atomics.load(ctl, Ctl.CMD) === Cmd.RUN) continue;
      if (ev.kind === 'end') {
        if (cfg.holdFailures && isFailure(ev.end)) {
          waitForResume({ kind: 'failure', end: ev.end });
        }
        throw new Finished(ev.end);
      }
      return ev;
    }
  };

  /** The stop a debug exit (or an exit breakpoint) means when vmscope did not single-step. */
  const stopFor = (ev: Exclude<Event, { kind: 'end' } | { kind: 'kicked' }>): VcpuStop => {
    if (ev.kind === 'exit-break') return { kind: 'exit', filter: ev.filter, code: ev.code, exit: ev.exit, hits: ev.hits };
    if (ev.exception === 3 && debugConfig.softwareBreakpoints) return { kind: 'sw-breakpoint', pc: ev.pc };
    const hit = decodeDr6(ev.dr6).slots.filter((i) => debugConfig.slots[i]);
    const exec = hit.filter((i) => debugConfig.slots[i]!.kind === 'exec');
    if (exec.length) return { kind: 'breakpoint', slots: exec, pc: ev.pc };
    if (hit.length) return { kind: 'watchpoint', slots: hit, pc: ev.pc };
    return { kind: 'debug', exception: ev.exception, pc: ev.pc, dr6: ev.dr6 };
  };

  /**
   * pc of the vCPU now (linear: CS base + rip). The pc of the last debug exit
   * is reused while nobody wrote the registers since, which saves two ioctls
   * per step.
   */
  let knownPc: { pc: bigint; writes: number } | undefined;
  const currentPc = (): bigint => {
    const writes = Atomics.load(ctl, Ctl.STATE_WRITES);
    if (knownPc && knownPc.writes === writes) return knownPc.pc;
    const s = state.getSregs();
    return s.cs.base + state.getRegs().rip;
  };
  const notePc = (pc: bigint): void => {
    knownPc = { pc, writes: Atomics.load(ctl, Ctl.STATE_WRITES) };
  };

  /**
   * Executes one instruction. If an instruction breakpoint sits at pc, it is
   * masked for that one instruction so the vCPU can leave it. Returns a
   * non-step stop (a watchpoint, another vCPU's request) or undefined after
   * a clean single step.
   */
  const singleStep = (pc: bigint): VcpuStop | 'kicked' | { kind: 'stepped'; pc: bigint } => {
    const ev = runUntilEvent(true, pc);
    if (!ev || ev.kind === 'kicked') return 'kicked';
    if (ev.kind === 'exit-break') return stopFor(ev);
    const { slots, singleStep: bs } = decodeDr6(ev.dr6);
    const watch = slots.filter((i) => debugConfig.slots[i] && debugConfig.slots[i]!.kind !== 'exec');
    if (watch.length) return { kind: 'watchpoint', slots: watch, pc: ev.pc };
    if (bs) return { kind: 'stepped', pc: ev.pc };
    return stopFor(ev);
  };

  /** Runs to `addr` with rsp above `aboveSp`, using a spare DR slot or single steps. */
  const runTo = (addr: bigint, aboveSp: bigint): VcpuStop | 'kicked' | undefined => {
    const slot = freeSlot(debugConfig.slots);
    if (slot < 0) {
      // No spare slot: single-step until there (slow but exact).
      let pc = currentPc();
      for (;;) {
        const r = singleStep(pc);
        if (r === 'kicked' || r.kind !== 'stepped') return r;
        pc = r.pc;
        if (pc === addr && state.getRegs().rsp > aboveSp) return undefined;
      }
    }
    const user = debugConfig;
    const slots = [...user.slots];
    slots[slot] = { addr, kind: 'exec', len: 1 };
    debugConfig = { ...user, slots };
    try {
      let pc = currentPc();
      for (;;) {
        // Leave a breakpoint at the current pc first.
        if (user.slots.some((s) => s?.kind === 'exec' && s.addr === pc) || pc === addr) {
          const r = singleStep(pc);
          if (r === 'kicked' || r.kind !== 'stepped') return r;
          pc = r.pc;
          if (pc === addr && state.getRegs().rsp > aboveSp) return undefined;
        }
        const ev = runUntilEvent(false);
        if (!ev || ev.kind === 'kicked') return 'kicked';
        const stop = stopFor(ev);
        if (stop.kind === 'breakpoint' && stop.slots.every((i) => i === slot)) {
          pc = stop.pc;
          if (state.getRegs().rsp > aboveSp) return undefined;
          continue; // a recursive call reached the return address: keep going
        }
        if (stop.kind === 'breakpoint') stop.slots = stop.slots.filter((i) => i !== slot);
        return stop;
      }
    } finally {
      debugConfig = user;
    }
  };

  /**
   * Continue with software watchpoints: one instruction at a time, comparing
   * the watched bytes after each, and honouring instruction breakpoints
   * (a single step masks the breakpoint at the pc it starts from).
   */
  const continueWatching = (watches: ReadonlyArray<{ slot: number; physical: number; len: number }>): VcpuStop | 'kicked' => {
    const values = watches.map((w) => readPhysical(w.physical, w.len));
    let pc = currentPc();
    for (;;) {
      const r = singleStep(pc);
      if (r === 'kicked' || r.kind !== 'stepped') return r;
      pc = r.pc;
      const changed = watches.filter((w, i) => readPhysical(w.physical, w.len) !== values[i]);
      if (changed.length) return { kind: 'watchpoint', slots: changed.map((w) => w.slot), pc };
      const bp = debugConfig.slots.flatMap((s, i) => (s?.kind === 'exec' && s.addr === pc ? [i] : []));
      if (bp.length) return { kind: 'breakpoint', slots: bp, pc };
    }
  };

  /** Carries out `how` from a paused state; returns the stop to report. */
  const carryOut = (h: ResumeHow): VcpuStop | 'kicked' => {
    switch (h.kind) {
      case 'continue': {
        if (debugConfig.softWatch?.length) return continueWatching(debugConfig.softWatch);
        const pc = currentPc();
        if (debugConfig.slots.some((s) => s?.kind === 'exec' && s.addr === pc)) {
          const r = singleStep(pc);
          if (r === 'kicked' || r.kind !== 'stepped') return r;
        }
        const ev = runUntilEvent(false);
        if (!ev || ev.kind === 'kicked') return 'kicked';
        return stopFor(ev);
      }
      case 'step-instruction': {
        const r = singleStep(currentPc());
        return r !== 'kicked' && r.kind === 'stepped' ? { kind: 'step' } : r;
      }
      case 'step-range': {
        let pc = currentPc();
        for (;;) {
          const call = h.calls.find((c) => c.at === pc);
          if (call) {
            // Back from the call when rsp is at least what it was before it.
            const r = runTo(call.ret, state.getRegs().rsp - 1n);
            if (r) return r;
            pc = currentPc();
          } else {
            const r = singleStep(pc);
            if (r === 'kicked' || r.kind !== 'stepped') return r;
            pc = r.pc;
          }
          if (pc < h.start || pc >= h.end) return { kind: 'step' };
          if (debugConfig.slots.some((s) => s?.kind === 'exec' && s.addr === pc)) {
            return { kind: 'breakpoint', slots: debugConfig.slots.flatMap((s, i) => (s?.kind === 'exec' && s.addr === pc ? [i] : [])), pc };
          }
        }
      }
      case 'run-to':
        return runTo(h.addr, h.aboveSp) ?? { kind: 'step' };
    }
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
    drainCommands();
    // Each turn carries out the current orders (`how`) until a stop, then
    // waits to be resumed. Plain running spends its time in runUntilEvent.
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd === Cmd.STOP) return finish({ kind: 'stopped' });
      if (cmd === Cmd.PAUSE) {
        if (!waitForResume({ kind: 'pause' })) return finish({ kind: 'stopped' });
        continue;
      }
      const h = how;
      how = { kind: 'continue' };
      const stop = carryOut(h);
      if (stop === 'kicked') continue;
      if (!waitForResume(stop)) return finish({ kind: 'stopped' });
    }
  } catch (e) {
    if (e instanceof Finished) {
      finish(e.end);
      return;
    }
    finish({ kind: 'host-error', message: e instanceof Error ? e.message : String(e) });
  }
}
