// The emulation backend's machine side (the machine's thread): opens one
// Unicorn engine per vCPU over the runner's guest memory (uc_mem_map_ptr, so
// memory views, the page walker and GPA->HVA->HPA work unchanged), maps MMIO
// regions and the holes between memory as MMIO (an access there reaches the
// device bus, as a KVM MMIO exit would), builds the CPUID table the guest
// sees, and gives each vCPU's thread what it needs.

import type { CpuidEntry } from '../registers';
import type { GuestMemory } from '../memory';
import type { BackendCapabilities, MachineBackend } from '../backend';
import { physReader } from '../paging/phys';
import { EmuVcpuState } from './state';
import { loadUnicorn, type UnicornNative } from './native';
import { SHARED_BYTES, type EmuVcpuConfig } from './config';

export const EMU_CAPABILITIES: BackendCapabilities = {
  softwareBreakpoints: true,
  dataWatchpoints: true,
  maxHardwareBreakpoints: 64,
  nestedState: false,
  exactInstructionCount: true,
  msrExits: true,
  hardwareVmcs: false,
};

/** Guest-physical space the emulator covers at most: unbacked ranges below this are MMIO (to the bus). */
const MMIO_TOP_MAX = 2 ** 40;

/**
 * The CPUID table the guest sees: what Unicorn's CPU model answers for each
 * leaf (read by running CPUID in a throwaway engine), with VMX and the local
 * APIC cleared, and vmscope's APIC ID per vCPU.
 */
export function emulatorCpuid(uc: UnicornNative): CpuidEntry[] {
  const C = uc.ucConstants;
  const id = uc.ucOpen(C.UC_MODE_64!);
  const page = uc.mmapAnonymous(4096);
  try {
    uc.ucMemMapPtr(id, 0x1000, 4096, C.UC_PROT_ALL!, page);
    const code = new Uint8Array(uc.externalBuffer(page, 4096));
    code.set([0x0f, 0xa2, 0xf4]); // cpuid; hlt
    const ask = (fn: number, index: number): CpuidEntry => {
      uc.ucRegWrite(id, C.UC_X86_REG_RAX!, BigInt(fn));
      uc.ucRegWrite(id, C.UC_X86_REG_RCX!, BigInt(index));
      uc.ucEmuStart(id, 0x1000n, 0, 1);
      const r = (reg: number) => Number(uc.ucRegRead(id, reg) & 0xffffffffn);
      return { function: fn, index, flags: 0, eax: r(C.UC_X86_REG_RAX!), ebx: r(C.UC_X86_REG_RBX!), ecx: r(C.UC_X86_REG_RCX!), edx: r(C.UC_X86_REG_RDX!) };
    };
    const out: CpuidEntry[] = [];
    const maxBasic = Math.min(ask(0, 0).eax, 0x1f);
    for (let fn = 0; fn <= maxBasic; fn++) {
      // Leaves 4, 7, 0xb, 0xd and 0x1f have subleaves (flags bit 0: the index matters).
      const sub = [4, 7, 0xb, 0xd, 0x1f].includes(fn) ? 4 : 1;
      for (let i = 0; i < sub; i++) out.push({ ...ask(fn, i), flags: sub > 1 ? 1 : 0 });
    }
    const maxExt = Math.min(ask(0x80000000, 0).eax >>> 0, 0x80000008);
    for (let fn = 0x80000000; fn <= maxExt; fn++) out.push(ask(fn, 0));
    return out.map((e) => {
      // No VMX (no nested virtualization under emulation), and no local APIC, x2APIC or TSC deadline: vmscope emulates no
      // local APIC yet, so a guest such as Linux must use the 8259A and the PIT rather than read all ones at 0xFEE00000.
      if (e.function === 1) return { ...e, ecx: (e.ecx & ~((1 << 5) | (1 << 21) | (1 << 24))) >>> 0, edx: (e.edx & ~(1 << 9)) >>> 0 };
      // QEMU's MMU in Unicorn maps 1 GiB pages whatever the CPU model says (measured: a guest load through one):
      // the guest is told so, and vmscope's walker judges PDPTEs the same way.
      if (e.function === 0x80000001) return { ...e, edx: (e.edx | (1 << 26)) >>> 0 };
      return e;
    });
  } finally {
    uc.ucClose(id);
    uc.munmap(page, 4096);
  }
}

export interface EmuMachineOptions {
  memory: GuestMemory;
  mmioRegions: ReadonlyArray<{ gpa: number; size: number }>;
  vcpus: number;
}

let cpuidOfLibrary: CpuidEntry[] | undefined;

export class EmuMachine implements MachineBackend {
  readonly name = 'emu';
  readonly implementation = 'emu';
  readonly capabilities = EMU_CAPABILITIES;
  readonly uc: UnicornNative;
  readonly engines: number[] = [];
  readonly cpuid: CpuidEntry[];
  private readonly shared: Array<{ ports: bigint; counts: bigint; fast: bigint }> = [];
  private readonly turnWords = new SharedArrayBuffer(3 * 4);
  /** Bumped whenever the debugger writes guest memory; each vCPU then drops its translated code. */
  private readonly memWrites = new SharedArrayBuffer(4);
  /** 1 while MSR exit filters want RDMSR/WRMSR (each vCPU then scans for them). */
  private readonly msrExits = new SharedArrayBuffer(4);
  readonly version: string;

  constructor(private readonly opts: EmuMachineOptions) {
    const lib = loadUnicorn();
    this.uc = lib.native;
    this.version = lib.version;
    // The CPU model is the library's: its table is the same for every machine of the process.
    this.cpuid = (cpuidOfLibrary ??= emulatorCpuid(this.uc));
    new Int32Array(this.turnWords)[2] = -1;
    const C = this.uc.ucConstants;
    try {
      for (let i = 0; i < opts.vcpus; i++) {
        const id = this.uc.ucOpen(C.UC_MODE_64!);
        this.engines.push(id);
        this.uc.ucCtl(id, 'no-exits');
        for (const r of opts.memory.regions) {
          // ROM is mapped writable: Unicorn cannot trap a write to it as KVM_MEM_READONLY does.
          this.uc.ucMemMapPtr(id, r.gpa, r.size, C.UC_PROT_ALL!, r.hva);
        }
        for (const [gpa, size] of mmioHoles(opts.memory, Math.min(2 ** this.pagingFeatures().maxPhysAddr, MMIO_TOP_MAX))) this.uc.ucMmioMap(id, gpa, size);
        this.shared.push({
          ports: this.uc.mmapAnonymous(SHARED_BYTES.ports),
          counts: this.uc.mmapAnonymous(SHARED_BYTES.counts),
          fast: this.uc.mmapAnonymous(SHARED_BYTES.fast),
        });
      }
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** Per-vCPU CPUID: this vCPU's APIC ID in leaves 1, 0xb and 0x1f. */
  cpuidFor(index: number): CpuidEntry[] {
    return this.cpuid.map((e) => {
      if (e.function === 1) return { ...e, ebx: ((e.ebx & 0x00ffffff) | (index << 24)) >>> 0 };
      if (e.function === 0xb || e.function === 0x1f) return { ...e, edx: index };
      return e;
    });
  }

  /** MAXPHYADDR and 1 GiB pages as the emulated CPU reports them (and its MMU applies them); the table is fixed, so worked out once (every page walk asks). */
  pagingFeatures(): { maxPhysAddr: number; gbPages: boolean } {
    if (this.paging) return this.paging;
    const ext1 = this.cpuid.find((e) => e.function === 0x80000001);
    const ext8 = this.cpuid.find((e) => e.function === 0x80000008);
    return (this.paging = { maxPhysAddr: ext8 ? ext8.eax & 0xff : 36, gbPages: ext1 ? ((ext1.edx >>> 26) & 1) === 1 : false });
  }
  private paging: { maxPhysAddr: number; gbPages: boolean } | undefined;

  vcpuState(index: number, onWrite: () => void = () => {}): EmuVcpuState {
    return new EmuVcpuState(this.uc, this.engines[index]!, physReader(this.opts.memory), () => this.pagingFeatures(), onWrite);
  }

  loopConfig(index: number): { fd: number; mmapSize: number; emu: EmuVcpuConfig } {
    const cfg: EmuVcpuConfig = {
      engine: this.engines[index]!,
      regions: this.opts.memory.regions.map((r) => ({ gpa: r.gpa, size: r.size, hva: r.hva })),
      cpuid: this.cpuidFor(index),
      paging: this.pagingFeatures(),
      shared: this.shared[index]!,
      sliceUs: 10_000,
      memWrites: this.memWrites,
      msrExits: this.msrExits,
    };
    if (this.engines.length > 1) cfg.turn = { words: this.turnWords };
    return { fd: -1, mmapSize: 0, emu: cfg };
  }

  kick(index: number): void {
    this.uc.ucKick(this.engines[index]!);
  }

  memoryWritten(_gpa: number, _len: number): void {
    Atomics.add(new Int32Array(this.memWrites), 0, 1);
  }

  get description(): string {
    return `emulation (Unicorn ${this.version})`;
  }

  /**
   * Unicorn 2.1 cannot hook RDMSR/WRMSR: while MSR exits are wanted, each
   * vCPU scans instructions with a code hook instead (see docs/backends.md).
   * Running vCPUs pick it up at their next entry (the machine kicks them).
   */
  trapMsrs(on: boolean): boolean {
    Atomics.store(new Int32Array(this.msrExits), 0, on ? 1 : 0);
    return true;
  }

  /** Contract: every vCPU thread has exited. */
  release(): void {
    for (const id of this.engines) this.uc.ucClose(id);
    this.engines.length = 0;
    for (const s of this.shared) {
      this.uc.munmap(s.ports, SHARED_BYTES.ports);
      this.uc.munmap(s.counts, SHARED_BYTES.counts);
      this.uc.munmap(s.fast, SHARED_BYTES.fast);
    }
    this.shared.length = 0;
  }
}

/** Guest-physical ranges below `top` that no RAM or ROM backs, page-aligned, as [gpa, size]. */
export function mmioHoles(memory: Pick<GuestMemory, 'regions'>, top: number): Array<[number, number]> {
  const backed = [...memory.regions].map((r) => [r.gpa, r.gpa + r.size] as const).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let at = 0;
  for (const [s, e] of backed) {
    if (s > at) out.push([at, s - at]);
    at = Math.max(at, e);
  }
  if (at < top) out.push([at, top - at]);
  return out.filter(([g, n]) => n > 0 && g % 4096 === 0 && n % 4096 === 0);
}

