// Probes what this KVM really does, where the capability bits do not say:
// whether int3 with KVM_GUESTDBG_USE_SW_BP comes back as a debug exit (VMX,
// SVM) or as an internal error (PVM). A throwaway one-page VM answers in
// about a millisecond; the answer is cached for the process.

import { KvmExit, KvmGuestDebug } from './constants';
import { Structs } from './structs';
import type { KvmSystem } from './system';
import { VcpuState } from '../vcpu-state';

let softwareBreakpoints: boolean | undefined;

export function probeSoftwareBreakpoints(sys: KvmSystem): boolean {
  if (softwareBreakpoints !== undefined) return softwareBreakpoints;
  const n = sys.native;
  const structs = new Structs(n.layout);
  const vm = n.createVm(sys.fd, 0);
  const mem = n.mmapAnonymous(4096);
  let vcpu = -1;
  try {
    new Uint8Array(n.externalBuffer(mem, 4096)).set([0xcc, 0xf4], 0x100); // int3; hlt
    n.setUserMemoryRegion(vm, structs.encodeMemoryRegion(0, 0, 0, 4096, mem));
    vcpu = n.createVcpu(vm, 0);
    const state = new VcpuState(n, vcpu);
    const sregs = state.getSregs();
    sregs.cs = { ...sregs.cs, base: 0n, selector: 0 };
    state.setSregs(sregs);
    const regs = state.getRegs();
    state.setRegs({ ...regs, rip: 0x100n, rflags: 2n });
    state.setGuestDebug(KvmGuestDebug.ENABLE | KvmGuestDebug.USE_SW_BP);
    const run = new DataView(n.mapRun(vcpu, sys.vcpuMmapSize));
    n.run(vcpu);
    const reason = run.getUint32(n.layout.kvm_run.exit_reason!, true);
    softwareBreakpoints = reason === KvmExit.DEBUG && run.getUint32(n.layout.kvm_run.debug_exception!, true) === 3;
  } catch {
    softwareBreakpoints = false;
  } finally {
    if (vcpu >= 0) {
      n.unmapRun(vcpu);
      n.close(vcpu);
    }
    n.close(vm);
    n.munmap(mem, 4096);
  }
  return softwareBreakpoints;
}
