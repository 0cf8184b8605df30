// Encoders and decoders for the KVM structs vmscope exchanges with the addon.
// Offsets come from the addon (`layout`, computed with offsetof against the
// same <linux/kvm.h> the ioctls use), so these never hard-code a struct layout.

import type { NativeLayout } from './native';

// The register vocabulary is the runner's own (vmm/registers.ts); these
// codecs translate it to and from KVM's structs.
export * from '../registers';
import type { CpuidEntry, DebugRegs, DescriptorTable, Fpu, Regs, Segment, Sregs, Translation, VcpuEvents } from '../registers';
import { GPR_NAMES, SEGMENT_NAMES } from '../registers';

/** Struct codecs bound to one addon layout. */
export class Structs {
  constructor(readonly layout: NativeLayout) {}

  size(name: string): number {
    const s = this.layout.sizes[name];
    if (s === undefined) throw new Error(`addon does not export the size of ${name}`);
    return s;
  }

  decodeRegs(buf: ArrayBuffer): Regs {
    const v = new BigUint64Array(buf, 0, GPR_NAMES.length);
    const out = {} as Regs;
    GPR_NAMES.forEach((name, i) => (out[name] = v[i]!));
    return out;
  }

  encodeRegs(regs: Regs, buf: ArrayBuffer): void {
    const v = new BigUint64Array(buf, 0, GPR_NAMES.length);
    GPR_NAMES.forEach((name, i) => (v[i] = BigInt.asUintN(64, regs[name])));
  }

  private decodeSegment(dv: DataView, at: number): Segment {
    const o = this.layout.kvm_segment as Record<string, number>;
    return {
      base: dv.getBigUint64(at + o.base!, true),
      limit: dv.getUint32(at + o.limit!, true),
      selector: dv.getUint16(at + o.selector!, true),
      type: dv.getUint8(at + o.type!),
      present: dv.getUint8(at + o.present!),
      dpl: dv.getUint8(at + o.dpl!),
      db: dv.getUint8(at + o.db!),
      s: dv.getUint8(at + o.s!),
      l: dv.getUint8(at + o.l!),
      g: dv.getUint8(at + o.g!),
      avl: dv.getUint8(at + o.avl!),
      unusable: dv.getUint8(at + o.unusable!),
    };
  }

  private encodeSegment(dv: DataView, at: number, s: Segment): void {
    const o = this.layout.kvm_segment as Record<string, number>;
    dv.setBigUint64(at + o.base!, BigInt.asUintN(64, s.base), true);
    dv.setUint32(at + o.limit!, s.limit >>> 0, true);
    dv.setUint16(at + o.selector!, s.selector, true);
    dv.setUint8(at + o.type!, s.type);
    dv.setUint8(at + o.present!, s.present);
    dv.setUint8(at + o.dpl!, s.dpl);
    dv.setUint8(at + o.db!, s.db);
    dv.setUint8(at + o.s!, s.s);
    dv.setUint8(at + o.l!, s.l);
    dv.setUint8(at + o.g!, s.g);
    dv.setUint8(at + o.avl!, s.avl);
    dv.setUint8(at + o.unusable!, s.unusable);
  }

  decodeSregs(buf: ArrayBuffer): Sregs {
    const dv = new DataView(buf);
    const o = this.layout.kvm_sregs as Record<string, number>;
    const dt = this.layout.kvm_dtable as Record<string, number>;
    const table = (at: number): DescriptorTable => ({
      base: dv.getBigUint64(at + dt.base!, true),
      limit: dv.getUint16(at + dt.limit!, true),
    });
    const u64 = (k: string) => dv.getBigUint64(o[k]!, true);
    const bm = o.interrupt_bitmap!;
    const out = {
      gdt: table(o.gdt!),
      idt: table(o.idt!),
      cr0: u64('cr0'),
      cr2: u64('cr2'),
      cr3: u64('cr3'),
      cr4: u64('cr4'),
      cr8: u64('cr8'),
      efer: u64('efer'),
      apicBase: u64('apic_base'),
      interruptBitmap: [0, 1, 2, 3].map((i) => dv.getBigUint64(bm + 8 * i, true)) as Sregs['interruptBitmap'],
    } as Sregs;
    for (const name of SEGMENT_NAMES) out[name] = this.decodeSegment(dv, o[name]!);
    return out;
  }

  encodeSregs(s: Sregs, buf: ArrayBuffer): void {
    const dv = new DataView(buf);
    const o = this.layout.kvm_sregs as Record<string, number>;
    const dt = this.layout.kvm_dtable as Record<string, number>;
    for (const name of SEGMENT_NAMES) this.encodeSegment(dv, o[name]!, s[name]);
    for (const t of ['gdt', 'idt'] as const) {
      dv.setBigUint64(o[t]! + dt.base!, BigInt.asUintN(64, s[t].base), true);
      dv.setUint16(o[t]! + dt.limit!, s[t].limit, true);
    }
    const set = (k: string, v: bigint) => dv.setBigUint64(o[k]!, BigInt.asUintN(64, v), true);
    set('cr0', s.cr0);
    set('cr2', s.cr2);
    set('cr3', s.cr3);
    set('cr4', s.cr4);
    set('cr8', s.cr8);
    set('efer', s.efer);
    set('apic_base', s.apicBase);
    s.interruptBitmap.forEach((w, i) => dv.setBigUint64(o.interrupt_bitmap! + 8 * i, w, true));
  }

  decodeDebugRegs(buf: ArrayBuffer): DebugRegs {
    const dv = new DataView(buf);
    const o = this.layout.kvm_debugregs as Record<string, number>;
    return {
      db: [0, 1, 2, 3].map((i) => dv.getBigUint64(o.db! + 8 * i, true)) as DebugRegs['db'],
      dr6: dv.getBigUint64(o.dr6!, true),
      dr7: dv.getBigUint64(o.dr7!, true),
      flags: dv.getBigUint64(o.flags!, true),
    };
  }

  encodeDebugRegs(d: DebugRegs, buf: ArrayBuffer): void {
    const dv = new DataView(buf);
    const o = this.layout.kvm_debugregs as Record<string, number>;
    d.db.forEach((v, i) => dv.setBigUint64(o.db! + 8 * i, v, true));
    dv.setBigUint64(o.dr6!, d.dr6, true);
    dv.setBigUint64(o.dr7!, d.dr7, true);
    dv.setBigUint64(o.flags!, d.flags, true);
  }

  encodeTranslationRequest(linear: bigint, buf: ArrayBuffer): void {
    new DataView(buf).setBigUint64(this.layout.kvm_translation.linear_address!, linear, true);
  }

  decodeTranslation(buf: ArrayBuffer): Translation {
    const dv = new DataView(buf);
    const o = this.layout.kvm_translation as Record<string, number>;
    return {
      linear: dv.getBigUint64(o.linear_address!, true),
      physical: dv.getBigUint64(o.physical_address!, true),
      valid: dv.getUint8(o.valid!) !== 0,
      writeable: dv.getUint8(o.writeable!) !== 0,
      usermode: dv.getUint8(o.usermode!) !== 0,
    };
  }

  /** struct kvm_msrs with room for `indices.length` entries. */
  encodeMsrs(entries: ReadonlyArray<{ index: number; data?: bigint }>): ArrayBuffer {
    const head = this.size('kvm_msrs');
    const entry = this.size('kvm_msr_entry');
    const buf = new ArrayBuffer(head + entry * entries.length);
    const dv = new DataView(buf);
    dv.setUint32(0, entries.length, true);
    entries.forEach((e, i) => {
      dv.setUint32(head + i * entry, e.index, true);
      dv.setBigUint64(head + i * entry + 8, e.data ?? 0n, true);
    });
    return buf;
  }

  decodeMsrs(buf: ArrayBuffer, count: number): Array<{ index: number; data: bigint }> {
    const head = this.size('kvm_msrs');
    const entry = this.size('kvm_msr_entry');
    const dv = new DataView(buf);
    const out: Array<{ index: number; data: bigint }> = [];
    for (let i = 0; i < count; i++) {
      out.push({ index: dv.getUint32(head + i * entry, true), data: dv.getBigUint64(head + i * entry + 8, true) });
    }
    return out;
  }

  allocCpuid(maxEntries: number): ArrayBuffer {
    const buf = new ArrayBuffer(this.size('kvm_cpuid2') + this.size('kvm_cpuid_entry2') * maxEntries);
    new DataView(buf).setUint32(0, maxEntries, true);
    return buf;
  }

  decodeCpuid(buf: ArrayBuffer): CpuidEntry[] {
    const dv = new DataView(buf);
    const n = dv.getUint32(0, true);
    const head = this.size('kvm_cpuid2');
    const size = this.size('kvm_cpuid_entry2');
    const o = this.layout.kvm_cpuid_entry2 as Record<string, number>;
    const out: CpuidEntry[] = [];
    for (let i = 0; i < n; i++) {
      const at = head + i * size;
      out.push({
        function: dv.getUint32(at + o.function!, true),
        index: dv.getUint32(at + o.index!, true),
        flags: dv.getUint32(at + o.flags!, true),
        eax: dv.getUint32(at + o.eax!, true),
        ebx: dv.getUint32(at + o.ebx!, true),
        ecx: dv.getUint32(at + o.ecx!, true),
        edx: dv.getUint32(at + o.edx!, true),
      });
    }
    return out;
  }

  encodeCpuid(entries: readonly CpuidEntry[]): ArrayBuffer {
    const buf = this.allocCpuid(entries.length);
    const dv = new DataView(buf);
    const head = this.size('kvm_cpuid2');
    const size = this.size('kvm_cpuid_entry2');
    const o = this.layout.kvm_cpuid_entry2 as Record<string, number>;
    entries.forEach((e, i) => {
      const at = head + i * size;
      dv.setUint32(at + o.function!, e.function, true);
      dv.setUint32(at + o.index!, e.index, true);
      dv.setUint32(at + o.flags!, e.flags, true);
      dv.setUint32(at + o.eax!, e.eax >>> 0, true);
      dv.setUint32(at + o.ebx!, e.ebx >>> 0, true);
      dv.setUint32(at + o.ecx!, e.ecx >>> 0, true);
      dv.setUint32(at + o.edx!, e.edx >>> 0, true);
    });
    return buf;
  }

  decodeFpu(buf: ArrayBuffer): Fpu {
    const dv = new DataView(buf);
    const o = this.layout.kvm_fpu as Record<string, number>;
    const bytes = new Uint8Array(buf);
    return {
      fpr: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => bytes.slice(o.fpr! + 16 * i, o.fpr! + 16 * i + 10)),
      fcw: dv.getUint16(o.fcw!, true),
      fsw: dv.getUint16(o.fsw!, true),
      ftwx: dv.getUint8(o.ftwx!),
      lastOpcode: dv.getUint16(o.last_opcode!, true),
      lastIp: dv.getBigUint64(o.last_ip!, true),
      lastDp: dv.getBigUint64(o.last_dp!, true),
      xmm: Array.from({ length: 16 }, (_, i) => bytes.slice(o.xmm! + 16 * i, o.xmm! + 16 * i + 16)),
      mxcsr: dv.getUint32(o.mxcsr!, true),
    };
  }

  decodeVcpuEvents(buf: ArrayBuffer): VcpuEvents {
    const dv = new DataView(buf);
    const o = this.layout.kvm_vcpu_events as Record<string, number>;
    const u8 = (k: string) => dv.getUint8(o[k]!);
    return {
      exception: {
        injected: u8('exception_injected'),
        nr: u8('exception_nr'),
        hasErrorCode: u8('exception_has_error_code'),
        pending: u8('exception_pending'),
        errorCode: dv.getUint32(o.exception_error_code!, true),
      },
      interrupt: { injected: u8('interrupt_injected'), nr: u8('interrupt_nr'), shadow: u8('interrupt_shadow') },
      nmi: { injected: u8('nmi_injected'), pending: u8('nmi_pending'), masked: u8('nmi_masked') },
      sipiVector: dv.getUint32(o.sipi_vector!, true),
      flags: dv.getUint32(o.flags!, true),
    };
  }

  encodeGuestDebug(control: number, debugreg: readonly bigint[]): ArrayBuffer {
    const buf = new ArrayBuffer(this.size('kvm_guest_debug'));
    const dv = new DataView(buf);
    const o = this.layout.kvm_guest_debug as Record<string, number>;
    dv.setUint32(o.control!, control >>> 0, true);
    debugreg.slice(0, 8).forEach((v, i) => dv.setBigUint64(o.debugreg! + 8 * i, v, true));
    return buf;
  }

  encodeMemoryRegion(slot: number, flags: number, gpa: number, size: number, hva: bigint): ArrayBuffer {
    const buf = new ArrayBuffer(this.size('kvm_userspace_memory_region'));
    const dv = new DataView(buf);
    const o = this.layout.kvm_userspace_memory_region as Record<string, number>;
    dv.setUint32(o.slot!, slot, true);
    dv.setUint32(o.flags!, flags, true);
    dv.setBigUint64(o.guest_phys_addr!, BigInt(gpa), true);
    dv.setBigUint64(o.memory_size!, BigInt(size), true);
    dv.setBigUint64(o.userspace_addr!, hva, true);
    return buf;
  }
}
