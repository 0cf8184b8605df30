// The backend seam: what the runner needs from whatever runs guest code.
// KVM (vmm/kvm/) and the emulator (vmm/emu/) each implement it; above vmm/,
// code sees only a backend name and a capability record. In the spirit of
// QEMU's accel/kvm and accel/tcg behind one set of operations.

import type { Gpa, Gva } from '../common/address';
import type { DebugConfig } from './debug';
import type { CpuSnapshot, VcpuEnd, VcpuStop } from './exits';
import type { ExitInfo } from './exit-trace';
import type { VcpuStateApi } from './vcpu-state';
import type { EmuVcpuConfig } from './emu/config';

export type BackendName = 'kvm' | 'emu';
/**
 * What runs behind the backend: KVM's implementation (VMX on Intel, SVM on AMD,
 * PVM without hardware virtualization) or the emulator. Exit descriptions and
 * the VMCS view depend on it (only VMX has VMX exit reasons behind KVM's).
 */
export type BackendImplementation = 'vmx' | 'svm' | 'pvm' | 'unknown' | 'emu';
/** What a spec, the CLI or a launch configuration asks for. */
export type AccelChoice = 'auto' | BackendName;

/** What a backend can do for the debugger, as front ends need to know it. */
export interface BackendCapabilities {
  /** int3 breakpoints planted in guest memory reach the debugger. */
  softwareBreakpoints: boolean;
  /** Data watchpoints fire without single-stepping. */
  dataWatchpoints: boolean;
  /** Instruction breakpoints and watchpoints the backend offers at once (DR0-3 on KVM). */
  maxHardwareBreakpoints: number;
  /** The vmcs12 of a guest hypervisor can be read (KVM_CAP_NESTED_STATE). */
  nestedState: boolean;
  /** Guest instructions are counted exactly (the emulator). */
  exactInstructionCount: boolean;
  /** RDMSR/WRMSR can be routed to vmscope (for MSR exit breakpoints). */
  msrExits: boolean;
  /** A hardware VMCS exists behind the exits (KVM on VMX); otherwise the VMCS view is derived. */
  hardwareVmcs: boolean;
}

/** Something the vCPU loop must act on, from one entry into the guest. */
export type LoopEvent =
  | { kind: 'kicked' }
  /**
   * A debug event: #DB (single step, breakpoint, watchpoint) or #BP. `slots`
   * names the breakpoint/watchpoint slots hit where DR6 cannot (more than 4).
   */
  | { kind: 'debug'; exception: number; pc: Gva; dr6: bigint; slots?: number[] }
  /** An exit filter matched: the loop stops before the exit is handled (KVM). */
  | { kind: 'exit-break'; filter: string; code: number; exit: ExitInfo; hits: number }
  | { kind: 'end'; end: VcpuEnd };

/** What the loop gives a backend's vCPU: the device bus, exit hooks and the stop handshake. */
export interface ExitSink {
  /** Counts `n` exits (default 1) of one exit code. */
  count(code: number, n?: number): void;
  /** True when exits must go through `exitHooks` (tracing or filters are on). */
  readonly hooks: boolean;
  /** True when exit filters are set, so an exit may stop the vCPU inside its instruction (tracing alone cannot). */
  readonly filtering: boolean;
  /** Records the exit in the trace and runs the filters; a break event if one matched. */
  exitHooks(code: number, exit: ExitInfo, registerOf: (name: string) => bigint | undefined, rip: () => bigint): Extract<LoopEvent, { kind: 'exit-break' }> | undefined;
  pioRead(port: number, size: number): number;
  pioWrite(port: number, size: number, value: number): void;
  mmioRead(gpa: Gpa, size: number): bigint;
  mmioWrite(gpa: Gpa, size: number, value: bigint): void;
  /**
   * A device access just raised INTR on the platform's interrupt controller:
   * the backend should return from the guest soon (at the next block or exit)
   * so that the loop can deliver it.
   */
  interruptRaised(): boolean;
  /** When the device timers next want to run (hostNow() ms; Infinity: none); a device write may have moved it. */
  deadline(): number;
  /** Whether a device claims the port (a backend may handle unclaimed ports off the bus). */
  claimsPort(port: number): boolean;
  /** Accesses to an unclaimed port that the backend counted itself. */
  addUnclaimedPio(port: number, size: number, reads: number, writes: number, lastValue: number): void;
  /** A device ended the run (the debug-exit port). */
  pendingEnd(): VcpuEnd | undefined;
  /**
   * Publishes `stop` and waits, inside the exit, until the machine resumes
   * this vCPU (true) or stops it (false). For backends whose exits are
   * handled synchronously inside the guest's instruction (the emulator).
   */
  pauseInExit(stop: VcpuStop): boolean;
  /** After pauseInExit returned true: whether the new orders need the vCPU to stop right after this instruction. */
  stopAfterExit(): boolean;
}

/** One vCPU as its own thread's loop drives it. */
export interface VcpuBackend {
  readonly state: VcpuStateApi;
  /** One entry into the guest until something needs the loop. Port I/O and MMIO are handled inside (undefined). */
  runOnce(): LoopEvent | undefined;
  /** Completes an exit the loop stopped on (an exit breakpoint) now that the vCPU resumes. */
  resumePendingExit(): LoopEvent | undefined;
  /** Lets an in-progress IN or MMIO read finish without running guest code, before registers are shown. */
  settle(): void;
  /** Breakpoints, watchpoints and single-step for the next entries; `mask` is an exec address to pass once. */
  applyDebug(config: DebugConfig, singleStep: boolean, mask?: bigint): void;
  /**
   * Delivers an external interrupt now if the guest accepts one (RFLAGS.IF),
   * else asks to be told when it can (KVM's interrupt window; the emulator
   * runs in short slices until IF is set) and returns false.
   */
  injectInterrupt(vector: number): boolean;
  /**
   * Whether the guest takes an external interrupt now (RFLAGS.IF, no
   * interrupt shadow where the backend knows it). When not, the backend
   * arranges to return from the guest when it can (KVM's interrupt window;
   * the emulator runs in short slices) and says false. The platform's
   * interrupt controller is acknowledged only after this says true.
   */
  interruptWindowOpen(): boolean;
  /** Host time (hostNow() ms) at which runOnce must return, as kicked, for the device timers; Infinity: none. */
  setDeadline(ms: number): void;
  /** Exit tracing on or off (KVM then keeps registers in kvm_run). */
  setTracing(on: boolean): void;
  /** A 64-bit register by name, cheaply, for exit conditions. */
  registerOf(name: string): bigint | undefined;
  snapshot(): CpuSnapshot;
  /** Releases what the thread holds (after this, kicks no longer reach it). */
  finish(): void;
}

/** What a vCPU thread needs to open its side of the backend. */
export interface BackendLoopConfig {
  /** KVM: the vCPU fd and the kvm_run mapping size. */
  fd: number;
  mmapSize: number;
  /** Emulator: what vmm/emu/vcpu.ts needs to set up the vCPU's engine on this thread. */
  emu?: EmuVcpuConfig;
}

/** The machine-thread side of a backend: what Machine (vmm/machine.ts) asks of it. */
export interface MachineBackend {
  readonly name: BackendName;
  readonly capabilities: BackendCapabilities;
  /** One line on the backend for reports: "KVM (VMX)", "emulation (Unicorn 2.1.4)". */
  readonly description: string;
  readonly implementation: BackendImplementation;
  /**
   * State access to a vCPU that is paused (or not started). Contract: the
   * object reads the vCPU afresh on every call (it may keep scratch buffers,
   * never values), so the machine keeps one per vCPU.
   */
  vcpuState(index: number, onWrite: () => void): VcpuStateApi;
  /** Forces vCPU `index` out of guest code now (from any thread). */
  kick(index: number): void;
  /** What vCPU `index`'s thread needs, besides the loop's own configuration. */
  loopConfig(index: number): BackendLoopConfig;
  /** What the guest's CPUID says about paging: MAXPHYADDR and 1 GiB pages. */
  pagingFeatures(): { maxPhysAddr: number; gbPages: boolean };
  /** The CPUID table vCPU 0 sees (the others differ only in their APIC IDs). */
  readonly cpuid: readonly import('./registers').CpuidEntry[];
  /** Routes RDMSR/WRMSR to vmscope (MSR exit breakpoints); false where the backend cannot. */
  trapMsrs(on: boolean): boolean;
  /** Guest memory was written from outside the guest (the debugger): the emulator drops code it translated. */
  memoryWritten?(gpa: Gpa, len: number): void;
  /** Frees the backend's resources. Contract: every vCPU thread has exited. */
  release(): void;
}
