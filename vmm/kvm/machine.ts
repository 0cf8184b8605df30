// The KVM backend's machine side: the system, VM and vCPU fds, what this KVM
// really does (probed), and the MSR filter that routes RDMSR/WRMSR to vmscope.

import type { BackendCapabilities, MachineBackend } from '../backend';
import type { VcpuStateApi } from '../vcpu-state';
import { VcpuState } from '../vcpu-state';
import type { CpuidEntry } from './structs';
import { KvmCap } from './constants';
import { detectBackend, type KvmBackend, type KvmSystem } from './system';
import { probeDataWatchpoints, probeSoftwareBreakpoints } from './probe';

export class KvmMachine implements MachineBackend {
  readonly name = 'kvm';
  readonly description: string;
  readonly implementation: KvmBackend;
  private caps: BackendCapabilities | undefined;
  private msrExitsEnabled = false;

  constructor(
    readonly sys: KvmSystem,
    readonly vmFd: number,
    readonly vcpuFds: number[],
    /** The CPUID vCPU 0 got (the others differ only in their APIC IDs). */
    readonly cpuid: CpuidEntry[],
  ) {
    const b = detectBackend().backend;
    this.implementation = b;
    this.description = `KVM (${b === 'vmx' ? 'VMX' : b === 'svm' ? 'SVM' : b === 'pvm' ? 'PVM' : 'unknown'})`;
  }

  /** Capabilities, from KVM_CHECK_EXTENSION and (probed once per process) what int3 and DR0-3 really do here. */
  get capabilities(): BackendCapabilities {
    return (this.caps ??= {
      softwareBreakpoints: probeSoftwareBreakpoints(this.sys),
      dataWatchpoints: probeDataWatchpoints(this.sys),
      maxHardwareBreakpoints: 4,
      nestedState: this.capability(KvmCap.NESTED_STATE) > 0,
      exactInstructionCount: false,
      msrExits: this.capability(KvmCap.X86_USER_SPACE_MSR) > 0,
      hardwareVmcs: detectBackend().backend === 'vmx',
    });
  }

  /** KVM_CHECK_EXTENSION on the system fd. */
  capability(cap: number): number {
    return this.sys.native.checkExtension(this.sys.fd, cap);
  }

  vcpuState(index: number, onWrite: () => void): VcpuStateApi {
    return new VcpuState(this.sys.native, this.vcpuFds[index]!, onWrite);
  }

  kick(index: number): void {
    this.sys.native.kick(this.vcpuFds[index]!);
  }

  loopConfig(index: number): { fd: number; mmapSize: number } {
    return { fd: this.vcpuFds[index]!, mmapSize: this.sys.vcpuMmapSize };
  }

  /** The vCPU's fd and kvm_run mmap size, for tools that drive a vCPU with their own loop (the benchmark's thread-hop variant). */
  rawVcpu(index: number): { fd: number; mmapSize: number } {
    return this.loopConfig(index);
  }

  pagingFeatures(): { maxPhysAddr: number; gbPages: boolean } {
    const leaf = (fn: number) => this.cpuid.find((e) => e.function === fn && e.index === 0);
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
    const n = this.sys.native;
    const vm = this.vmFd;
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

  release(): void {
    const n = this.sys.native;
    for (const fd of this.vcpuFds) {
      n.unmapRun(fd);
      n.close(fd);
    }
    n.close(this.vmFd);
    this.sys.close();
  }
}
