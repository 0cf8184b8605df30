// Probes what this KVM really does, where the capability bits do not say:
// - whether int3 with KVM_GUESTDBG_USE_SW_BP comes back as a debug exit
//   (VMX, SVM) or as an internal error (PVM);
// - whether DR0-3 data watchpoints fire (they do not where KVM emulates the
//   guest's instructions, as on PVM).
// Each probe runs a throwaway one-page real-mode VM, takes about a
// millisecond, and is cached for the process.

import { KvmExit, KvmGuestDebug } from './constants';
import { Structs } from './structs';
import type { KvmSystem } from './system';
import { VcpuState } from '../vcpu-state';

const CODE = 0x100;

/** Runs `code` at 0:0x100 with the given guest debug and returns the first exit. */
function runTiny(sys: KvmSystem, code: number[], control: number, debugreg: bigint[] = []): { reason: number; exception: number } {
  const n = sys.native;
  const structs = new Structs(n.layout);
  const vm = n.createVm(sys.fd, 0);
  const mem = n.mmapAnonymous(4096);
  let vcpu = -1;
  try {
    new Uint8Array(n.externalBuffer(mem, 4096)).set(code, CODE);
    n.setUserMemoryRegion(vm, structs.encodeMemoryRegion(0, 0, 0, 4096, mem));
    vcpu = n.createVcpu(vm, 0);
    const state = new VcpuState(n, vcpu);
    const sregs = state.getSregs();
    sregs.cs = { ...sregs.cs, base: 0n, selector: 0 };
    sregs.ds = { ...sregs.ds, base: 0n, selector: 0 };
    state.setSregs(sregs);
    state.setRegs({ ...state.getRegs(), rip: BigInt(CODE), rflags: 2n, rax: 0x5an });
    state.setGuestDebug(control, debugreg);
    const run = new DataView(n.mapRun(vcpu, sys.vcpuMmapSize));
    n.run(vcpu);
    return { reason: run.getUint32(n.layout.kvm_run.exit_reason!, true), exception: run.getUint32(n.layout.kvm_run.debug_exception!, true) };
  } finally {
    if (vcpu >= 0) {
      n.unmapRun(vcpu);
      n.close(vcpu);
    }
    n.close(vm);
    n.munmap(mem, 4096);
  }
}

const cache = new Map<string, boolean>();

function probe(key: string, fn: () => boolean): boolean {
  let v = cache.get(key);
  if (v === undefined) {
    try {
      v = fn();
    } catch {
      v = false;
    }
    cache.set(key, v);
  }
  return v;
}

export function probeSoftwareBreakpoints(sys: KvmSystem): boolean {
  return probe('sw-bp', () => {
    const r = runTiny(sys, [0xcc, 0xf4], KvmGuestDebug.ENABLE | KvmGuestDebug.USE_SW_BP); // int3; hlt
    return r.reason === KvmExit.DEBUG && r.exception === 3;
  });
}

export function probeDataWatchpoints(sys: KvmSystem): boolean {
  return probe('data-wp', () => {
    // mov [0x200], al; hlt — with a 1-byte write watchpoint on 0x200 (DR7: L0, RW0=01, LE).
    const dr7 = 1n | (1n << 16n) | (1n << 8n);
    const r = runTiny(sys, [0xa2, 0x00, 0x02, 0xf4], KvmGuestDebug.ENABLE | KvmGuestDebug.USE_HW_BP, [0x200n, 0n, 0n, 0n, 0n, 0n, 0n, dr7]);
    return r.reason === KvmExit.DEBUG;
  });
}

export function probeInstructionBreakpoints(sys: KvmSystem): boolean {
  return probe('exec-bp', () => {
    // An instruction breakpoint on the first instruction (DR7: L0, RW0=00).
    const r = runTiny(sys, [0x90, 0xf4], KvmGuestDebug.ENABLE | KvmGuestDebug.USE_HW_BP, [BigInt(CODE), 0n, 0n, 0n, 0n, 0n, 0n, 1n]);
    return r.reason === KvmExit.DEBUG;
  });
}
