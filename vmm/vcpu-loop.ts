// The synchronous run loop of one vCPU, over the backend seam (vmm/backend.ts).
// It runs on the vCPU's own thread (a worker_thread) so running guest code
// never blocks the main event loop, and port and MMIO exits are handled right
// there, with no hop to another thread (see docs/performance.md).
//
// This file is the loop and the resume handshake with the machine. Its parts
// are in vmm/loop/: the control words (control.ts), the ExitSink over the
// devices (exit-sink.ts), exit trace and filters (exit-hooks.ts), the command
// channel (commands.ts), stepping (stepping.ts) and software watchpoints
// (soft-watch.ts). What is KVM's (the kvm_run page) or the emulator's lives in
// vmm/kvm/vcpu.ts and vmm/emu/vcpu.ts.

import { gva, type Gva } from '../common/address';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { loadNative } from './kvm/native';
import { physReader } from './paging/phys';
import { hostNow, regionMemory } from './devices/bus';
import { NO_DEBUG, type VcpuCommand } from './debug';
import type { VcpuEnd, VcpuStop, WorkerMessage } from './exits';
import type { BackendLoopConfig, BackendName, ExitSink, LoopEvent, VcpuBackend } from './backend';
import { Cmd, Ctl, State } from './loop/control';
import { exitSink, LoopDevices, type LoopDevicesConfig } from './loop/exit-sink';
import { ExitHooks } from './loop/exit-hooks';
import { CommandChannel, type LoopOrders } from './loop/commands';
import { Stepper, type RunEvent } from './loop/stepping';

export interface VcpuLoopConfig extends BackendLoopConfig, LoopDevicesConfig {
  index: number;
  backend: BackendName;
  /** Float64 exit counters indexed by KVM exit code, read live by the machine. */
  counters: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** Machine -> vCPU commands (VcpuCommand), read synchronously. */
  commands: MessagePort;
  /** vCPU -> machine reports (WorkerMessage). */
  reports: MessagePort;
  /** Stop on guest failures (triple fault, ...) instead of ending, for inspection. */
  holdFailures: boolean;
  /** Guest RAM/ROM, for software watchpoints. */
  regions: ReadonlyArray<{ gpa: number; size: number; hva: bigint }>;
  /** This vCPU's exit trace ring (TraceRing). */
  trace: SharedArrayBuffer;
  /** Epoch ms the machine started: trace times are ms since then, on every thread. */
  startedAt: number;
}

class Finished extends Error {
  constructor(readonly end: VcpuEnd) {
    super('vCPU finished');
  }
}

const isFailure = (end: VcpuEnd): boolean =>
  end.kind === 'triple-fault' || end.kind === 'entry-failure' || end.kind === 'internal-error' || end.kind === 'unhandled-exit' || end.kind === 'emulation-error';

export function runVcpuLoop(makeBackend: (sink: ExitSink) => VcpuBackend, cfg: VcpuLoopConfig, post: (m: WorkerMessage) => void): void {
  const ctl = new Int32Array(cfg.control);
  /** Runs the device timers when due (or when the machine says host input arrived), delivers a pending interrupt the guest can take, and arms the backend's deadline. */
  const platform = (): void => {
    devices.poll(hostNow(), Atomics.exchange(ctl, Ctl.WAKE, 0) !== 0);
    if (devices.interruptPending() && backend.interruptWindowOpen()) backend.injectInterrupt(devices.acknowledge());
    backend.setDeadline(devices.nextPoll);
  };
  const interruptsEnabled = (): boolean => ((backend.registerOf('rflags') ?? 0n) & (1n << 9n)) !== 0n;
  /**
   * The vCPU is halted with interrupts on: sleep until the device timers are
   * due, the machine wakes it (input, commands) or an interrupt is pending.
   * True when it should go on running; false when the machine wants it.
   */
  const idle = (): boolean => {
    for (;;) {
      if (Atomics.load(ctl, Ctl.CMD) !== Cmd.RUN || commands.pending) return false;
      const now = hostNow();
      const next = devices.poll(now, Atomics.exchange(ctl, Ctl.WAKE, 0) !== 0);
      if (devices.interruptPending()) return true;
      Atomics.wait(ctl, Ctl.WAKE, 0, Math.min(Math.max(next - now, 0), 1000));
    }
  };

  const native = loadNative();
  const ram = cfg.regions.map((r) => ({ gpa: r.gpa, bytes: new Uint8Array(native.externalBuffer(r.hva, r.size)) }));
  const devices = new LoopDevices(cfg, post, regionMemory(ram));
  const hooks = new ExitHooks(cfg.trace, cfg.startedAt, (filter, text) => post({ t: 'exit-log', filter, text }));
  const orders: LoopOrders = { how: { kind: 'continue' }, debug: NO_DEBUG, debugChanged: false, irqs: [] };
  /** Set when a pause inside an exit (emulator) took new orders: the loop carries them out next. */
  let resumedInExit = false;

  const backend = makeBackend(
    exitSink(new Float64Array(cfg.counters), hooks, devices, {
      pauseInExit: (stop) => {
        const writes = Atomics.load(ctl, Ctl.STATE_WRITES);
        const resumed = waitForResume(stop);
        // The exit completes when this returns; new orders other than a plain
        // continue, or registers written while paused, need a stop right after it.
        resumedInExit = resumed && (orders.how.kind !== 'continue' || Atomics.load(ctl, Ctl.STATE_WRITES) !== writes || orders.debugChanged);
        return resumed;
      },
      stopAfterExit: () => resumedInExit,
    }),
  );
  const state = backend.state;
  const commands = new CommandChannel(ctl, () => receiveMessageOnPort(cfg.commands)?.message as VcpuCommand | undefined, orders, hooks, (on) => backend.setTracing(on));

  /**
   * Publishes a stop and waits until the machine resumes this vCPU (true) or
   * stops it (false). On resume, `orders` hold the new orders.
   */
  const waitForResume = (stop: VcpuStop): boolean => {
    backend.settle();
    let gen = Atomics.load(ctl, Ctl.RESUME);
    Atomics.store(ctl, Ctl.STATE, State.PAUSED);
    post({ t: 'stopped', stop });
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd === Cmd.STOP) return false;
      if (cmd === Cmd.RUN && Atomics.load(ctl, Ctl.RESUME) !== gen) break;
      if (cmd === Cmd.PAUSE && Atomics.load(ctl, Ctl.RESUME) !== gen) {
        // Resumed, then paused again before this thread woke (the machine does not kick a vCPU that still reads as
        // paused): the guest never ran, but whoever paused waits for the pause's stop, so it is reported again.
        gen = Atomics.load(ctl, Ctl.RESUME);
        post({ t: 'stopped', stop: { kind: 'pause' } });
        continue;
      }
      Atomics.wait(ctl, Ctl.RESUME, gen, 1000);
    }
    orders.how = { kind: 'continue' };
    orders.debugChanged = false;
    commands.drain();
    if (Atomics.exchange(ctl, Ctl.STEP, 0) !== 0) orders.how = { kind: 'step-instruction' };
    Atomics.store(ctl, Ctl.STATE, State.RUNNING);
    return true;
  };

  /** The end of the vCPU to throw, after holding it (as a failure stop) when it is a guest failure and the machine asked for that. */
  const ending = (e: VcpuEnd): Finished => {
    if (cfg.holdFailures && isFailure(e)) waitForResume({ kind: 'failure', end: e });
    return new Finished(e);
  };

  /**
   * pc of the vCPU now (linear: CS base + rip). The pc of the last debug exit
   * is reused while nobody wrote the registers since, which saves two ioctls
   * per step.
   */
  let knownPc: { pc: Gva; writes: number } | undefined;
  const currentPc = (): Gva => {
    if (knownPc && knownPc.writes === Atomics.load(ctl, Ctl.STATE_WRITES)) return knownPc.pc;
    return gva(BigInt.asUintN(64, state.getSregs().cs.base + state.getRegs().rip));
  };

  /** One entry into the guest; I/O and MMIO are handled inside and yield undefined. */
  const runOnce = (): LoopEvent | undefined => {
    knownPc = undefined;
    const ev = backend.runOnce();
    if (ev?.kind === 'debug') knownPc = { pc: ev.pc, writes: Atomics.load(ctl, Ctl.STATE_WRITES) };
    return ev;
  };

  /**
   * Runs until something needs the machine's attention: returns the event to
   * report. Ends (debug-exit, halt, failures not held) throw Finished. A
   * kick returns 'kicked' so the caller re-reads the command word.
   */
  const runUntilEvent = (singleStep: boolean, mask?: bigint): RunEvent | 'kicked' => {
    backend.applyDebug(orders.debug, singleStep, mask);
    const pending = backend.resumePendingExit();
    if (pending?.kind === 'end') throw ending(pending.end);
    if (pending && pending.kind !== 'kicked') return pending;
    for (;;) {
      if (commands.pending) {
        commands.drain();
        backend.applyDebug(orders.debug, singleStep, mask);
      }
      if (Atomics.load(ctl, Ctl.CMD) !== Cmd.RUN) return 'kicked';
      while (orders.irqs.length && backend.injectInterrupt(orders.irqs[0]!)) orders.irqs.shift();
      if (devices.polls) platform();
      const ev = runOnce();
      if (resumedInExit) return 'kicked';
      if (!ev) continue;
      // A kick only for new commands (PENDING) keeps the current orders.
      if (ev.kind === 'kicked' && Atomics.load(ctl, Ctl.CMD) === Cmd.RUN) continue;
      if (ev.kind === 'end' && ev.end.kind === 'halted' && devices.interruptible && interruptsEnabled() && (devices.canWake() || orders.irqs.length > 0)) {
        // HLT with interrupts on: the CPU sleeps until an interrupt (or the machine) wakes it, then goes on after the HLT.
        // With every line masked (or the controller never programmed) nothing can: the run ends as halted, not hangs.
        if (idle()) continue;
        return 'kicked';
      }
      if (ev.kind === 'end') throw ending(ev.end);
      return ev.kind === 'kicked' ? 'kicked' : ev;
    }
  };

  const guestMemory = physReader({ regions: ram });
  const stepper = new Stepper(orders, { run: runUntilEvent, pc: currentPc, rsp: () => state.getRegs().rsp }, guestMemory.value);

  const finish = (e: VcpuEnd): void => {
    Atomics.store(ctl, Ctl.STATE, State.FINISHED);
    // After this, kick() from the machine no longer reaches this thread.
    backend.finish();
    post({ t: 'finished', end: e, unclaimed: devices.unclaimedAccesses(), loopMs: performance.now() - loopStart });
  };

  Atomics.store(ctl, Ctl.STATE, State.RUNNING);
  const loopStart = performance.now();
  try {
    commands.drain();
    // Each turn carries out the current orders until a stop, then waits to
    // be resumed. Plain running spends its time in runUntilEvent.
    for (;;) {
      const cmd = Atomics.load(ctl, Ctl.CMD);
      if (cmd === Cmd.STOP) return finish({ kind: 'stopped' });
      if (cmd === Cmd.PAUSE) {
        if (!waitForResume({ kind: 'pause' })) return finish({ kind: 'stopped' });
        continue;
      }
      const how = orders.how;
      orders.how = { kind: 'continue' };
      // The instruction of an exit the vCPU paused inside (emulator) was the step.
      const stepDone = resumedInExit;
      resumedInExit = false;
      const stop = stepper.carryOut(how, stepDone);
      if (stop === 'kicked') continue;
      if (!waitForResume(stop)) return finish({ kind: 'stopped' });
    }
  } catch (e) {
    finish(e instanceof Finished ? e.end : { kind: 'host-error', message: e instanceof Error ? e.message : String(e) });
  }
}
