// An emulated vCPU behind the backend seam, on its own thread: one Unicorn
// engine (created by the machine, vmm/emu/machine.ts) whose hooks complete
// port I/O, MMIO and CPUID synchronously inside the guest's instruction, as a
// KVM exit would be completed, and deliver exceptions through the guest's IDT
// (vmm/emu/deliver.ts), which Unicorn does not do itself.
//
// Ports nobody claims are counted in C without entering JavaScript (the fast
// path); a stop at an exit breakpoint pauses the vCPU inside the hook, before
// the device sees the access. While exit filters or watchpoints are set, a
// do-nothing code hook makes stops requested from inside an instruction land
// right after it (see docs/backends.md). A kick from another thread takes
// effect in a block hook, at a block boundary, so a stopped run never leaves
// rip behind. Several vCPUs of one VM take turns through a ticket lock:
// `lock`-prefixed instructions are not atomic across Unicorn engines, so only
// one runs at a time, as in QEMU's single-threaded TCG.

import { KvmExit } from '../kvm/constants';
import { hostNow } from '../devices/bus';
import type { DebugConfig, HwSlot } from '../debug';
import type { ExitInfo } from '../exit-trace';
import type { CpuSnapshot, VcpuStop } from '../exits';
import type { ExitSink, LoopEvent, VcpuBackend } from '../backend';
import { physReader } from '../paging/phys';
import { gpa as toGpa, gva, type Gva } from '../../common/address';
import { translate as walkTranslate } from '../paging/walk';
import { EmuVcpuState } from './state';
import { PORT_COUNT, SHARED_BYTES, type EmuVcpuConfig } from './config';
import { clearOldException, pendingException } from './context';
import { loadUnicorn, type UnicornNative } from './native';
import { deliver, hasErrorCode, pageFaultErrorCode, type DeliveryCpu } from './deliver';

const TURN = { NEXT: 0, SERVING: 1, HOLDER: 2 } as const;
/**
 * How long a run lasts while an interrupt waits for RFLAGS.IF (Unicorn exposes
 * no interrupt window), in ms. A time slice, not an instruction count: a run
 * that Unicorn ends after a count cannot be told apart from one that ended on
 * HLT when the byte before rip happens to be 0xF4 (seen booting Linux).
 */
const IRQ_WINDOW_MS = 0.05;
const BS = 1n << 14n;

const UC_ERRORS: Record<number, string> = {
  6: 'a read from guest-physical memory that nothing backs',
  7: 'a write to guest-physical memory that nothing backs',
  8: 'an instruction fetch from guest-physical memory that nothing backs',
  10: 'an instruction the emulator cannot run',
  // RAM and ROM are mapped with every permission and the holes between them as MMIO, which Unicorn cannot
  // execute from: a *_PROT error is an access Unicorn refused in MMIO, not the guest's page protection.
  12: 'a read from MMIO that the emulator refused',
  13: 'a write to MMIO that the emulator refused',
  14: 'an instruction fetch outside RAM and ROM (from MMIO, or guest-physical memory nothing backs)',
  21: 'a CPU exception the emulator could not deliver',
};

export class EmuVcpu implements VcpuBackend {
  readonly state: EmuVcpuState;
  private readonly uc: UnicornNative;
  private readonly C: Readonly<Record<string, number>>;
  private readonly id: number;
  private readonly ports: Uint8Array;
  private readonly counts: Uint32Array;
  private readonly fast: BigUint64Array;
  private fastSeen = 0n;
  private portsForHooks: boolean | undefined;
  private readonly memory: Array<{ gpa: number; bytes: Uint8Array }>;
  /** Guest-physical reads over `memory`, for page walks. */
  private readonly reader: ReturnType<typeof physReader>;
  /** What a hook decided the run ends with (taken before anything else). */
  private pending: LoopEvent | undefined;
  private stepping = false;
  private mask: bigint | undefined;
  private config: DebugConfig = { slots: [], softwareBreakpoints: false };
  private bpHooks = new Map<bigint, bigint>();
  private watchHooks = new Map<string, bigint>();
  private preciseHook: bigint | undefined;
  private readonly turn: Int32Array | undefined;
  private readonly ripId: number;
  /** An interrupt waits for RFLAGS.IF: run a few thousand instructions at a time and look again. */
  private irqWindow = false;
  private readonly memWrites: Int32Array;
  private memSeen = 0;
  private readonly msrExits: Int32Array;
  private msrHook: bigint | undefined;
  /** The device timers' deadline (hostNow() ms). */
  private deadline = Infinity;
  /** The stop time the engine has: the deadline, or sooner while an interrupt waits for IF. */
  private armed = Infinity;
  /** An end the loop stopped on through an exit breakpoint (HLT, shutdown), taken when the vCPU resumes. */
  private pendingEnd: LoopEvent | undefined;

  constructor(private readonly cfg: EmuVcpuConfig, private readonly sink: ExitSink) {
    this.uc = loadUnicorn().native;
    this.C = this.uc.ucConstants;
    this.id = cfg.engine;
    this.ripId = this.C.UC_X86_REG_RIP!;
    this.ports = new Uint8Array(this.uc.externalBuffer(cfg.shared.ports, SHARED_BYTES.ports));
    this.counts = new Uint32Array(this.uc.externalBuffer(cfg.shared.counts, SHARED_BYTES.counts));
    this.fast = new BigUint64Array(this.uc.externalBuffer(cfg.shared.fast, SHARED_BYTES.fast));
    this.memory = cfg.regions.map((r) => ({ gpa: r.gpa, bytes: new Uint8Array(this.uc.externalBuffer(r.hva, r.size)) }));
    this.reader = physReader({ regions: this.memory });
    this.state = new EmuVcpuState(this.uc, this.id, this.reader, () => cfg.paging);
    this.turn = cfg.turn ? new Int32Array(cfg.turn.words) : undefined;
    this.memWrites = new Int32Array(cfg.memWrites);
    this.memSeen = Atomics.load(this.memWrites, 0);
    this.msrExits = new Int32Array(cfg.msrExits);
    this.uc.ucSetHandlers(
      this.id,
      {
        io: (dir, port, size, value) => this.onIo(dir, port, size, value),
        mmio: (dir, gpa, size, value) => this.onMmio(dir, gpa, size, value),
        intr: (vector) => this.onInterrupt(vector),
        invalid: () => this.onInvalid(),
        cpuid: () => this.onCpuid(),
        msr: (write) => this.onMsr(write),
        syscall: () => this.onSyscall(),
      },
      cfg.shared.ports,
      cfg.shared.counts,
      cfg.shared.fast,
    );
    this.updatePorts();
  }

  // ---- the seam ------------------------------------------------------------

  snapshot(): CpuSnapshot {
    return { regs: this.state.getRegs(), sregs: this.state.getSregs() };
  }

  setTracing(_on: boolean): void {
    this.updatePorts();
  }

  registerOf(name: string): bigint | undefined {
    const id = this.C[`UC_X86_REG_${name.toUpperCase()}`];
    return id === undefined ? undefined : this.uc.ucRegRead(this.id, id);
  }

  settle(): void {
    // Exits complete inside the instruction: nothing is ever half done.
  }

  /** Delivers through the IDT when RFLAGS.IF is set; otherwise runs in short slices until it is. */
  injectInterrupt(vector: number): boolean {
    if (!this.interruptWindowOpen()) return false;
    this.raise(vector, 'interrupt');
    return true;
  }

  interruptWindowOpen(): boolean {
    const IF = 1n << 9n;
    this.irqWindow = !(this.uc.ucRegRead(this.id, this.C.UC_X86_REG_RFLAGS!) & IF);
    return !this.irqWindow;
  }

  setDeadline(ms: number): void {
    this.deadline = ms;
    this.armDeadline(ms);
  }

  /** Gives the engine its stop time (hostNow() ms) when it changed. */
  private armDeadline(ms: number): void {
    if (ms === this.armed) return;
    this.armed = ms;
    this.uc.ucSetDeadline(this.id, Number.isFinite(ms) ? BigInt(Math.ceil(ms * 1e6)) : 0n);
  }

  resumePendingExit(): LoopEvent | undefined {
    const end = this.pendingEnd;
    this.pendingEnd = undefined;
    return end;
  }

  applyDebug(config: DebugConfig, singleStep: boolean, mask?: bigint): void {
    this.stepping = singleStep;
    this.mask = mask;
    if (config === this.config && this.preciseHook !== undefined === this.wantPrecise()) return;
    this.config = config;
    let changed = false;
    const execs = new Set<bigint>(config.slots.filter((s): s is HwSlot => !!s && s.kind === 'exec').map((s) => s.addr));
    for (const [addr, h] of this.bpHooks) {
      if (!execs.has(addr)) {
        this.uc.ucHookDel(this.id, h);
        this.bpHooks.delete(addr);
        changed = true;
      }
    }
    for (const addr of execs) {
      if (!this.bpHooks.has(addr)) {
        this.bpHooks.set(addr, this.uc.ucHookBreakpoint(this.id, addr));
        changed = true;
      }
    }
    const watches = new Map(config.slots.filter((s): s is HwSlot => !!s && s.kind !== 'exec').map((s) => [`${s.addr}:${s.len}:${s.kind}`, s]));
    for (const [key, h] of this.watchHooks) {
      if (!watches.has(key)) {
        this.uc.ucHookDel(this.id, h);
        this.watchHooks.delete(key);
        changed = true;
      }
    }
    for (const [key, s] of watches) {
      if (!this.watchHooks.has(key)) {
        this.watchHooks.set(key, this.uc.ucHookWatch(this.id, s.addr, s.len, s.kind !== 'read', s.kind !== 'write'));
        changed = true;
      }
    }
    changed = this.updatePrecise() || changed;
    // Hooks apply to code translated after they were added: drop what was translated before.
    if (changed) this.uc.ucCtl(this.id, 'flush-tb');
  }

  runOnce(): LoopEvent | undefined {
    if (this.portsForHooks !== this.sink.hooks || this.preciseHook !== undefined !== this.wantPrecise()) {
      this.updatePorts();
      if (this.updatePrecise()) this.uc.ucCtl(this.id, 'flush-tb');
    }
    const wantMsr = Atomics.load(this.msrExits, 0) === 1;
    if (wantMsr !== (this.msrHook !== undefined)) {
      if (wantMsr) this.msrHook = this.uc.ucHookMsr(this.id);
      else {
        this.uc.ucHookDel(this.id, this.msrHook!);
        this.msrHook = undefined;
      }
      this.uc.ucCtl(this.id, 'flush-tb');
    }
    this.pending = undefined;
    // Unicorn does not see host writes to guest memory: code it translated from bytes the debugger changed is stale.
    const mem = Atomics.load(this.memWrites, 0);
    if (mem !== this.memSeen) {
      this.memSeen = mem;
      this.uc.ucCtl(this.id, 'flush-tb');
    }
    const rip = this.uc.ucRegRead(this.id, this.ripId);
    if (this.mask !== undefined) this.uc.ucSkipOnce(this.id, this.mask);
    this.armDeadline(this.irqWindow ? Math.min(this.deadline, hostNow() + IRQ_WINDOW_MS) : this.deadline);
    this.takeTurn();
    let r;
    try {
      // No Unicorn timeout: when one stops a run, Unicorn leaves rip at an earlier
      // instruction, which then runs twice (a lock xadd counted twice in the
      // smp-xadd guest). Time slices end with a kick instead (takeTurn).
      r = this.uc.ucEmuStart(this.id, rip, 0, this.stepping ? 1 : 0);
    } finally {
      // The loop asks again before the next run if an interrupt still waits.
      this.irqWindow = false;
      this.giveTurn();
      this.countFastExits();
    }
    const [err, stopKind, stopAddr, , kicked, timedOut] = r;
    // Set by the hooks during the run (TypeScript cannot see that through the call).
    const pending = this.pending as LoopEvent | undefined;
    if (pending) return pending.kind === 'end' ? this.ending(pending) : pending;
    const C = this.C;
    if (err !== C.UC_ERR_OK) return { kind: 'end', end: { kind: 'emulation-error', message: UC_ERRORS[err] ?? `Unicorn error ${err}`, cpu: this.snapshot() } };
    if (stopKind === C.STOP_BREAKPOINT) return { kind: 'debug', exception: 1, pc: gva(stopAddr), dr6: 0n, slots: this.slotsAt(stopAddr) };
    if (stopKind === C.STOP_WATCH_READ || stopKind === C.STOP_WATCH_WRITE) {
      return { kind: 'debug', exception: 1, pc: this.pc(), dr6: 0n, slots: this.watchSlotsAt(stopAddr) };
    }
    if (this.stepping && !kicked) return { kind: 'debug', exception: 1, pc: this.pc(), dr6: BS, slots: [] };
    if (kicked || timedOut || stopKind === C.STOP_REQUESTED) return { kind: 'kicked' };
    // A run with no count, no stop and no kick ends only on HLT: Unicorn returns with rip past it and nothing else to tell.
    if (this.byteAt(this.pc() - 1n) === 0xf4) return this.ending({ kind: 'end', end: { kind: 'halted', cpu: this.snapshot() } });
    return { kind: 'kicked' };
  }

  finish(): void {
    this.countFastExits();
    // Fold the ports the C fast path counted into the bus's record of unclaimed accesses.
    for (let port = 0; port < PORT_COUNT; port++) {
      const reads = this.counts[4 * port]!;
      const writes = this.counts[4 * port + 1]!;
      if (reads || writes) this.sink.addUnclaimedPio(port, this.counts[4 * port + 3]!, reads, writes, this.counts[4 * port + 2]!);
    }
  }

  /**
   * An end that KVM reports as an exit (HLT, shutdown): counted, traced and
   * offered to the exit filters; a filter that stops holds the end until the
   * vCPU resumes, as KVM's exit would.
   */
  private ending(ev: Extract<LoopEvent, { kind: 'end' }>): LoopEvent {
    const kind = ev.end.kind;
    const exit: ExitInfo | undefined = kind === 'halted' ? { reason: 'hlt' } : kind === 'triple-fault' ? { reason: 'shutdown' } : undefined;
    if (!exit) return ev;
    const code = exit.reason === 'hlt' ? KvmExit.HLT : KvmExit.SHUTDOWN;
    this.sink.count(code);
    if (!this.sink.hooks) return ev;
    const hit = this.sink.exitHooks(code, exit, (n) => this.registerOf(n), () => this.uc.ucRegRead(this.id, this.ripId));
    if (!hit) return ev;
    this.pendingEnd = ev;
    return hit;
  }

  // ---- hooks (called by Unicorn inside an instruction) -----------------------

  /** RDMSR/WRMSR about to run (the MSR scan hook): an exit as KVM's MSR filter gives one; Unicorn then runs the instruction. */
  private onMsr(write: number): void {
    const C = this.C;
    const lo = (r: number) => this.uc.ucRegRead(this.id, r) & 0xffffffffn;
    const index = Number(lo(C.UC_X86_REG_RCX!));
    const data = write ? (lo(C.UC_X86_REG_RDX!) << 32n) | lo(C.UC_X86_REG_RAX!) : this.uc.ucMsrRead(this.id, index);
    const code = write ? KvmExit.X86_WRMSR : KvmExit.X86_RDMSR;
    if (!this.atExit(code, { reason: write ? 'wrmsr' : 'rdmsr', index, data })) return;
    // The instruction has not run yet: stop before the next one, not before this one.
    if (this.sink.stopAfterExit()) this.uc.ucStopNext(this.id);
  }


  private onIo(dir: number, port: number, size: number, value: number): number {
    const exit: ExitInfo = { reason: 'io', port, size, direction: dir ? 'out' : 'in', count: 1 };
    if (dir) exit.value = value;
    if (!this.atExit(KvmExit.IO, exit)) return 0;
    let result = 0;
    if (dir) this.sink.pioWrite(port, size, value);
    else result = this.sink.pioRead(port, size);
    this.afterExit();
    return result;
  }

  private onMmio(dir: number, gpa: bigint, size: number, value: bigint): bigint {
    const at = toGpa(gpa);
    const exit: ExitInfo = { reason: 'mmio', gpa: at, len: size, write: dir === 1, ...(dir ? { value } : {}) };
    if (!this.atExit(KvmExit.MMIO, exit)) return 0n;
    let result = 0n;
    if (dir) this.sink.mmioWrite(at, size, value);
    else result = this.sink.mmioRead(at, size);
    this.afterExit();
    return result;
  }

  /** Counts and hooks an exit; pauses inside it if a filter says so. False when the machine is stopping. */
  private atExit(code: number, exit: ExitInfo): boolean {
    this.sink.count(code);
    if (!this.sink.hooks) return true;
    const hit = this.sink.exitHooks(code, exit, (n) => this.registerOf(n), () => this.uc.ucRegRead(this.id, this.ripId));
    if (!hit) return true;
    const stop: VcpuStop = { kind: 'exit', filter: hit.filter, code: hit.code, exit: hit.exit, hits: hit.hits };
    // Other vCPUs may run while this one waits inside its instruction.
    this.giveTurn();
    const resumed = this.sink.pauseInExit(stop);
    this.takeTurn();
    if (!resumed) {
      this.pending = { kind: 'kicked' };
      this.uc.ucEmuStop(this.id);
    }
    return resumed;
  }

  private afterExit(): void {
    const end = this.sink.pendingEnd();
    // A device raised an interrupt: leave at the next block boundary so the loop delivers it.
    if (this.sink.interruptRaised()) this.uc.ucKick(this.id);
    this.setDeadline(this.sink.deadline());
    if (end) {
      this.pending = { kind: 'end', end };
      this.uc.ucEmuStop(this.id);
    } else if (this.sink.stopAfterExit()) {
      // Before the next instruction, through the code hook over every address (on while exit filters
      // are), as a watchpoint's stop: from a memory hook a uc_emu_stop leaves rip on the instruction
      // that already ran (measured); the same path for both keeps that from mattering here.
      this.uc.ucStopNext(this.id);
    }
  }

  private onCpuid(): boolean {
    const C = this.C;
    const fn = Number(this.uc.ucRegRead(this.id, C.UC_X86_REG_RAX!) & 0xffffffffn);
    const index = Number(this.uc.ucRegRead(this.id, C.UC_X86_REG_RCX!) & 0xffffffffn);
    // A leaf beyond the table answers as the highest basic leaf does (SDM: CPUID, "If a value entered ... is invalid").
    const e =
      this.cfg.cpuid.find((x) => x.function === fn && (x.index === index || !(x.flags & 1))) ??
      (fn >= 0x80000000 ? undefined : this.cfg.cpuid.find((x) => x.function === (this.cfg.cpuid.find((y) => y.function === 0)?.eax ?? 0) && x.index === 0));
    const [a, b, c, d] = e ? [e.eax, e.ebx, e.ecx, e.edx] : [0, 0, 0, 0];
    this.uc.ucRegWrite(this.id, C.UC_X86_REG_RAX!, BigInt(a >>> 0));
    this.uc.ucRegWrite(this.id, C.UC_X86_REG_RBX!, BigInt(b >>> 0));
    this.uc.ucRegWrite(this.id, C.UC_X86_REG_RCX!, BigInt(c >>> 0));
    this.uc.ucRegWrite(this.id, C.UC_X86_REG_RDX!, BigInt(d >>> 0));
    return true;
  }

  /**
   * An exception or a software interrupt. Unicorn gives only the vector; its
   * CPU state says whether INT n raised it and the error code (vmm/emu/context.ts).
   */
  private onInterrupt(vector: number): void {
    const raised = pendingException(this.uc, this.id);
    if (vector === 3 && raised.software && this.config.softwareBreakpoints) {
      // As KVM_GUESTDBG_USE_SW_BP: the debugger gets the #BP, rip back on the int3.
      const rip = this.uc.ucRegRead(this.id, this.ripId);
      this.uc.ucRegWrite(this.id, this.ripId, rip - 1n);
      this.pending = { kind: 'debug', exception: 3, pc: this.pc(), dr6: 0n };
      clearOldException(this.uc, this.id);
      this.uc.ucEmuStop(this.id);
      return;
    }
    this.raise(vector, raised.software ? 'software' : 'exception', raised.errorCode);
  }

  /**
   * SYSCALL, which Unicorn turns into a hook call and nothing else: the
   * transition to ring 0 as the SDM gives it (Vol. 2B, SYSCALL). rip is the
   * instruction's own address here, and Unicorn adds the instruction's length
   * after this returns, so every rip written here has that length taken off.
   */
  private onSyscall(): void {
    const r = this.state.getRegs();
    const s = this.state.getSregs();
    let len = 0;
    const bytes = this.readLinear(this.state.csBase() + r.rip, 15);
    while (bytes && len < 14 && !(bytes[len] === 0x0f && bytes[len + 1] === 0x05)) len++;
    len += 2;
    const lma = (s.efer & (1n << 10n)) !== 0n;
    if (!(s.efer & 1n) || !lma) {
      // SCE clear (or legacy mode, which vmscope's guests never use SYSCALL in): #UD at the instruction.
      this.raise(6, 'exception');
      this.uc.ucRegWrite(this.id, this.ripId, this.uc.ucRegRead(this.id, this.ripId) - BigInt(len));
      return;
    }
    const star = this.uc.ucMsrRead(this.id, 0xc0000081);
    const target = s.cs.l ? this.uc.ucMsrRead(this.id, 0xc0000082) : this.uc.ucMsrRead(this.id, 0xc0000083);
    const fmask = this.uc.ucMsrRead(this.id, 0xc0000084);
    const RF = 1n << 16n;
    const sel = Number((star >> 32n) & 0xffffn);
    const flat = { base: 0n, limit: 0xffffffff, present: 1, s: 1, g: 1, avl: 0, unusable: 0 };
    this.state.setSregs({
      ...s,
      cs: { ...flat, selector: sel & 0xfffc, type: 11, dpl: 0, db: 0, l: 1 },
      ss: { ...flat, selector: (sel + 8) & 0xffff, type: 3, dpl: 0, db: 1, l: 0 },
    });
    this.state.setRegs({ ...r, rcx: r.rip + BigInt(len), r11: r.rflags & ~RF, rflags: (r.rflags & ~fmask & ~RF) | 2n, rip: target - BigInt(len) });
  }

  private onInvalid(): boolean {
    return this.raise(6, 'exception');
  }

  /** Delivers a vector through the guest's IDT; a triple fault ends the vCPU as a shutdown. */
  private raise(vector: number, source: 'exception' | 'software' | 'interrupt', cpuErrorCode?: number): boolean {
    const cpu = this.deliveryCpu();
    let errorCode: number | undefined;
    if (source === 'exception' && hasErrorCode(vector)) {
      // The error code QEMU's CPU computed; #UD (from the invalid-opcode hook) has none.
      errorCode = cpuErrorCode ?? (vector === 14 ? pageFaultErrorCode(cpu, this.state.getSregs().cr2, this.cfg.paging) : 0);
    }
    const r = deliver(cpu, errorCode === undefined ? { vector, source } : { vector, source, errorCode });
    if (r.kind === 'triple-fault') {
      this.pending = { kind: 'end', end: { kind: 'triple-fault', cpu: this.snapshot() } };
      this.uc.ucEmuStop(this.id);
      return false;
    }
    clearOldException(this.uc, this.id);
    return true;
  }

  private deliveryCpu(): DeliveryCpu {
    return {
      getRegs: () => this.state.getRegs(),
      setRegs: (r) => this.state.setRegs(r),
      getSregs: () => this.state.getSregs(),
      setSregs: (s) => this.state.setSregs(s),
      readLinear: (addr, len) => this.readLinear(addr, len),
      writeLinear: (addr, bytes) => this.writeLinear(addr, bytes),
      readPhys: this.reader,
    };
  }

  // ---- helpers ---------------------------------------------------------------

  /** Port policy: 1 where a device claims the port or exit hooks want every access. */
  private updatePorts(): void {
    const all = this.sink.hooks;
    for (let p = 0; p < PORT_COUNT; p++) this.ports[p] = all || this.sink.claimsPort(p) ? 1 : 0;
    this.portsForHooks = all;
  }

  /** The code hook over every address costs most of the emulator's speed: only while a stop can come from inside an instruction. */
  private wantPrecise(): boolean {
    return this.sink.filtering || this.watchHooks.size > 0;
  }

  /** Adds or removes the all-address code hook; true when it changed. */
  private updatePrecise(): boolean {
    const want = this.wantPrecise();
    if (want && this.preciseHook === undefined) {
      this.preciseHook = this.uc.ucHookPrecise(this.id);
      return true;
    }
    if (!want && this.preciseHook !== undefined) {
      this.uc.ucHookDel(this.id, this.preciseHook);
      this.preciseHook = undefined;
      return true;
    }
    return false;
  }

  private countFastExits(): void {
    const n = this.fast[0]!;
    if (n !== this.fastSeen) {
      this.sink.count(KvmExit.IO, Number(n - this.fastSeen));
      this.fastSeen = n;
    }
  }

  private slotsAt(addr: bigint): number[] {
    return this.config.slots.flatMap((s, i) => (s && s.kind === 'exec' && s.addr === addr ? [i] : []));
  }

  private watchSlotsAt(addr: bigint): number[] {
    const hit = this.config.slots.flatMap((s, i) => (s && s.kind !== 'exec' && addr < s.addr + BigInt(s.len) && s.addr <= addr ? [i] : []));
    return hit.length ? hit : this.config.slots.flatMap((s, i) => (s && s.kind !== 'exec' ? [i] : []));
  }

  /** Linear address of the next instruction: CS base + rip. */
  private pc(): Gva {
    return gva(BigInt.asUintN(64, this.state.csBase() + this.uc.ucRegRead(this.id, this.ripId)));
  }

  private byteAt(linear: bigint): number | undefined {
    return this.readLinear(linear, 1)?.[0];
  }

  private readLinear(addr: bigint, len: number): Uint8Array | undefined {
    const out = new Uint8Array(len);
    return this.linearBytes(addr, len, (i, bytes, at) => (out[i] = bytes[at]!)) ? out : undefined;
  }

  private writeLinear(addr: bigint, data: Uint8Array): boolean {
    return this.linearBytes(addr, data.length, (i, bytes, at) => (bytes[at] = data[i]!));
  }

  /**
   * Visits the guest RAM byte behind each of `len` linear addresses from
   * `addr`, through the vCPU's page tables as they are now (read once), one
   * translation per page. False, and no visit beyond it, when a byte is not mapped.
   */
  private linearBytes(addr: bigint, len: number, visit: (i: number, bytes: Uint8Array, at: number) => void): boolean {
    const ctx = { ...this.state.pagingRegs(), ...this.cfg.paging };
    let page = -1n;
    let base: number | undefined;
    for (let i = 0; i < len; i++) {
      const linear = addr + BigInt(i);
      if (linear >> 12n !== page) {
        page = linear >> 12n;
        base = walkTranslate(gva(page << 12n), ctx, this.reader);
      }
      if (base === undefined) return false;
      const gpa = base + Number(linear & 0xfffn);
      const r = this.memory.find((m) => gpa >= m.gpa && gpa < m.gpa + m.bytes.length);
      if (!r) return false;
      visit(i, r.bytes, gpa - r.gpa);
    }
    return true;
  }

  /**
   * Waits for this vCPU's turn to run (several vCPUs), first come first
   * served. A vCPU that has held the turn for a whole time slice is kicked so
   * that it yields. Not sooner: kicking it as it starts would return it at
   * once, and two vCPUs would hand the turn back and forth without running an
   * instruction.
   */
  private takeTurn(): void {
    const w = this.turn;
    if (!w) return;
    const ticket = Atomics.add(w, TURN.NEXT, 1);
    const sliceMs = this.cfg.sliceUs / 1000;
    for (;;) {
      const serving = Atomics.load(w, TURN.SERVING);
      if (serving === ticket) break;
      if (Atomics.wait(w, TURN.SERVING, serving, sliceMs) === 'timed-out' && Atomics.load(w, TURN.SERVING) === serving) {
        const holder = Atomics.load(w, TURN.HOLDER);
        if (holder >= 0) this.uc.ucKick(holder);
      }
    }
    Atomics.store(w, TURN.HOLDER, this.id);
  }

  private giveTurn(): void {
    const w = this.turn;
    if (!w) return;
    Atomics.store(w, TURN.HOLDER, -1);
    Atomics.add(w, TURN.SERVING, 1);
    Atomics.notify(w, TURN.SERVING);
  }
}
