// VMX basic exit reasons with readable titles, the VMX exit behind each KVM
// exit, and one-line descriptions of a KVM exit in VMX terms. The numbers come
// from the generated exit-reason-table.ts; the titles and the KVM mapping are
// written here (titles after the SDM's Appendix C, mapping after KVM's vmx.c).

import { hex } from '../../common/address';
import { KvmExit, kvmExitName, KvmInternalError, KvmSystemEvent } from '../kvm/constants';
import type { BackendImplementation } from '../backend';
import { VM_INSTRUCTION_ERRORS, VMX_EXIT_REASONS } from './exit-reason-table';
import type { ExitDetails, IoExit } from './last-exit';

export type { VmxExitReasonDef } from './table-types';
import type { VmxExitReasonDef } from './table-types';

/** Titles for the kernel's EXIT_REASON_* names (SDM Vol. 3D, Appendix C). A test requires one per generated reason. */
export const VMX_EXIT_TITLES: Readonly<Record<string, string>> = {
  EXCEPTION_NMI: 'Exception or NMI',
  EXTERNAL_INTERRUPT: 'External interrupt',
  TRIPLE_FAULT: 'Triple fault',
  INIT_SIGNAL: 'INIT signal',
  SIPI_SIGNAL: 'Start-up IPI (SIPI)',
  INTERRUPT_WINDOW: 'Interrupt window',
  NMI_WINDOW: 'NMI window',
  TASK_SWITCH: 'Task switch',
  CPUID: 'CPUID',
  HLT: 'HLT',
  INVD: 'INVD',
  INVLPG: 'INVLPG',
  RDPMC: 'RDPMC',
  RDTSC: 'RDTSC',
  VMCALL: 'VMCALL',
  VMCLEAR: 'VMCLEAR',
  VMLAUNCH: 'VMLAUNCH',
  VMPTRLD: 'VMPTRLD',
  VMPTRST: 'VMPTRST',
  VMREAD: 'VMREAD',
  VMRESUME: 'VMRESUME',
  VMWRITE: 'VMWRITE',
  VMOFF: 'VMXOFF',
  VMON: 'VMXON',
  CR_ACCESS: 'Control-register access',
  DR_ACCESS: 'MOV DR',
  IO_INSTRUCTION: 'I/O instruction',
  MSR_READ: 'RDMSR',
  MSR_WRITE: 'WRMSR',
  INVALID_STATE: 'VM-entry failure due to invalid guest state',
  MSR_LOAD_FAIL: 'VM-entry failure due to MSR loading',
  MWAIT_INSTRUCTION: 'MWAIT',
  MONITOR_TRAP_FLAG: 'Monitor trap flag',
  MONITOR_INSTRUCTION: 'MONITOR',
  PAUSE_INSTRUCTION: 'PAUSE',
  MCE_DURING_VMENTRY: 'VM-entry failure due to machine-check event',
  TPR_BELOW_THRESHOLD: 'TPR below threshold',
  APIC_ACCESS: 'APIC access',
  EOI_INDUCED: 'Virtualized EOI',
  GDTR_IDTR: 'Access to GDTR or IDTR',
  LDTR_TR: 'Access to LDTR or TR',
  EPT_VIOLATION: 'EPT violation',
  EPT_MISCONFIG: 'EPT misconfiguration',
  INVEPT: 'INVEPT',
  RDTSCP: 'RDTSCP',
  PREEMPTION_TIMER: 'VMX-preemption timer expired',
  INVVPID: 'INVVPID',
  WBINVD: 'WBINVD or WBNOINVD',
  XSETBV: 'XSETBV',
  APIC_WRITE: 'APIC write',
  RDRAND: 'RDRAND',
  INVPCID: 'INVPCID',
  VMFUNC: 'VMFUNC',
  ENCLS: 'ENCLS',
  RDSEED: 'RDSEED',
  PML_FULL: 'Page-modification log full',
  XSAVES: 'XSAVES',
  XRSTORS: 'XRSTORS',
  UMWAIT: 'UMWAIT',
  TPAUSE: 'TPAUSE',
  BUS_LOCK: 'Bus lock',
  NOTIFY: 'Notify window exceeded',
};

export interface VmxExitReason extends VmxExitReasonDef {
  title: string;
}

const reasonByNumber = new Map<number, VmxExitReason>(
  VMX_EXIT_REASONS.map((r) => [r.reason, { ...r, title: VMX_EXIT_TITLES[r.name] ?? r.name }]),
);
const reasonByName = new Map<string, VmxExitReason>([...reasonByNumber.values()].map((r) => [r.name, r]));

/** A basic exit reason (bits 15:0 of the exit-reason field). */
export function vmxExitReason(basic: number): VmxExitReason | undefined {
  return reasonByNumber.get(basic);
}

/** The number of a reason the code names; throws on a name the table lacks. */
export function vmxReason(name: string): number {
  const r = reasonByName.get(name);
  if (!r) throw new Error(`no VMX exit reason named ${name}`);
  return r.reason;
}

export function vmxExitTitle(basic: number): string {
  return reasonByNumber.get(basic)?.title ?? 'Unknown exit';
}

/** The 32-bit exit-reason field split up (SDM Vol. 3C, "Basic VM-Exit Information"). */
export interface ExitReasonField {
  basic: number;
  /** Bit 31: VM-entry failure. */
  failedEntry: boolean;
  /** Bit 27: the exit came from an SGX enclave. */
  enclaveMode: boolean;
  /** Bit 26: a bus lock was detected alongside this exit. */
  busLockDetected: boolean;
}

export function decodeExitReasonField(full: number | bigint): ExitReasonField {
  const v = Number(BigInt(full) & 0xffffffffn);
  return {
    basic: v & 0xffff,
    failedEntry: (v & 0x80000000) !== 0,
    enclaveMode: (v & (1 << 27)) !== 0,
    busLockDetected: (v & (1 << 26)) !== 0,
  };
}

export function vmInstructionErrorName(error: number): string {
  const e = VM_INSTRUCTION_ERRORS.find((x) => x.error === error);
  return e ? e.name.toLowerCase().replace(/_/g, ' ') : `VM-instruction error ${error}`;
}

// ---- KVM exit -> VMX exit ----

export interface KvmToVmx {
  kvmExit: number;
  /** The VMX basic exit reasons behind it, most usual first; empty when none is fixed. */
  vmx: readonly number[];
  /** What makes the exit happen, in VMX terms. */
  cause: string;
}

/** The VMX exits behind the KVM exits vmscope handles (docs/vmx.md renders this table). */
export const KVM_EXIT_TO_VMX: readonly KvmToVmx[] = [
  {
    kvmExit: KvmExit.IO,
    vmx: [vmxReason('IO_INSTRUCTION')],
    cause: 'IN, OUT, INS or OUTS to a port the kernel does not emulate (I/O bitmaps or unconditional I/O exiting)',
  },
  {
    kvmExit: KvmExit.MMIO,
    vmx: [vmxReason('EPT_VIOLATION'), vmxReason('EPT_MISCONFIG')],
    cause:
      'a load or store to a guest-physical address with no memory slot, or a write to a read-only slot: an EPT violation the first time; an EPT misconfiguration once KVM has marked the page as MMIO in its EPT',
  },
  {
    kvmExit: KvmExit.HLT,
    vmx: [vmxReason('HLT')],
    cause: 'HLT with HLT exiting, when the local APIC is in user space (with an in-kernel irqchip KVM keeps the vCPU halted itself)',
  },
  {
    kvmExit: KvmExit.SHUTDOWN,
    vmx: [vmxReason('TRIPLE_FAULT')],
    cause: 'a triple fault: an exception while delivering a double fault',
  },
  {
    kvmExit: KvmExit.HYPERCALL,
    vmx: [vmxReason('VMCALL')],
    cause: 'VMCALL with a hypercall KVM hands to user space (KVM_HC_MAP_GPA_RANGE, enabled by KVM_CAP_EXIT_HYPERCALL)',
  },
  {
    kvmExit: KvmExit.X86_RDMSR,
    vmx: [vmxReason('MSR_READ')],
    cause: 'RDMSR of an MSR user space asked to handle (KVM_CAP_X86_USER_SPACE_MSR, MSR filters)',
  },
  {
    kvmExit: KvmExit.X86_WRMSR,
    vmx: [vmxReason('MSR_WRITE')],
    cause: 'WRMSR of an MSR user space asked to handle (KVM_CAP_X86_USER_SPACE_MSR, MSR filters)',
  },
  {
    kvmExit: KvmExit.DEBUG,
    vmx: [vmxReason('EXCEPTION_NMI')],
    cause:
      '#DB or #BP intercepted through the exception bitmap for KVM_SET_GUEST_DEBUG; when KVM was emulating the instruction, its emulator raises the exit after some other VMX exit',
  },
  {
    kvmExit: KvmExit.FAIL_ENTRY,
    vmx: [vmxReason('INVALID_STATE'), vmxReason('MSR_LOAD_FAIL'), vmxReason('MCE_DURING_VMENTRY')],
    cause:
      'VM entry failed while loading guest state: exit reason with bit 31 set (hardware_entry_failure_reason). A VMLAUNCH/VMRESUME that failed outright reports its VM-instruction error there instead (bit 31 clear)',
  },
  {
    kvmExit: KvmExit.IRQ_WINDOW_OPEN,
    vmx: [vmxReason('INTERRUPT_WINDOW')],
    cause: 'user space asked for an interrupt window (request_interrupt_window) and the guest can now take an interrupt, usually signalled by an interrupt-window exit',
  },
  {
    kvmExit: KvmExit.X86_BUS_LOCK,
    vmx: [vmxReason('BUS_LOCK')],
    cause: 'a bus lock with KVM_CAP_X86_BUS_LOCK_EXIT; the detection can also ride on another exit (exit-reason bit 26)',
  },
  {
    kvmExit: KvmExit.NOTIFY,
    vmx: [vmxReason('NOTIFY')],
    cause: 'the notify window ran out without an instruction boundary (KVM_CAP_X86_NOTIFY_VMEXIT with KVM_X86_NOTIFY_VMEXIT_USER)',
  },
  {
    kvmExit: KvmExit.INTERNAL_ERROR,
    vmx: [],
    cause:
      'no single reason: KVM could not handle some exit. Emulation failure (suberror 1) follows any exit that needed the instruction emulator; suberrors 2 and 3 are an exception or exit during event delivery; 4 an exit reason KVM has no handler for. On kvm_intel the data words carry the VMX exit (see exitInfoFromInternalError)',
  },
  {
    kvmExit: KvmExit.SYSTEM_EVENT,
    vmx: [],
    cause:
      'no VMX reason of its own: KVM raises it from a request, on x86 a Hyper-V guest writing its crash or reset MSR (so the VMX exit was that WRMSR, 32); SEV termination is SVM-only',
  },
];

const mappingByExit = new Map(KVM_EXIT_TO_VMX.map((m) => [m.kvmExit, m]));

/** The VMX basic exit reasons behind a KVM exit (most usual first); empty when none is fixed or known. */
export function vmxReasonsForKvmExit(kvmExit: number): readonly number[] {
  return mappingByExit.get(kvmExit)?.vmx ?? [];
}

export function kvmToVmx(kvmExit: number): KvmToVmx | undefined {
  return mappingByExit.get(kvmExit);
}

/** The mapping as the Markdown table docs/vmx.md carries (a test keeps the two equal). */
export function exitMappingMarkdown(): string {
  const rows = KVM_EXIT_TO_VMX.map((m) => {
    const vmx = m.vmx.length === 0 ? 'none' : m.vmx.map((r) => `${r} ${vmxExitTitle(r)}`).join(', ');
    return `| \`${kvmExitName(m.kvmExit)}\` | ${vmx} | ${m.cause} |`;
  });
  return ['| KVM exit | VMX basic exit reason | What causes it |', '| --- | --- | --- |', ...rows].join('\n');
}

// ---- What kvm_intel puts in kvm_run.internal.data ----

export interface InternalErrorExitInfo {
  /** The full 32-bit exit-reason field of the exit KVM could not handle. */
  exitReason?: number;
  exitQualification?: bigint;
  idtVectoringInfo?: number;
  exitInterruptionInfo?: number;
  exitInterruptionErrorCode?: number;
  guestPhysicalAddress?: bigint;
}

const u32 = (v: bigint) => Number(v & 0xffffffffn);

/**
 * The VMX exit information kvm_intel stores with an internal error (vmx.c and
 * x86.c): suberror 1 (emulation failure, kernels 5.14+): data[0] flags, two
 * words of instruction bytes when flags bit 0 is set, then exit reason,
 * qualification, IDT-vectoring info, interruption info, error code; suberror 2
 * (exception during event delivery, exit reason 0): IDT-vectoring info,
 * interruption info, error code; suberror 3 (exit during event delivery):
 * IDT-vectoring info, exit reason, qualification, and the GPA for EPT exits;
 * suberror 4 (unexpected exit): exit reason. Only meaningful on kvm_intel: the
 * same words hold other vendors' codes elsewhere.
 */
export function exitInfoFromInternalError(suberror: number, data: readonly bigint[]): InternalErrorExitInfo | undefined {
  switch (suberror) {
    case KvmInternalError.EMULATION: {
      if (data.length < 1) return undefined;
      const start = 1 + ((data[0]! & 1n) !== 0n ? 2 : 0);
      if (data.length < start + 5) return undefined;
      const info: InternalErrorExitInfo = {
        exitReason: u32(data[start]!),
        exitQualification: data[start + 1]!,
        idtVectoringInfo: u32(data[start + 2]!),
      };
      if (!decodeExitReasonField(info.exitReason!).failedEntry) {
        info.exitInterruptionInfo = u32(data[start + 3]!);
        info.exitInterruptionErrorCode = u32(data[start + 4]!);
      }
      return info;
    }
    case KvmInternalError.SIMUL_EX:
      if (data.length < 3) return undefined;
      return {
        exitReason: vmxReason('EXCEPTION_NMI'),
        idtVectoringInfo: u32(data[0]!),
        exitInterruptionInfo: u32(data[1]!),
        exitInterruptionErrorCode: u32(data[2]!),
      };
    case KvmInternalError.DELIVERY_EV: {
      if (data.length < 3) return undefined;
      const info: InternalErrorExitInfo = { idtVectoringInfo: u32(data[0]!), exitReason: u32(data[1]!), exitQualification: data[2]! };
      const basic = decodeExitReasonField(info.exitReason!).basic;
      const ept = basic === vmxReason('EPT_VIOLATION') || basic === vmxReason('EPT_MISCONFIG');
      if (ept && data.length >= 5) info.guestPhysicalAddress = data[3]!;
      return info;
    }
    case KvmInternalError.UNEXPECTED_EXIT_REASON:
      return data.length >= 1 ? { exitReason: u32(data[0]!) } : undefined;
    default:
      return undefined;
  }
}

// ---- Descriptions ----
const bytes = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;
const tag = (basic: number) => `${vmxExitTitle(basic)} (VMX exit ${basic})`;

function describeIo(io: IoExit): string {
  const op = io.string ? (io.in ? 'ins' : 'outs') : io.in ? 'in' : 'out';
  let s = `${io.rep ? 'rep ' : ''}${op} ${hex(io.port)}, ${bytes(io.size)}`;
  if (io.string || io.count > 1) s += `, count ${io.count}`;
  if (io.value !== undefined) s += `, value ${hex(io.value)}`;
  return s;
}

const INTERNAL_NAMES: Readonly<Record<number, string>> = {
  [KvmInternalError.EMULATION]: 'emulation failure',
  [KvmInternalError.SIMUL_EX]: 'exception while delivering an event',
  [KvmInternalError.DELIVERY_EV]: 'exit during event delivery',
  [KvmInternalError.UNEXPECTED_EXIT_REASON]: 'unexpected exit reason',
};

const SYSTEM_EVENT_NAMES: Readonly<Record<number, string>> = {
  [KvmSystemEvent.SHUTDOWN]: 'shutdown',
  [KvmSystemEvent.RESET]: 'reset',
  [KvmSystemEvent.CRASH]: 'crash',
};

function describeFailEntry(reason: bigint, backend: BackendImplementation | undefined): string {
  const v = Number(reason & 0xffffffffn);
  if (backend !== undefined && backend !== 'vmx') {
    return `VM-entry failure: hardware_entry_failure_reason ${hex(v)} (in ${backend}'s own terms, not VMX)`;
  }
  const hedge = backend === 'vmx' ? '' : ' if the host is VMX';
  const f = decodeExitReasonField(v);
  if (f.failedEntry) return `VM-entry failure (VMX exit reason ${hex(v)}${hedge}: ${vmxExitTitle(f.basic)}, ${f.basic})`;
  return `VM-entry failed before the guest ran (VMLAUNCH/VMRESUME error ${v}${hedge}: ${vmInstructionErrorName(v)})`;
}

/**
 * A one-line account of a KVM exit in VMX terms, e.g.
 * "I/O instruction (VMX exit 30): out 0x3f8, 1 byte, value 0x48". `backend`
 * says whether codes KVM passes through (fail_entry, internal data) are VMX.
 */
export function describeExit(kvmExit: number, details: ExitDetails = {}, backend?: BackendImplementation): string {
  switch (kvmExit) {
    case KvmExit.IO:
      return details.io ? `${tag(vmxReason('IO_INSTRUCTION'))}: ${describeIo(details.io)}` : tag(vmxReason('IO_INSTRUCTION'));
    case KvmExit.MMIO: {
      const head = `${tag(vmxReason('EPT_VIOLATION'))} or ${tag(vmxReason('EPT_MISCONFIG'))}`;
      const m = details.mmio;
      if (!m) return head;
      let s = `${head}: ${m.write ? 'write' : 'read'} ${hex(m.gpa)}, ${bytes(m.len)}`;
      if (m.value !== undefined) s += `, value ${hex(m.value)}`;
      return s;
    }
    case KvmExit.HLT:
      return tag(vmxReason('HLT'));
    case KvmExit.SHUTDOWN:
      return tag(vmxReason('TRIPLE_FAULT'));
    case KvmExit.HYPERCALL:
      return details.hypercall ? `${tag(vmxReason('VMCALL'))}: hypercall ${details.hypercall.nr}` : tag(vmxReason('VMCALL'));
    case KvmExit.X86_RDMSR:
    case KvmExit.X86_WRMSR: {
      const head = tag(vmxReason(kvmExit === KvmExit.X86_RDMSR ? 'MSR_READ' : 'MSR_WRITE'));
      const m = details.msr;
      if (!m) return head;
      return `${head}: MSR ${hex(m.index)}${m.value !== undefined ? `, value ${hex(m.value)}` : ''}`;
    }
    case KvmExit.DEBUG: {
      const head = tag(vmxReason('EXCEPTION_NMI'));
      const d = details.debug;
      if (!d) return head;
      const name = d.exception === 1 ? '#DB' : d.exception === 3 ? '#BP' : `vector ${d.exception}`;
      return `${head}: ${name}${d.pc !== undefined ? ` at ${hex(d.pc)}` : ''}`;
    }
    case KvmExit.FAIL_ENTRY:
      return details.failEntry ? describeFailEntry(details.failEntry.hardwareReason, backend) : 'VM-entry failure (VMX exit reason 33, 34 or 41 with bit 31 set)';
    case KvmExit.INTERNAL_ERROR: {
      const i = details.internal;
      if (!i) return 'KVM internal error (no single VMX exit reason)';
      let s = `KVM internal error, ${INTERNAL_NAMES[i.suberror] ?? `suberror ${i.suberror}`}`;
      const info = backend === 'vmx' ? exitInfoFromInternalError(i.suberror, i.data) : undefined;
      if (info?.exitReason !== undefined) {
        const f = decodeExitReasonField(info.exitReason);
        s += `, after ${vmxExitTitle(f.basic)} (VMX exit ${f.basic})`;
      } else {
        s += ' (no single VMX exit reason)';
      }
      return s;
    }
    case KvmExit.SYSTEM_EVENT: {
      const t = details.systemEvent?.type;
      const what = t === undefined ? '' : `: ${SYSTEM_EVENT_NAMES[t] ?? `type ${t}`}`;
      return `System event${what} (no VMX exit reason of its own)`;
    }
    default: {
      const m = mappingByExit.get(kvmExit);
      return m && m.vmx.length > 0 ? `${tag(m.vmx[0]!)} (${kvmExitName(kvmExit)})` : `${kvmExitName(kvmExit)} (no VMX exit reason)`;
    }
  }
}
