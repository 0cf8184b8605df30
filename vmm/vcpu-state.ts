// State access for one vCPU fd: registers, special registers, MSRs, FPU,
// debug registers, events, guest debug and translation. Usable from the vCPU's
// own thread and, while the vCPU is stopped, from the main thread (KVM
// serialises vCPU ioctls on the vCPU mutex).

import type { KvmNative } from './kvm/native';
import { type CpuidEntry, type DebugRegs, type Fpu, type Regs, type Sregs, type Translation, type VcpuEvents } from './registers';
import { Structs } from './kvm/structs';
import { gva, type Gva } from '../common/address';

/**
 * A vCPU's state in the runner's own register types, whatever the backend:
 * KVM's ioctls (VcpuState below) or the emulator's registers (vmm/emu/state.ts).
 */
export interface VcpuStateApi {
  getRegs(): Regs;
  setRegs(regs: Regs): void;
  getSregs(): Sregs;
  setSregs(sregs: Sregs): void;
  /** Reads MSRs; those the backend refuses are left out of the result. */
  getMsrs(indices: readonly number[]): Map<number, bigint>;
  /** Writes MSRs; returns how many were accepted (stopping at the first refusal). */
  setMsrs(entries: ReadonlyArray<{ index: number; data: bigint }>): number;
  getFpu(): Fpu;
  getDebugRegs(): DebugRegs;
  setDebugRegs(d: DebugRegs): void;
  getEvents(): VcpuEvents;
  setCpuid(entries: readonly CpuidEntry[]): void;
  /** GVA -> GPA with the vCPU's current paging (KVM_TRANSLATE, or the runner's walk under emulation). */
  translate(addr: Gva): Translation;
  /** The nested-virtualization state (vmcs12) of a vCPU running a guest hypervisor; throws where there is none. */
  getNestedState(maxBytes?: number): Uint8Array;
}

export class VcpuState implements VcpuStateApi {
  readonly structs: Structs;
  private readonly regsBuf: ArrayBuffer;
  private readonly sregsBuf: ArrayBuffer;

  constructor(
    readonly native: KvmNative,
    readonly fd: number,
    /** Called after every write of vCPU state (so the vCPU thread drops what it cached). */
    private readonly onWrite: () => void = () => {},
  ) {
    this.structs = new Structs(native.layout);
    this.regsBuf = new ArrayBuffer(this.structs.size('kvm_regs'));
    this.sregsBuf = new ArrayBuffer(this.structs.size('kvm_sregs'));
  }

  getRegs(): Regs {
    this.native.getRegs(this.fd, this.regsBuf);
    return this.structs.decodeRegs(this.regsBuf);
  }

  setRegs(regs: Regs): void {
    this.structs.encodeRegs(regs, this.regsBuf);
    this.native.setRegs(this.fd, this.regsBuf);
    this.onWrite();
  }

  getSregs(): Sregs {
    this.native.getSregs(this.fd, this.sregsBuf);
    return this.structs.decodeSregs(this.sregsBuf);
  }

  setSregs(sregs: Sregs): void {
    this.structs.encodeSregs(sregs, this.sregsBuf);
    this.native.setSregs(this.fd, this.sregsBuf);
    this.onWrite();
  }

  /** Reads MSRs; those KVM refuses are left out of the result. */
  getMsrs(indices: readonly number[]): Map<number, bigint> {
    const out = new Map<number, bigint>();
    // KVM_GET_MSRS stops at the first MSR it refuses, so retry past it.
    let rest = [...indices];
    while (rest.length > 0) {
      const buf = this.structs.encodeMsrs(rest.map((index) => ({ index })));
      const n = this.native.getMsrs(this.fd, buf);
      for (const e of this.structs.decodeMsrs(buf, n)) out.set(e.index, e.data);
      rest = rest.slice(n + 1);
    }
    return out;
  }

  /** Writes MSRs; returns how many KVM accepted (it stops at the first refusal). */
  setMsrs(entries: ReadonlyArray<{ index: number; data: bigint }>): number {
    return this.native.setMsrs(this.fd, this.structs.encodeMsrs(entries));
  }

  getFpu(): Fpu {
    const buf = new ArrayBuffer(this.structs.size('kvm_fpu'));
    this.native.getFpu(this.fd, buf);
    return this.structs.decodeFpu(buf);
  }

  /** The raw 4 KiB legacy XSAVE area (KVM_GET_XSAVE). */
  getXsave(): Uint8Array {
    const buf = new ArrayBuffer(this.structs.size('kvm_xsave'));
    this.native.getXsave(this.fd, buf);
    return new Uint8Array(buf);
  }

  getDebugRegs(): DebugRegs {
    const buf = new ArrayBuffer(this.structs.size('kvm_debugregs'));
    this.native.getDebugRegs(this.fd, buf);
    return this.structs.decodeDebugRegs(buf);
  }

  setDebugRegs(d: DebugRegs): void {
    const buf = new ArrayBuffer(this.structs.size('kvm_debugregs'));
    this.structs.encodeDebugRegs(d, buf);
    this.native.setDebugRegs(this.fd, buf);
  }

  getEvents(): VcpuEvents {
    const buf = new ArrayBuffer(this.structs.size('kvm_vcpu_events'));
    this.native.getVcpuEvents(this.fd, buf);
    return this.structs.decodeVcpuEvents(buf);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    this.native.setCpuid2(this.fd, this.structs.encodeCpuid(entries));
  }

  /** KVM_SET_GUEST_DEBUG: control flags (KvmGuestDebug) and DR0-3, DR7 in slots 0-3, 7. */
  setGuestDebug(control: number, debugreg: readonly bigint[] = []): void {
    this.native.setGuestDebug(this.fd, this.structs.encodeGuestDebug(control, debugreg));
  }

  /** KVM_GET_NESTED_STATE (header and vmcs12 pages), for a vCPU running a guest hypervisor. */
  getNestedState(maxBytes = 0x2080): Uint8Array {
    const buf = new ArrayBuffer(maxBytes);
    new DataView(buf).setUint32(4, maxBytes, true);
    this.native.getNestedState(this.fd, buf);
    const size = new DataView(buf).getUint32(4, true);
    return new Uint8Array(buf, 0, Math.min(size, maxBytes));
  }

  /** KVM_TRANSLATE: the hardware walk KVM does with the vCPU's current paging mode. */
  translate(addr: Gva): Translation {
    const buf = new ArrayBuffer(this.structs.size('kvm_translation'));
    this.structs.encodeTranslationRequest(gva(addr), buf);
    this.native.translate(this.fd, buf);
    return this.structs.decodeTranslation(buf);
  }
}
