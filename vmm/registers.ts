// The runner's own register vocabulary, whatever the backend: general
// registers, segments with their hidden parts, control and debug registers,
// FPU/SSE, pending events, CPUID entries and translations. KVM's structs
// (vmm/kvm/structs.ts) and the emulator's registers (vmm/emu/state.ts) are
// converted to and from these; nothing above vmm/ sees a backend's own types.
// The shapes follow the SDM's architectural state, in KVM's field order,
// which is also the order the debugger shows.

export const GPR_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags',
] as const;
export type GprName = (typeof GPR_NAMES)[number];
/** The 18 general registers, in GPR_NAMES order (which is also kvm_regs's). */
export type Regs = Record<GprName, bigint>;

export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

export interface DescriptorTable {
  base: bigint;
  limit: number;
}

export const SEGMENT_NAMES = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

export interface Sregs extends Record<SegmentName, Segment> {
  gdt: DescriptorTable;
  idt: DescriptorTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

export interface DebugRegs {
  db: [bigint, bigint, bigint, bigint];
  dr6: bigint;
  dr7: bigint;
  flags: bigint;
}

export interface Translation {
  linear: bigint;
  physical: bigint;
  valid: boolean;
  writeable: boolean;
  usermode: boolean;
}

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface Fpu {
  /** x87 registers st0..st7 as 10-byte values (80-bit extended). */
  fpr: Uint8Array[];
  fcw: number;
  fsw: number;
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  /** xmm0..xmm15 as 16-byte values. */
  xmm: Uint8Array[];
  mxcsr: number;
}

export interface VcpuEvents {
  exception: { injected: number; nr: number; hasErrorCode: number; pending: number; errorCode: number };
  interrupt: { injected: number; nr: number; shadow: number };
  nmi: { injected: number; pending: number; masked: number };
  sipiVector: number;
  flags: number;
}


// Architectural bits of the control registers, EFER and RFLAGS (SDM Vol. 3A,
// 2.5 and 2.2.1; Vol. 1, 3.4.3), as bigint masks.
export const CR0_PE = 1n << 0n;
export const CR0_MP = 1n << 1n;
export const CR0_ET = 1n << 4n;
export const CR0_NE = 1n << 5n;
export const CR0_WP = 1n << 16n;
export const CR0_PG = 1n << 31n;
export const CR4_PSE = 1n << 4n;
export const CR4_PAE = 1n << 5n;
export const CR4_OSFXSR = 1n << 9n;
export const CR4_OSXMMEXCPT = 1n << 10n;
export const CR4_LA57 = 1n << 12n;
export const CR4_SMEP = 1n << 20n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
export const EFER_NXE = 1n << 11n;
export const RFLAGS_RESERVED = 0x2n;
export const RFLAGS_TF = 1n << 8n;
export const RFLAGS_IF = 1n << 9n;
export const RFLAGS_IOPL = 3n << 12n;
export const RFLAGS_NT = 1n << 14n;
export const RFLAGS_RF = 1n << 16n;
export const RFLAGS_VM = 1n << 17n;
export const RFLAGS_AC = 1n << 18n;
