// A KVM vCPU behind the backend seam: KVM_RUN and the kvm_run page. Port I/O,
// MMIO and filtered MSR exits are completed here through the loop's sink; an
// exit breakpoint is returned to the loop, which completes it when the vCPU
// resumes (KVM then finishes the instruction on the next KVM_RUN).

import { gpa as toGpa, gva } from '../../common/address';
import type { KvmNative } from './native';
import { EAGAIN, EINTR, KvmExit, KVM_EXIT_IO_OUT } from './constants';
import { GPR_NAMES } from './structs';
import { VcpuState } from '../vcpu-state';
import { guestDebugFor, type DebugConfig } from '../debug';
import type { ExitInfo } from '../exit-trace';
import type { CpuSnapshot } from '../exits';
import type { ExitSink, LoopEvent, VcpuBackend } from '../backend';

export class KvmVcpu implements VcpuBackend {
  readonly state: VcpuState;
  private readonly run: DataView;
  private readonly runBytes: Uint8Array;
  private readonly L: Record<string, number>;
  private lastExitWasIo = false;
  private pendingExit: number | undefined;
  private applied = '';
  private tracing = false;
  /** The device-timer deadline the thread's timer is armed for (hostNow() ms). */
  private deadline = Infinity;
  private readonly syncRegsFlag: bigint;

  constructor(
    private readonly native: KvmNative,
    private readonly fd: number,
    mmapSize: number,
    private readonly sink: ExitSink,
  ) {
    this.L = native.layout.kvm_run as Record<string, number>;
    const buf = native.mapRun(fd, mmapSize);
    this.run = new DataView(buf);
    this.runBytes = new Uint8Array(buf);
    this.state = new VcpuState(native, fd);
    this.syncRegsFlag = BigInt(native.constants.KVM_SYNC_X86_REGS ?? 1);
  }

  snapshot(): CpuSnapshot {
    return { regs: this.state.getRegs(), sregs: this.state.getSregs() };
  }

  /** KVM_INTERRUPT when kvm_run says the guest takes one; else an interrupt-window exit is requested. */
  injectInterrupt(vector: number): boolean {
    if (!this.interruptWindowOpen()) return false;
    const buf = new Uint32Array([vector]);
    this.native.interrupt(this.fd, buf);
    return true;
  }

  interruptWindowOpen(): boolean {
    const L = this.L;
    const open = this.run.getUint8(L.ready_for_interrupt_injection!) !== 0 && this.run.getUint8(L.if_flag!) !== 0;
    this.runBytes[L.request_interrupt_window!] = open ? 0 : 1;
    return open;
  }

  setDeadline(ms: number): void {
    if (ms === this.deadline) return;
    this.deadline = ms;
    this.native.setDeadline(Number.isFinite(ms) ? Math.ceil(ms * 1e6) : 0);
  }

  setTracing(on: boolean): void {
    this.tracing = on;
    this.run.setBigUint64(this.L.kvm_valid_regs!, on ? this.syncRegsFlag : 0n, true);
  }

  /** From kvm_run's sync regs when tracing (no ioctl), else KVM_GET_REGS. */
  registerOf(name: string): bigint | undefined {
    const i = (GPR_NAMES as readonly string[]).indexOf(name);
    if (i < 0) return undefined;
    // kvm_regs and GPR_NAMES share one order.
    return this.tracing ? this.run.getBigUint64(this.L.sync_regs! + 8 * i, true) : this.state.getRegs()[GPR_NAMES[i]!];
  }

  /** Sets KVM_SET_GUEST_DEBUG, skipping the ioctl when nothing changed. */
  applyDebug(config: DebugConfig, singleStep: boolean, mask?: bigint): void {
    const { control, debugreg } = guestDebugFor(config, singleStep, mask);
    const key = `${control}:${debugreg.join(',')}`;
    if (key === this.applied) return;
    this.state.setGuestDebug(control, debugreg);
    this.applied = key;
  }

  /**
   * Lets KVM finish an in-progress IN/MMIO read (it does so at the start of
   * the next KVM_RUN) without entering the guest, so that registers read
   * while paused show the completed instruction.
   */
  settle(): void {
    if (!this.lastExitWasIo) return;
    const off = this.L.immediate_exit!;
    this.runBytes[off] = 1;
    this.native.run(this.fd);
    this.runBytes[off] = 0;
    this.lastExitWasIo = false;
  }

  runOnce(): LoopEvent | undefined {
    const r = this.native.run(this.fd);
    if (r === -EINTR || r === -EAGAIN) {
      this.runBytes[this.L.immediate_exit!] = 0;
      return { kind: 'kicked' };
    }
    const reason = this.run.getUint32(this.L.exit_reason!, true);
    this.sink.count(reason);
    this.lastExitWasIo = false;
    if (this.sink.hooks) {
      const rip = () => (this.tracing ? this.run.getBigUint64(this.L.sync_rip!, true) : this.state.getRegs().rip);
      const stop = this.sink.exitHooks(reason, decodeExit(this.run, this.L, reason), (n) => this.registerOf(n), rip);
      if (stop) {
        this.pendingExit = reason;
        return stop;
      }
    }
    return this.handleExit(reason);
  }

  /** Resuming from an exit breakpoint: the exit now completes as if no breakpoint had been there. */
  resumePendingExit(): LoopEvent | undefined {
    this.runBytes[this.L.immediate_exit!] = 0;
    if (this.pendingExit === undefined) return undefined;
    const code = this.pendingExit;
    this.pendingExit = undefined;
    return this.handleExit(code);
  }

  finish(): void {
    this.native.unmapRun(this.fd);
  }

  private handleIo(): void {
    const run = this.run;
    const L = this.L;
    const dir = run.getUint8(L.io_direction!);
    const size = run.getUint8(L.io_size!);
    const port = run.getUint16(L.io_port!, true);
    const count = run.getUint32(L.io_count!, true);
    let at = run.getUint32(L.io_data_offset!, true); // data_offset is within the kvm_run mapping
    for (let i = 0; i < count; i++, at += size) {
      if (dir === KVM_EXIT_IO_OUT) {
        const v = size === 1 ? run.getUint8(at) : size === 2 ? run.getUint16(at, true) : run.getUint32(at, true);
        this.sink.pioWrite(port, size, v);
      } else {
        const v = this.sink.pioRead(port, size);
        if (size === 1) run.setUint8(at, v);
        else if (size === 2) run.setUint16(at, v, true);
        else run.setUint32(at, v >>> 0, true);
      }
    }
  }

  private handleMmio(): void {
    const L = this.L;
    const gpa = toGpa(this.run.getBigUint64(L.mmio_phys_addr!, true));
    const len = this.run.getUint32(L.mmio_len!, true);
    const isWrite = this.run.getUint8(L.mmio_is_write!) !== 0;
    const data = L.mmio_data!;
    if (isWrite) {
      let v = 0n;
      for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.runBytes[data + i]!);
      this.sink.mmioWrite(gpa, len, v);
    } else {
      let v = this.sink.mmioRead(gpa, len);
      for (let i = 0; i < len; i++, v >>= 8n) this.runBytes[data + i] = Number(v & 0xffn);
    }
  }

  /** What an exit does: device accesses, ends, debug events. */
  private handleExit(reason: number): LoopEvent | undefined {
    const run = this.run;
    const L = this.L;
    switch (reason) {
      case KvmExit.IO: {
        this.lastExitWasIo = run.getUint8(L.io_direction!) !== KVM_EXIT_IO_OUT;
        this.handleIo();
        const end = this.sink.pendingEnd();
        return end ? { kind: 'end', end } : undefined;
      }
      case KvmExit.MMIO:
        this.lastExitWasIo = run.getUint8(L.mmio_is_write!) === 0;
        this.handleMmio();
        return undefined;
      case KvmExit.INTR:
        return { kind: 'kicked' };
      case KvmExit.IRQ_WINDOW_OPEN:
        // The guest takes interrupts now: the loop delivers the pending one before the next entry.
        return { kind: 'kicked' };
      case KvmExit.X86_RDMSR: {
        // A filtered MSR (see KvmMachine.trapMsrs): read it as KVM holds it; a refusal becomes #GP.
        const index = run.getUint32(L.msr_index!, true);
        const v = this.state.getMsrs([index]).get(index);
        run.setUint8(L.msr_error!, v === undefined ? 1 : 0);
        if (v !== undefined) run.setBigUint64(L.msr_data!, v, true);
        return undefined;
      }
      case KvmExit.X86_WRMSR: {
        const ok = this.state.setMsrs([{ index: run.getUint32(L.msr_index!, true), data: run.getBigUint64(L.msr_data!, true) }]) === 1;
        run.setUint8(L.msr_error!, ok ? 0 : 1);
        return undefined;
      }
      case KvmExit.DEBUG:
        return {
          kind: 'debug',
          exception: run.getUint32(L.debug_exception!, true),
          pc: gva(run.getBigUint64(L.debug_pc!, true)),
          dr6: run.getBigUint64(L.debug_dr6!, true),
        };
      case KvmExit.HLT:
        return { kind: 'end', end: { kind: 'halted', cpu: this.snapshot() } };
      case KvmExit.SHUTDOWN:
        return { kind: 'end', end: { kind: 'triple-fault', cpu: this.snapshot() } };
      case KvmExit.FAIL_ENTRY:
        return {
          kind: 'end',
          end: {
            kind: 'entry-failure',
            hardwareReason: run.getBigUint64(L.fail_entry_reason!, true),
            hostCpu: run.getUint32(L.fail_entry_cpu!, true),
            cpu: this.snapshot(),
          },
        };
      case KvmExit.INTERNAL_ERROR: {
        const n = Math.min(run.getUint32(L.internal_ndata!, true), 16);
        const data = Array.from({ length: n }, (_, i) => run.getBigUint64(L.internal_data! + 8 * i, true));
        return { kind: 'end', end: { kind: 'internal-error', suberror: run.getUint32(L.internal_suberror!, true), data, cpu: this.snapshot() } };
      }
      case KvmExit.SYSTEM_EVENT:
        return { kind: 'end', end: { kind: 'system-event', type: run.getUint32(L.system_event_type!, true), cpu: this.snapshot() } };
      default:
        return { kind: 'end', end: { kind: 'unhandled-exit', code: reason, cpu: this.snapshot() } };
    }
  }
}

/** Reads the exit in kvm_run (offsets from the addon's layout). */
function decodeExit(run: DataView, L: Record<string, number>, code: number): ExitInfo {
  switch (code) {
    case KvmExit.IO: {
      const direction = run.getUint8(L.io_direction!) === KVM_EXIT_IO_OUT ? 'out' : 'in';
      const size = run.getUint8(L.io_size!);
      const info: ExitInfo = { reason: 'io', port: run.getUint16(L.io_port!, true), size, direction, count: run.getUint32(L.io_count!, true) };
      if (direction === 'out') {
        const at = run.getUint32(L.io_data_offset!, true);
        info.value = size === 1 ? run.getUint8(at) : size === 2 ? run.getUint16(at, true) : run.getUint32(at, true);
      }
      return info;
    }
    case KvmExit.MMIO: {
      const len = run.getUint32(L.mmio_len!, true);
      const write = run.getUint8(L.mmio_is_write!) !== 0;
      let value: bigint | undefined;
      if (write) {
        value = 0n;
        for (let i = Math.min(len, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(run.getUint8(L.mmio_data! + i));
      }
      const info: ExitInfo = { reason: 'mmio', gpa: toGpa(run.getBigUint64(L.mmio_phys_addr!, true)), len, write, ...(value !== undefined ? { value } : {}) };
      return info;
    }
    case KvmExit.HLT:
      return { reason: 'hlt' };
    case KvmExit.SHUTDOWN:
      return { reason: 'shutdown' };
    case KvmExit.FAIL_ENTRY:
      return { reason: 'fail-entry', hardwareReason: run.getBigUint64(L.fail_entry_reason!, true) };
    case KvmExit.INTERNAL_ERROR:
      return { reason: 'internal-error', suberror: run.getUint32(L.internal_suberror!, true) };
    case KvmExit.DEBUG:
      return { reason: 'debug', exception: run.getUint32(L.debug_exception!, true), pc: gva(run.getBigUint64(L.debug_pc!, true)) };
    case KvmExit.SYSTEM_EVENT:
      return { reason: 'system-event', type: run.getUint32(L.system_event_type!, true) };
    case KvmExit.HYPERCALL:
      return { reason: 'hypercall', nr: run.getBigUint64(L.hypercall_nr!, true) };
    case KvmExit.X86_RDMSR:
    case KvmExit.X86_WRMSR:
      return { reason: code === KvmExit.X86_RDMSR ? 'rdmsr' : 'wrmsr', index: run.getUint32(L.msr_index!, true), data: run.getBigUint64(L.msr_data!, true) };
    default:
      return { reason: 'other', code };
  }
}
