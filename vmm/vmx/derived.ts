// The derived VMCS: the fields a VMX host would hold for this vCPU, rebuilt
// from what KVM hands user space (registers, MSRs, events, the last exit).
// User space cannot read the hardware VMCS, so each value carries where it
// came from; fields nothing tells us are left out and listed as gaps with the
// reason, never filled with a guess.

import { hex } from '../../common/address';
import { KvmExit } from '../kvm/constants';
import type { DebugRegs, Regs, Segment, SegmentName, Sregs, VcpuEvents } from '../registers';
import type { BackendImplementation } from '../backend';
import { compareDisplay, displayFields, field, type VmcsGroup } from './encoding';
import { decodeExitReasonField, exitInfoFromInternalError, vmxReason } from './exit-reasons';
import type { LastExit } from './last-exit';
import { debugQualificationFromDr6, encodeEptViolationQualification, ioQualificationOf, type EptViolationQualification } from './qualification';

export type { LastExit } from './last-exit';

export type Provenance =
  | 'KVM_GET_REGS'
  | 'KVM_GET_SREGS'
  | 'KVM_GET_MSRS'
  | 'KVM_GET_DEBUGREGS'
  | 'KVM_GET_VCPU_EVENTS'
  | 'derived from the last exit'
  | 'decoded instruction'
  | 'vmcs12 (KVM_GET_NESTED_STATE)'
  /** Under emulation there is no hardware VMCS: every field is derived, and says so. */
  | `emulated: ${string}`;

/** A field's provenance as the emulation backend reports it (no hardware VMCS, no KVM calls). */
export function emulatedProvenance(p: Provenance): Provenance {
  if (p.startsWith('emulated')) return p;
  return p.startsWith('KVM_GET') ? 'emulated: the emulated vCPU\'s state' : `emulated: ${p}`;
}

export interface VmcsFieldValue {
  name: string;
  encoding: number;
  value: bigint;
  provenance: Provenance;
  note?: string;
  /** A VmcsGroup (encoding.ts); GROUP_TITLES has its heading. */
  group: string;
  /** Which KVM_SET_* call changes the value's source, if any. */
  writable?: 'regs' | 'sregs' | 'msr' | 'debugregs' | 'events';
  /** Bits of `value` nothing told us; they read as 0 and must be shown as unknown. */
  unknownBits?: bigint;
}

/** A field the derived view cannot show, and why. */
export interface VmcsFieldGap {
  name: string;
  encoding: number;
  group: string;
  reason: string;
}

export interface DerivedInput {
  regs: Regs;
  sregs: Sregs;
  /** KVM_GET_MSRS results by index; fields whose MSR is absent become gaps. */
  msrs: ReadonlyMap<number, bigint>;
  debugRegs: DebugRegs;
  events: VcpuEvents;
  lastExit?: LastExit;
  /** Length of the instruction that exited, from the caller's decoder. */
  instructionLength?: number;
  /** The vCPU is halted (e.g. after KVM_EXIT_HLT). Without it, the activity state comes from the last exit or is left out. */
  halted?: boolean;
  /** The host's KVM module: fail_entry and internal-error codes are VMX values only on 'vmx'. */
  backend?: BackendImplementation;
}

// Values of ABI constants from <asm/kvm.h> that this file reads.
const KVM_VCPUEVENT_VALID_SHADOW = 0x4;
const KVM_X86_SHADOW_INT_MOV_SS = 0x1;
const KVM_X86_SHADOW_INT_STI = 0x2;

const MSR = {
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  DEBUGCTL: 0x1d9,
  PAT: 0x277,
  PERF_GLOBAL_CTRL: 0x38f,
  RTIT_CTL: 0x570,
  BNDCFGS: 0xd90,
} as const;

/** GUEST_* MSR fields and the MSR each mirrors (EFER comes from KVM_GET_SREGS). */
const MSR_FIELDS: ReadonlyArray<[string, number]> = [
  ['GUEST_IA32_DEBUGCTL', MSR.DEBUGCTL],
  ['GUEST_IA32_PAT', MSR.PAT],
  ['GUEST_IA32_PERF_GLOBAL_CTRL', MSR.PERF_GLOBAL_CTRL],
  ['GUEST_BNDCFGS', MSR.BNDCFGS],
  ['GUEST_IA32_RTIT_CTL', MSR.RTIT_CTL],
  ['GUEST_SYSENTER_CS', MSR.SYSENTER_CS],
  ['GUEST_SYSENTER_ESP', MSR.SYSENTER_ESP],
  ['GUEST_SYSENTER_EIP', MSR.SYSENTER_EIP],
];

const SEGMENTS: ReadonlyArray<[string, SegmentName]> = [
  ['ES', 'es'],
  ['CS', 'cs'],
  ['SS', 'ss'],
  ['DS', 'ds'],
  ['FS', 'fs'],
  ['GS', 'gs'],
  ['LDTR', 'ldt'],
  ['TR', 'tr'],
];

/**
 * A segment's access-rights field in the VMX format (SDM Vol. 3C, "Guest
 * Register State"): type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15,
 * unusable 16. Bit 16 is set for an unusable or non-present segment, as KVM
 * does when it writes the field.
 */
export function segmentAccessRights(s: Segment): number {
  let ar = s.type & 15;
  ar |= (s.s & 1) << 4;
  ar |= (s.dpl & 3) << 5;
  ar |= (s.present & 1) << 7;
  ar |= (s.avl & 1) << 12;
  ar |= (s.l & 1) << 13;
  ar |= (s.db & 1) << 14;
  ar |= (s.g & 1) << 15;
  if (s.unusable || !s.present) ar |= 1 << 16;
  return ar >>> 0;
}

/**
 * GUEST_INTERRUPTIBILITY_INFO from KVM_GET_VCPU_EVENTS: blocking by STI (bit
 * 0) and by MOV SS (bit 1) from the interrupt shadow (whose KVM bits are the
 * other way round), blocking by NMI (bit 3) from nmi.masked. Blocking by SMI
 * (bit 2) and enclave interruption (bit 4) are not reported: unknown.
 */
export function interruptibilityFromEvents(events: VcpuEvents): { value: bigint; unknownBits: bigint } {
  let v = 0n;
  let unknown = (1n << 2n) | (1n << 4n);
  if (events.flags & KVM_VCPUEVENT_VALID_SHADOW) {
    if (events.interrupt.shadow & KVM_X86_SHADOW_INT_STI) v |= 1n;
    if (events.interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS) v |= 2n;
  } else {
    unknown |= 3n;
  }
  if (events.nmi.masked) v |= 1n << 3n;
  return { value: v, unknownBits: unknown };
}

const WIDTH_MASK = { 16: 0xffffn, 32: 0xffffffffn, 64: (1n << 64n) - 1n, natural: (1n << 64n) - 1n } as const;

type Extra = Pick<VmcsFieldValue, 'note' | 'writable' | 'unknownBits'>;

class Collector {
  readonly values = new Map<string, VmcsFieldValue>();
  readonly gaps = new Map<string, string>();

  put(name: string, value: bigint | number, provenance: Provenance, extra: Extra = {}): void {
    const f = field(name);
    const v: VmcsFieldValue = { name, encoding: f.encoding, value: BigInt(value) & WIDTH_MASK[f.width], provenance, group: f.group };
    if (extra.note !== undefined) v.note = extra.note;
    if (extra.writable !== undefined) v.writable = extra.writable;
    if (extra.unknownBits !== undefined && extra.unknownBits !== 0n) v.unknownBits = extra.unknownBits;
    this.values.set(name, v);
    this.gaps.delete(name);
  }

  gap(name: string, reason: string): void {
    field(name);
    if (!this.values.has(name)) this.gaps.set(name, reason);
  }
}

function guestState(input: DerivedInput, c: Collector): void {
  const { regs, sregs, debugRegs, msrs, lastExit } = input;
  const afterHlt = lastExit?.kvmExit === KvmExit.HLT;
  c.put('GUEST_RIP', regs.rip, 'KVM_GET_REGS', {
    writable: 'regs',
    ...(afterHlt ? { note: 'KVM has already stepped past HLT; at the exit the field held the HLT\'s address' } : {}),
  });
  c.put('GUEST_RSP', regs.rsp, 'KVM_GET_REGS', { writable: 'regs' });
  c.put('GUEST_RFLAGS', regs.rflags, 'KVM_GET_REGS', {
    writable: 'regs',
    note: 'while KVM single-steps the guest (KVM_GUESTDBG_SINGLESTEP) the hardware field also has TF, which KVM hides here',
  });
  c.put('GUEST_CR0', sregs.cr0, 'KVM_GET_SREGS', {
    writable: 'sregs',
    note: 'the value the guest sees; the hardware field also has the bits VMX forces (NE, and PE/PG without unrestricted guest), hidden by the CR0 read shadow',
  });
  c.put('GUEST_CR3', sregs.cr3, 'KVM_GET_SREGS', { writable: 'sregs' });
  c.put('GUEST_CR4', sregs.cr4, 'KVM_GET_SREGS', {
    writable: 'sregs',
    note: 'the value the guest sees; the hardware field also has VMXE (and PAE in some modes), hidden by the CR4 read shadow',
  });
  c.put('GUEST_DR7', debugRegs.dr7, 'KVM_GET_DEBUGREGS', {
    writable: 'debugregs',
    note: "the guest's DR7; while the debugger uses hardware breakpoints (KVM_GUESTDBG_USE_HW_BP) the hardware field holds the debugger's",
  });

  for (const [vmx, kvm] of SEGMENTS) {
    const s = sregs[kvm];
    c.put(`GUEST_${vmx}_SELECTOR`, s.selector, 'KVM_GET_SREGS', { writable: 'sregs' });
    c.put(`GUEST_${vmx}_BASE`, s.base, 'KVM_GET_SREGS', { writable: 'sregs' });
    c.put(`GUEST_${vmx}_LIMIT`, s.limit, 'KVM_GET_SREGS', { writable: 'sregs' });
    c.put(`GUEST_${vmx}_AR_BYTES`, segmentAccessRights(s), 'KVM_GET_SREGS', {
      writable: 'sregs',
      note: 'composed from kvm_segment (type, S, DPL, P, AVL, L, D/B, G; bit 16 = unusable) as KVM composes it',
    });
  }
  for (const t of ['GDTR', 'IDTR'] as const) {
    const d = t === 'GDTR' ? sregs.gdt : sregs.idt;
    c.put(`GUEST_${t}_BASE`, d.base, 'KVM_GET_SREGS', { writable: 'sregs' });
    c.put(`GUEST_${t}_LIMIT`, d.limit, 'KVM_GET_SREGS', { writable: 'sregs' });
  }

  c.put('GUEST_IA32_EFER', sregs.efer, 'KVM_GET_SREGS', {
    writable: 'sregs',
    note: 'the hardware loads it from this field only with the "load IA32_EFER" entry control; otherwise KVM switches EFER through the MSR-load lists',
  });
  for (const [name, index] of MSR_FIELDS) {
    const v = msrs.get(index);
    if (v === undefined) c.gap(name, `MSR ${hex(index)} was not read (add it to the KVM_GET_MSRS list)`);
    else c.put(name, v, 'KVM_GET_MSRS', { writable: 'msr' });
  }

  const intr = interruptibilityFromEvents(input.events);
  c.put('GUEST_INTERRUPTIBILITY_INFO', intr.value, 'KVM_GET_VCPU_EVENTS', {
    writable: 'events',
    unknownBits: intr.unknownBits,
    note: 'STI and MOV SS blocking from interrupt.shadow, NMI blocking from nmi.masked; SMI and enclave bits are not reported',
  });
  activityState(input, c);

  c.gap('GUEST_PENDING_DBG_EXCEPTIONS', 'not reported: KVM_GET_VCPU_EVENTS carries a pending #DB payload only with KVM_CAP_EXCEPTION_PAYLOAD, which is not decoded');
  c.gap('VMCS_LINK_POINTER', "KVM's own (all ones unless KVM shadows a nested guest's VMCS); not exposed");
  c.gap('VMX_PREEMPTION_TIMER_VALUE', "KVM's own timer; not exposed");
  c.gap('GUEST_INTR_STATUS', 'virtual-interrupt delivery state of an in-kernel APIC; not exposed');
  c.gap('GUEST_PML_INDEX', "KVM's page-modification log; not exposed");
  for (const i of [0, 1, 2, 3]) c.gap(`GUEST_PDPTR${i}`, 'the PAE PDPTEs need KVM_GET_SREGS2, which is not read');
}

/** Exits after which the vCPU was certainly running an instruction. */
const ACTIVE_EXITS: ReadonlySet<number> = new Set([
  KvmExit.IO,
  KvmExit.MMIO,
  KvmExit.X86_RDMSR,
  KvmExit.X86_WRMSR,
  KvmExit.HYPERCALL,
  KvmExit.DEBUG,
]);

function activityState(input: DerivedInput, c: Collector): void {
  const halted = input.halted ?? (input.lastExit?.kvmExit === KvmExit.HLT ? true : undefined);
  if (halted === true) {
    c.put('GUEST_ACTIVITY_STATE', 1, 'derived from the last exit', {
      note: 'HLT: the vCPU is halted. KVM keeps a halted vCPU in the host, so the hardware field reads HLT only if the guest ran HLT without exiting',
    });
  } else if (halted === false || (input.lastExit && ACTIVE_EXITS.has(input.lastExit.kvmExit))) {
    c.put('GUEST_ACTIVITY_STATE', 0, 'derived from the last exit', { note: 'active: the vCPU was executing an instruction' });
  } else {
    c.gap('GUEST_ACTIVITY_STATE', 'neither a halted flag nor the last exit tells whether the vCPU is active');
  }
}

function exitInformation(input: DerivedInput, c: Collector): void {
  const e = input.lastExit;
  const EXIT = 'derived from the last exit' as const;
  const DECODED = 'decoded instruction' as const;
  const instructionLength = (why?: string) => {
    if (input.instructionLength !== undefined) c.put('VM_EXIT_INSTRUCTION_LEN', input.instructionLength, DECODED);
    else c.gap('VM_EXIT_INSTRUCTION_LEN', why ?? "needs the decoded instruction's length (instructionLength)");
  };
  if (!e) return;

  switch (e.kvmExit) {
    case KvmExit.IO: {
      c.put('VM_EXIT_REASON', vmxReason('IO_INSTRUCTION'), EXIT);
      if (e.io) {
        c.put('EXIT_QUALIFICATION', ioQualificationOf(e.io), EXIT, {
          note: 'port, size and direction from kvm_run.io; string, REP and operand encoding from the decoded instruction',
        });
        if (e.io.string && e.io.linear !== undefined) c.put('GUEST_LINEAR_ADDRESS', e.io.linear, DECODED);
        else c.gap('GUEST_LINEAR_ADDRESS', e.io.string ? "needs the string operand's linear address (io.linear)" : 'not defined for IN/OUT');
      } else {
        c.gap('EXIT_QUALIFICATION', 'the I/O details of the exit were not passed (lastExit.io)');
      }
      instructionLength();
      return;
    }
    case KvmExit.MMIO: {
      c.put('VM_EXIT_REASON', vmxReason('EPT_VIOLATION'), EXIT, {
        note: 'or 49 (EPT misconfiguration) once KVM has marked the page as MMIO in its EPT; user space cannot tell which',
      });
      if (e.mmio) {
        const q: EptViolationQualification = {
          read: !e.mmio.write,
          write: e.mmio.write,
          fetch: false,
          // A data access by an instruction: the linear address is valid and this is its translation.
          linearAddressValid: true,
          translatedAccess: true,
          nmiUnblocking: false,
        };
        if (e.mmio.eptEntry) q.entry = e.mmio.eptEntry;
        const composed = encodeEptViolationQualification(q);
        c.put('EXIT_QUALIFICATION', composed.value, EXIT, {
          unknownBits: composed.unknownBits,
          note: "EPT-violation layout (exit 48); the EPT entry's permissions and the advanced-information bits are unknown to user space",
        });
        c.put('GUEST_PHYSICAL_ADDRESS', e.mmio.gpa, EXIT);
        if (e.mmio.linear !== undefined) c.put('GUEST_LINEAR_ADDRESS', e.mmio.linear, DECODED);
        else c.gap('GUEST_LINEAR_ADDRESS', "needs the access's linear address (mmio.linear)");
      } else {
        c.gap('EXIT_QUALIFICATION', 'the MMIO details of the exit were not passed (lastExit.mmio)');
      }
      c.gap('VM_EXIT_INSTRUCTION_LEN', 'not defined for EPT violations and misconfigurations (SDM)');
      return;
    }
    case KvmExit.HLT:
      c.put('VM_EXIT_REASON', vmxReason('HLT'), EXIT);
      instructionLength();
      return;
    case KvmExit.SHUTDOWN:
      c.put('VM_EXIT_REASON', vmxReason('TRIPLE_FAULT'), EXIT);
      return;
    case KvmExit.HYPERCALL:
      c.put('VM_EXIT_REASON', vmxReason('VMCALL'), EXIT);
      instructionLength();
      return;
    case KvmExit.X86_RDMSR:
    case KvmExit.X86_WRMSR:
      c.put('VM_EXIT_REASON', vmxReason(e.kvmExit === KvmExit.X86_RDMSR ? 'MSR_READ' : 'MSR_WRITE'), EXIT);
      instructionLength();
      return;
    case KvmExit.DEBUG: {
      c.put('VM_EXIT_REASON', vmxReason('EXCEPTION_NMI'), EXIT, {
        note: 'when the guest ran the instruction itself; a #DB raised by KVM\'s emulator follows some other VMX exit',
      });
      const d = e.debug;
      if (d && (d.exception === 1 || d.exception === 3)) {
        // Interruption type: 3 hardware exception (#DB), 6 software exception (INT3); bit 31 valid.
        const type = d.exception === 3 ? 6 : 3;
        c.put('VM_EXIT_INTR_INFO', (0x80000000 | (type << 8) | d.exception) >>> 0, EXIT, {
          ...(d.exception === 1 ? { note: 'type 3 (hardware exception); an INT1/ICEBP would be type 5' } : {}),
        });
        if (d.exception === 1 && d.dr6 !== undefined) {
          const q = debugQualificationFromDr6(d.dr6);
          c.put('EXIT_QUALIFICATION', q.value, EXIT, { unknownBits: q.unknownBits, note: 'B0-B3, BD and BS from the DR6 KVM reported' });
        }
        if (d.exception === 3) instructionLength();
      } else {
        c.gap('VM_EXIT_INTR_INFO', 'the exception of the debug exit was not passed (lastExit.debug)');
      }
      return;
    }
    case KvmExit.FAIL_ENTRY: {
      if (!e.failEntry) return;
      if (input.backend !== 'vmx') {
        c.gap('VM_EXIT_REASON', input.backend === undefined
          ? 'hardware_entry_failure_reason is a VMX value only on kvm_intel; pass backend to use it'
          : `hardware_entry_failure_reason is in ${input.backend}'s terms, not VMX`);
        return;
      }
      const v = e.failEntry.hardwareReason & 0xffffffffn;
      const note = 'kvm_run.fail_entry.hardware_entry_failure_reason: the hardware value';
      if (decodeExitReasonField(v).failedEntry) c.put('VM_EXIT_REASON', v, EXIT, { note });
      else c.put('VM_INSTRUCTION_ERROR', v, EXIT, { note: `${note}; VMLAUNCH/VMRESUME failed, no VM exit happened` });
      return;
    }
    case KvmExit.INTERNAL_ERROR: {
      if (!e.internal) return;
      if (input.backend !== 'vmx') {
        c.gap('VM_EXIT_REASON', "an internal error's data words hold VMX exit information only on kvm_intel");
        return;
      }
      const info = exitInfoFromInternalError(e.internal.suberror, e.internal.data);
      if (!info) {
        c.gap('VM_EXIT_REASON', 'this internal error carries no exit information');
        return;
      }
      const note = 'reported by kvm_intel in kvm_run.internal.data: the exit KVM could not handle';
      if (info.exitReason !== undefined) c.put('VM_EXIT_REASON', info.exitReason, EXIT, { note });
      if (info.exitQualification !== undefined) c.put('EXIT_QUALIFICATION', info.exitQualification, EXIT, { note });
      if (info.idtVectoringInfo !== undefined) c.put('IDT_VECTORING_INFO_FIELD', info.idtVectoringInfo, EXIT, { note });
      if (info.exitInterruptionInfo !== undefined) c.put('VM_EXIT_INTR_INFO', info.exitInterruptionInfo, EXIT, { note });
      if (info.exitInterruptionErrorCode !== undefined) c.put('VM_EXIT_INTR_ERROR_CODE', info.exitInterruptionErrorCode, EXIT, { note });
      if (info.guestPhysicalAddress !== undefined) c.put('GUEST_PHYSICAL_ADDRESS', info.guestPhysicalAddress, EXIT, { note });
      return;
    }
    default:
      c.gap('VM_EXIT_REASON', 'no VMX exit is derived for this KVM exit');
  }
}

const GROUP_GAP_REASONS: Partial<Record<VmcsGroup, string>> = {
  'host-state': "the host state is KVM's (the host kernel's); not exposed to user space",
  'execution-controls': "KVM's choice of VM-execution controls; not exposed to user space",
  'exit-controls': "KVM's choice of VM-exit controls; not exposed to user space",
  'entry-controls': "KVM's choice of VM-entry controls; not exposed to user space",
};

function collect(input: DerivedInput): Collector {
  const c = new Collector();
  guestState(input, c);
  exitInformation(input, c);
  for (const f of displayFields()) {
    if (c.values.has(f.name) || c.gaps.has(f.name)) continue;
    const reason =
      GROUP_GAP_REASONS[f.group] ??
      (f.group === 'exit-information'
        ? input.lastExit
          ? 'not defined for this exit, or not in what KVM reports'
          : 'no exit recorded (lastExit)'
        : 'not derivable from what KVM exposes');
    c.gaps.set(f.name, reason);
  }
  return c;
}

/** The VMCS fields derivable from the input, in SDM order. Absent fields are in derivedVmcsGaps. */
export function derivedVmcs(input: DerivedInput): VmcsFieldValue[] {
  return [...collect(input).values.values()].sort(compareDisplay);
}

/** Every displayed VMCS field derivedVmcs leaves out, with the reason, in SDM order. */
export function derivedVmcsGaps(input: DerivedInput): VmcsFieldGap[] {
  return [...collect(input).gaps.entries()]
    .map(([name, reason]) => {
      const f = field(name);
      return { name, encoding: f.encoding, group: f.group, reason };
    })
    .sort(compareDisplay);
}
