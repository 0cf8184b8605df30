// KVM constants vmscope uses, copied from the kernel's include/uapi/linux/kvm.h
// (values are ABI and never change). kvm.test.ts checks each one against the
// value the addon was compiled with, so a typo here cannot survive `npm test`.

/** KVM_EXIT_* (the x86-relevant ones). */
export const KvmExit = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  OSI: 18,
  SYSTEM_EVENT: 24,
  IOAPIC_EOI: 26,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
  DIRTY_RING_FULL: 31,
  AP_RESET_HOLD: 32,
  X86_BUS_LOCK: 33,
  NOTIFY: 37,
} as const;

export type KvmExitName = keyof typeof KvmExit;

/** Highest exit code vmscope keeps a counter for (counters are indexed by code). */
export const MAX_EXIT_CODE = 63;

const exitNameByCode = new Map<number, string>(Object.entries(KvmExit).map(([k, v]) => [v, `KVM_EXIT_${k}`]));

export function kvmExitName(code: number): string {
  return exitNameByCode.get(code) ?? `KVM_EXIT_${code}`;
}

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const KvmInternalError = {
  EMULATION: 1,
  SIMUL_EX: 2,
  DELIVERY_EV: 3,
  UNEXPECTED_EXIT_REASON: 4,
} as const;

export const KvmSystemEvent = {
  SHUTDOWN: 1,
  RESET: 2,
  CRASH: 3,
} as const;

export const KvmGuestDebug = {
  ENABLE: 0x1,
  SINGLESTEP: 0x2,
  USE_SW_BP: 0x10000,
  USE_HW_BP: 0x20000,
  INJECT_DB: 0x40000,
  INJECT_BP: 0x80000,
} as const;

export const KVM_MEM_READONLY = 1 << 1;

/** KVM_CAP_* that vmscope asks about. */
export const KvmCap = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  EXT_CPUID: 7,
  NR_VCPUS: 9,
  NR_MEMSLOTS: 10,
  SYNC_MMU: 16,
  SET_GUEST_DEBUG: 23,
  SET_IDENTITY_MAP_ADDR: 37,
  VCPU_EVENTS: 41,
  DEBUGREGS: 50,
  XSAVE: 55,
  XCRS: 56,
  MAX_VCPUS: 66,
  READONLY_MEM: 81,
  GET_MSR_FEATURES: 153,
  IMMEDIATE_EXIT: 136,
  NESTED_STATE: 157,
  EXIT_HYPERCALL: 201,
  X86_USER_SPACE_MSR: 188,
  X86_MSR_FILTER: 189,
  XSAVE2: 208,
} as const;

export type KvmCapName = keyof typeof KvmCap;

/** errno values the runner distinguishes. */
export const EINTR = 4;
export const EAGAIN = 11;
