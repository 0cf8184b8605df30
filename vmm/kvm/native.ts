// The TypeScript face of vmm/native (the C addon). Everything above this file
// sees the addon only through `KvmNative`, so pure logic can be tested with a
// fake and the real one can be loaded lazily (the language server never needs it).

import { NativeAddonMissing } from '../errors';
import { packageRoot } from '../../common/package-root';

/** Bytes that an ioctl reads or fills: the struct layouts are in `layout`. */
export type IoctlBuffer = ArrayBuffer | ArrayBufferView;

export interface NativeLayout {
  sizes: Record<string, number>;
  kvm_run: Record<string, number>;
  kvm_sregs: Record<string, number>;
  kvm_segment: Record<string, number>;
  kvm_dtable: Record<string, number>;
  kvm_fpu: Record<string, number>;
  kvm_debugregs: Record<string, number>;
  kvm_translation: Record<string, number>;
  kvm_cpuid_entry2: Record<string, number>;
  kvm_vcpu_events: Record<string, number>;
  kvm_guest_debug: Record<string, number>;
  kvm_userspace_memory_region: Record<string, number>;
}

export interface KvmNative {
  openDevice(path: string): number;
  close(fd: number): void;
  // system fd
  getApiVersion(sysFd: number): number;
  checkExtension(fd: number, cap: number): number;
  getVcpuMmapSize(sysFd: number): number;
  getSupportedCpuid(sysFd: number, cpuid2: IoctlBuffer): number;
  getMsrIndexList(sysFd: number, list: IoctlBuffer): number;
  createVm(sysFd: number, type: number): number;
  // VM fd
  setTssAddr(vmFd: number, addr: number): number;
  setIdentityMapAddr(vmFd: number, addr: bigint): void;
  createIrqchip(vmFd: number): number;
  setUserMemoryRegion(vmFd: number, region: IoctlBuffer): number;
  createVcpu(vmFd: number, id: number): number;
  // memory
  mmapAnonymous(size: number): bigint;
  munmap(addr: bigint, size: number): void;
  externalBuffer(addr: bigint, size: number): ArrayBuffer;
  // vCPU fd
  mapRun(vcpuFd: number, mmapSize: number): ArrayBuffer;
  unmapRun(vcpuFd: number): void;
  /** 0 after an exit, or -EINTR / -EAGAIN after a kick. */
  run(vcpuFd: number): number;
  /** true when a signal was sent (the vCPU thread was in or about to enter KVM_RUN). */
  kick(vcpuFd: number): boolean;
  /** On the vCPU's thread: KVM_RUN returns as kicked once CLOCK_MONOTONIC reaches `ns` (0: never), and every ms after until re-armed. */
  setDeadline(ns: number): void;
  getRegs(fd: number, buf: IoctlBuffer): number;
  setRegs(fd: number, buf: IoctlBuffer): number;
  getSregs(fd: number, buf: IoctlBuffer): number;
  setSregs(fd: number, buf: IoctlBuffer): number;
  /** Returns how many MSRs were read (stops at the first one KVM refuses). */
  getMsrs(fd: number, buf: IoctlBuffer): number;
  setMsrs(fd: number, buf: IoctlBuffer): number;
  getFpu(fd: number, buf: IoctlBuffer): number;
  setFpu(fd: number, buf: IoctlBuffer): number;
  getXsave(fd: number, buf: IoctlBuffer): number;
  setXsave(fd: number, buf: IoctlBuffer): number;
  getVcpuEvents(fd: number, buf: IoctlBuffer): number;
  setVcpuEvents(fd: number, buf: IoctlBuffer): number;
  getDebugRegs(fd: number, buf: IoctlBuffer): number;
  setDebugRegs(fd: number, buf: IoctlBuffer): number;
  setCpuid2(fd: number, buf: IoctlBuffer): number;
  setGuestDebug(fd: number, buf: IoctlBuffer): number;
  translate(fd: number, buf: IoctlBuffer): number;
  /** KVM_INTERRUPT (struct kvm_interrupt: irq u32), for a VM without an in-kernel interrupt controller. */
  interrupt(fd: number, buf: IoctlBuffer): number;
  getMpState(fd: number, buf: IoctlBuffer): number;
  setMpState(fd: number, buf: IoctlBuffer): number;
  /** KVM_GET_NESTED_STATE; set the struct's size field (offset 4, u32) to the buffer length first. */
  getNestedState(fd: number, buf: IoctlBuffer): number;
  /** KVM_ENABLE_CAP (struct kvm_enable_cap: cap u32, flags u32, args[4] u64). */
  enableCap(fd: number, buf: IoctlBuffer): number;
  /** KVM_X86_SET_MSR_FILTER: deny every MSR in each [base, nmsrs] range; [] removes the filter. */
  setMsrFilter(vmFd: number, denyRanges: ReadonlyArray<readonly [number, number]>): void;
  readonly layout: NativeLayout;
  readonly constants: Readonly<Record<string, number>>;
}

/** An errno-carrying error thrown by the addon. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number';
}

let cached: KvmNative | undefined;


export function loadNative(): KvmNative {
  if (cached) return cached;
  const root = packageRoot();
  try {
    // node-gyp-build picks prebuilds/<platform>-<arch>/ first, then build/Release.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => unknown;
    cached = load(root) as KvmNative;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeAddonMissing(
      `the vmscope KVM addon is not built (${why}); run \`npm install\` (needs gcc, make and python3)`,
    );
  }
  return cached;
}
