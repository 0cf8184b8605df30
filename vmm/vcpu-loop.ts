// The synchronous run loop of one vCPU, over the backend seam (vmm/backend.ts).
// It runs on the vCPU's own thread (a worker_thread) so running guest code
// never blocks the main event loop, and port and MMIO exits are handled right
// there, with no hop to another thread (see docs/performance.md). Stepping
// also runs here, so a line step of many instructions costs no hop per
// instruction. What is KVM's (the kvm_run page) or the emulator's lives in
// vmm/kvm/vcpu.ts and vmm/emu/vcpu.ts.

import { gva } from '../common/address';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Bus } from './devices/bus';
import { loadNative } from './kvm/native';
import { createDevice, type DeviceConfig, type DeviceEvent } from './devices';
import type { VcpuEnd, VcpuStop, WorkerMessage } from './exits';
import { decodeDr6, freeSlot, NO_DEBUG, type DebugConfig, type ResumeHow, type VcpuCommand } from './debug';
import { describeExitInfo, exitContext, exitVariables, prepareFilters, TraceRing, type ExitFilter, type ExitInfo } from './exit-trace';
import type { BackendLoopConfig, BackendName, ExitSink, LoopEvent, VcpuBackend } from './backend';
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
  /** VM-wide sequence of device events (only in the first vCPU's control block): keeps their order across threads. */
  EVENT_SEQ: 6,
  WORDS: 7,
} as const;

export const Cmd = { RUN: 0, PAUSE: 1, STOP: 2 } as const;
export const State = { STARTING: 0, RUNNING: 1, PAUSED: 2, FINISHED: 3 } as const;

export interface VcpuLoopConfig extends BackendLoopConfig {
  index: number;
  backend: BackendName;
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

type Event = LoopEvent;

class Finished extends Error {
  constructor(readonly end: VcpuEnd) {
    super('vCPU finished');
  }
}

/** Highest exit code vmscope keeps a counter for (counters are indexed by code). */
export const MAX_EXIT_CODE = 63;

export function runVcpuLoop(makeBackend: (sink: ExitSink) => VcpuBackend, cfg: VcpuLoopConfig, post: (m: WorkerMessage) => void): void {
  const ctl = new Int32Array(cfg.control);
  const lockWords = new Int32Array(cfg.lockBlock);
  const counters = new Float64Array(cfg.counters);

  let pendingEnd: VcpuEnd | undefined;
  const emit = (event: DeviceEvent): void => {
    // Numbered VM-wide, so the machine emits events of several vCPU threads in the order devices saw them.
    post({ t: 'device', event, seq: Atomics.add(lockWords, Ctl.EVENT_SEQ, 1) });
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
  const locked = <T>(fn: () => T): T => {
    if (!useLock) return fn();
    lock();
    try {
      return fn();
    } finally {
      unlock();
    }
  };

  // Views of guest memory, for software watchpoints (see SoftWatch).
  const native = loadNative();
  const memory = cfg.regions.map((r) => ({ gpa: r.gpa, size: r.size, bytes: new Uint8Array(native.externalBuffer(r.hva, r.size)) }));
  const readPhysical = (addr: number, len: number): bigint | undefined => {
    const r = memory.find((m) => addr >= m.gpa && addr + len <= m.gpa + m.size);
    if (!r) return undefined;
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(r.bytes[addr - r.gpa + i]!);
    return v;
  };

  // ---- exit filters and the exit trace ------------------------------------

  const ring = new TraceRing(cfg.trace);
  const clockOffset = performance.timeOrigin - cfg.startedAt;
  let tracing = false;
  let filtersByCode: Array<ExitFilter[] | undefined> = [];
  /** Anything to do per exit besides handling it (keeps the hot path to one check). */
  let hooks = false;

  /** Records the exit and runs the filters; returns a break if one matched. */
  const exitHooks = (code: number, exit: ExitInfo, registerOf: (name: string) => bigint | undefined, rip: () => bigint): Extract<Event, { kind: 'exit-break' }> | undefined => {
    if (tracing) ring.push(performance.now() + clockOffset, code, rip(), exit);
    const filters = filtersByCode[code];
    if (!filters) return undefined;
    const vars = exitVariables(exit);
    let hit: Extract<Event, { kind: 'exit-break' }> | undefined;
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
        const text = f.logMessage
          ? interpolate(f.logMessage, (expr) => '0x' + compile(expr).evaluate(exitContext(vars, registerOf)).toString(16))
          : `${exit.reason} ${describeExitInfo(exit)} at rip 0x${rip().toString(16)}`;
        post({ t: 'exit-log', filter: f.id, text });
        continue;
      }
      hit ??= { kind: 'exit-break', filter: f.id, code, exit, hits };
    }
    return hit;
  };

  let how: ResumeHow = { kind: 'continue' };
  /** External interrupts waiting for the guest to accept them, oldest first. */
  const pendingIrqs: number[] = [];
  /** Set when a pause inside an exit (emulator) took new orders: the loop carries them out next. */
  let resumedInExit = false;

  const sink: ExitSink = {
    count: (code, n = 1) => {
      counters[code > MAX_EXIT_CODE ? MAX_EXIT_CODE : code]! += n;
    },
    get hooks() {
      return hooks;
    },
    exitHooks,
    pioRead: (port, size) => locked(() => bus.pioRead(port, size)),
    pioWrite: (port, size, value) => locked(() => bus.pioWrite(port, size, value)),
    mmioRead: (gpa, size) => locked(() => bus.mmioRead(gpa, size)),
    mmioWrite: (gpa, size, value) => locked(() => bus.mmioWrite(gpa, size, value)),
    pendingEnd: () => pendingEnd,
    claimsPort: (port) => bus.claimsPort(port),
    addUnclaimedPio: (port, size, reads, writes, lastValue) => bus.addUnclaimedPio(port, size, reads, writes, lastValue),
    pauseInExit: (stop) => {
      const writes = Atomics.load(ctl, Ctl.STATE_WRITES);
      const resumed = waitForResume(stop);
      // The exit completes when this returns; new orders other than a plain
      // continue, or registers written while paused, need a stop right after it.
      resumedInExit = resumed && (how.kind !== 'continue' || Atomics.load(ctl, Ctl.STATE_WRITES) !== writes || debugChanged);
      return resumed;
    },
    stopAfterExit: () => resumedInExit,
  };
  let debugChanged = false;
  const backend = makeBackend(sink);
  const state = backend.state;

  const drainCommands = (): void => {
    Atomics.store(ctl, Ctl.PENDING, 0);
    for (;;) {
      const m = receiveMessageOnPort(cfg.commands);
      if (!m) return;
      const c = m.message as VcpuCommand;
      switch (c.kind) {
        case 'debug-config':
          debugConfig = c.config;
          debugChanged = true;
          break;
        case 'resume':
          how = c.how;
          break;
        case 'interrupt':
          pendingIrqs.push(c.vector);
          break;
        case 'exit-config': {
          const prepared = prepareFilters(c.filters);
          for (const err of prepared.errors) post({ t: 'exit-log', filter: 'config', text: err });
          filtersByCode = prepared.byCode;
          tracing = c.trace;
          backend.setTracing(tracing);
          hooks = tracing || filtersByCode.some((f) => f !== undefined);
          break;
        }
      }
    }
  };

  // ---- guest debug -------------------------------------------------------

  let debugConfig: DebugConfig = NO_DEBUG;

  /** One entry into the guest; I/O and MMIO are handled inside and yield undefined. */
  const runOnce = (): Event | undefined => {
    knownPc = undefined;
    const ev = backend.runOnce();
    if (ev?.kind === 'debug') notePc(ev.pc);
    return ev;
  };

  /**
   * Publishes a stop and waits until the machine resumes this vCPU (true) or
   * stops it (false). On resume, `how` and `debugConfig` hold the new orders.
   */
  const waitForResume = (stop: VcpuStop): boolean => {
    backend.settle();
    const gen = Atomics.load(ctl, Ctl.RESUME);
    Atomics.store(ctl, Ctl.STATE, State.PAUSED);
    post({ t: 'stopped', stop });
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd === Cmd.STOP) return false;
      if (cmd === Cmd.RUN && Atomics.load(ctl, Ctl.RESUME) !== gen) break;
      Atomics.wait(ctl, Ctl.RESUME, gen, 1000);
    }
    how = { kind: 'continue' };
    debugChanged = false;
    drainCommands();
    Atomics.store(ctl, Ctl.STATE, State.RUNNING);
    return true;
  };

  const isFailure = (end: VcpuEnd): boolean =>
    end.kind === 'triple-fault' || end.kind === 'entry-failure' || end.kind === 'internal-error' || end.kind === 'unhandled-exit' || end.kind === 'emulation-error';

  /**
   * Runs until something needs the machine's attention: returns the stop to
   * report. Ends (debug-exit, halt, failures not held) throw Finished. A
   * kick returns undefined so the caller re-reads the command word.
   */
  const runUntilEvent = (singleStep: boolean, mask?: bigint): Exclude<Event, { kind: 'end' }> | undefined => {
    backend.applyDebug(debugConfig, singleStep, mask);
    const pending = backend.resumePendingExit();
    if (pending) {
      if (pending.kind === 'end') {
        if (cfg.holdFailures && isFailure(pending.end)) waitForResume({ kind: 'failure', end: pending.end });
        throw new Finished(pending.end);
      }
      if (pending.kind !== 'kicked') return pending;
    }
    for (;;) {
      if (Atomics.load(ctl, Ctl.PENDING)) {
        drainCommands();
        backend.applyDebug(debugConfig, singleStep, mask);
      }
      if (Atomics.load(ctl, Ctl.CMD) !== Cmd.RUN) return { kind: 'kicked' };
      while (pendingIrqs.length && backend.injectInterrupt(pendingIrqs[0]!)) pendingIrqs.shift();
      const ev = runOnce();
      if (resumedInExit) return { kind: 'kicked' };
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

  const slotsOf = (ev: Extract<Event, { kind: 'debug' }>): number[] => ev.slots ?? decodeDr6(ev.dr6).slots;

  /** The stop a debug exit (or an exit breakpoint) means when vmscope did not single-step. */
  const stopFor = (ev: Exclude<Event, { kind: 'end' } | { kind: 'kicked' }>): VcpuStop => {
    if (ev.kind === 'exit-break') return { kind: 'exit', filter: ev.filter, code: ev.code, exit: ev.exit, hits: ev.hits };
    if (ev.exception === 3 && debugConfig.softwareBreakpoints) return { kind: 'sw-breakpoint', pc: ev.pc };
    const hit = slotsOf(ev).filter((i) => debugConfig.slots[i]);
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
    const { singleStep: bs } = decodeDr6(ev.dr6);
    const watch = slotsOf(ev).filter((i) => debugConfig.slots[i] && debugConfig.slots[i]!.kind !== 'exec');
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
    slots[slot] = { addr: gva(addr), kind: 'exec', len: 1 };
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
        // The instruction of an exit the vCPU paused inside (emulator) was the step.
        if (steppedInExit) return { kind: 'step' };
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
    // After this, kick() from the machine no longer reaches this thread.
    backend.finish();
    post({ t: 'finished', end, unclaimed: bus.unclaimedAccesses(), loopMs: performance.now() - loopStart });
  };

  let steppedInExit = false;
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
      steppedInExit = resumedInExit;
      resumedInExit = false;
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
