// What an emulated vCPU's thread is given by the machine (vmm/emu/machine.ts
// builds it, vmm/emu/vcpu.ts uses it), and the shared memory it counts in.
// Types and sizes only, so the seam can name them without importing either.

import type { CpuidEntry } from '../registers';

export interface EmuVcpuConfig {
  engine: number;
  /** Guest RAM/ROM: the same host memory Unicorn maps. */
  regions: ReadonlyArray<{ gpa: number; size: number; hva: bigint }>;
  /** This vCPU's CPUID table (the runner's, with its APIC ID). */
  cpuid: CpuidEntry[];
  paging: { maxPhysAddr: number; gbPages: boolean };
  /** Host memory the runner mapped: port policy bytes, per-port counters, the fast-path exit count. */
  shared: { ports: bigint; counts: bigint; fast: bigint };
  /** The VM's turn words (several vCPUs): next ticket, ticket served, engine holding the turn. */
  turn?: { words: SharedArrayBuffer };
  /** Time slice (µs) after which a vCPU waiting for its turn kicks the one running. */
  sliceUs: number;
  /** A counter the machine bumps when the debugger writes guest memory (planting int3, writeMemory). */
  memWrites: SharedArrayBuffer;
  /** Int32: 1 while RDMSR/WRMSR must reach vmscope (MSR exit filters; see EmuMachine.trapMsrs). */
  msrExits: SharedArrayBuffer;
}

export const PORT_COUNT = 0x10000;
/** Bytes of shared memory a vCPU needs for its port policy, counters and fast-path count. */
export const SHARED_BYTES = { ports: PORT_COUNT, counts: PORT_COUNT * 16, fast: 8 };
