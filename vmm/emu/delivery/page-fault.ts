// The #PF error code for a page fault that Unicorn reports without one: the access kind from decoding the
// faulting instruction, P and RSVD from a walk of the guest's page tables.

import type { InstructionInfoFactory, Register } from 'iced-x86';
import { gva } from '../../../common/address';
import { walk } from '../../paging/walk';
import type { GprName, Regs, Sregs } from '../../registers';
import { CR0_PE, EFER_LMA, RFLAGS_AC as AC, RFLAGS_VM as VM } from '../../registers';
import { MASK16, MASK32, MASK64, errorCodeOf, linearRip, pagingContext, type AccessKind, type DeliveryCpu, type PagingFeatures } from './attempt';

type Iced = typeof import('iced-x86');
/**
 * iced-x86, loaded at the first page fault rather than with the vCPU thread:
 * its WebAssembly module is about half of what a vCPU thread loads before its
 * first instruction (100-300 ms here), and most guests never take a #PF that
 * needs an error code. With the tables that name its registers.
 */
let iced: { m: Iced; gprs: Map<Register, GprName>; segments: Map<Register, 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs'> } | undefined;
function icedModule(): NonNullable<typeof iced> {
  if (iced) return iced;
  // A plain require: the bundler keeps it, and TypeScript's import() would turn it into a promise.
  const m = require('iced-x86') as Iced;
  const R = m.Register;
  const gprs = new Map<Register, GprName>([
    [R.RAX, 'rax'], [R.RCX, 'rcx'], [R.RDX, 'rdx'], [R.RBX, 'rbx'],
    [R.RSP, 'rsp'], [R.RBP, 'rbp'], [R.RSI, 'rsi'], [R.RDI, 'rdi'],
    [R.R8, 'r8'], [R.R9, 'r9'], [R.R10, 'r10'], [R.R11, 'r11'],
    [R.R12, 'r12'], [R.R13, 'r13'], [R.R14, 'r14'], [R.R15, 'r15'],
  ]);
  const segments = new Map<Register, 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs'>([
    [R.ES, 'es'], [R.CS, 'cs'], [R.SS, 'ss'], [R.DS, 'ds'], [R.FS, 'fs'], [R.GS, 'gs'],
  ]);
  return (iced = { m, gprs, segments });
}

// Held for the life of the process: a wasm object per call would cost an allocation each.
let infoFactory: InstructionInfoFactory | undefined;

/** What pageFaultErrorCode needs of the CPU. */
export type PageFaultCpu = Pick<DeliveryCpu, 'getRegs' | 'getSregs' | 'readLinear' | 'readPhys'>;

/**
 * The #PF error code (SDM Vol. 3A 4.7) for a fault at `cr2` raised by the
 * instruction at RIP. The access kind comes from decoding the instruction
 * (iced-x86) and matching CR2 against its memory operands: too few mapped bytes
 * at RIP to decode, or CR2 within the instruction and no operand there, is a
 * fetch. P and RSVD come from a walk of the guest's tables; I/D is set only
 * where the CPU reports it. Not modelled: PK, SS, SGX; implicit supervisor
 * accesses made by a CPL-3 instruction (descriptor loads) count as user ones.
 */
export function pageFaultErrorCode(cpu: PageFaultCpu, cr2: bigint, features: PagingFeatures = {}): number {
  const regs = cpu.getRegs();
  const sregs = { ...cpu.getSregs(), cr2 };
  const v86 = (regs.rflags & VM) !== 0n;
  const cpl = (sregs.cr0 & CR0_PE) === 0n ? 0 : v86 ? 3 : sregs.cs.dpl;
  const kind = accessKind(regs, sregs, codeAt(cpu, regs, sregs));
  const user = cpl === 3;
  const w = walk(gva(cr2), pagingContext(sregs, features), cpu.readPhys, { write: kind === 'write', execute: kind === 'fetch', user, ac: (regs.rflags & AC) !== 0n });
  return errorCodeOf(w.fault, kind, user, sregs);
}

/** Up to 15 bytes at the linear RIP: as many as are mapped (the instruction may run into the faulting page). */
function codeAt(cpu: PageFaultCpu, regs: Regs, sregs: Sregs): Uint8Array {
  const rip = linearRip(regs, sregs);
  const toPageEnd = Number(0x1000n - (rip & 0xfffn));
  return cpu.readLinear(rip, 15) ?? (toPageEnd < 15 ? cpu.readLinear(rip, toPageEnd) : undefined) ?? new Uint8Array(0);
}

/** Whether the instruction at RIP faulted fetching itself, reading or writing at CR2. */
function accessKind(regs: Regs, sregs: Sregs, code: Uint8Array): AccessKind {
  const long = (sregs.efer & EFER_LMA) !== 0n;
  const v86 = (regs.rflags & VM) !== 0n;
  const bitness = long && sregs.cs.l ? 64 : !v86 && (sregs.cr0 & CR0_PE) !== 0n && sregs.cs.db ? 32 : 16;
  const addrMask = bitness === 64 ? MASK64 : MASK32;
  const linRip = linearRip(regs, sregs);
  const cr2 = sregs.cr2 & addrMask;
  const { m: I, gprs: GPR_BY_REGISTER, segments: SEGMENT_BY_REGISTER } = icedModule();
  const { Decoder, DecoderError, DecoderOptions, InstructionInfoFactory, MemorySizeExt, OpAccess, Register, RegisterExt } = I;
  const decoder = new Decoder(bitness, code, DecoderOptions.None);
  decoder.ip = regs.rip & (bitness === 64 ? MASK64 : bitness === 32 ? MASK32 : MASK16);
  const insn = decoder.decode();
  try {
    // Too few bytes to decode: the rest of the instruction was not mapped.
    if (insn.isInvalid) return decoder.lastError === DecoderError.NoMoreBytes ? 'fetch' : 'read';
    const inInstruction = ((cr2 - linRip) & addrMask) < BigInt(insn.length);
    infoFactory ??= new InstructionInfoFactory();
    const info = infoFactory.info(insn);
    const operands = info.usedMemory().map((m) => {
      const segment = SEGMENT_BY_REGISTER.get(m.segment);
      const value = (r: Register): bigint => {
        const name = GPR_BY_REGISTER.get(RegisterExt.fullRegister(r));
        return name === undefined ? 0n : regs[name] & ((1n << BigInt(8 * RegisterExt.size(r))) - 1n);
      };
      const regSize = Math.max(m.base === Register.None ? 0 : RegisterExt.size(m.base), m.index === Register.None ? 0 : RegisterExt.size(m.index));
      const eaMask = regSize === 2 ? MASK16 : regSize === 4 ? MASK32 : addrMask;
      const ea = (value(m.base) + value(m.index) * BigInt(m.scale) + m.displacement) & eaMask;
      // In 64-bit mode only FS and GS have a base.
      const base = segment === undefined || (bitness === 64 && segment !== 'fs' && segment !== 'gs') ? 0n : sregs[segment].base;
      const out = { addr: (base + ea) & addrMask, size: MemorySizeExt.size(m.memorySize), access: m.access };
      m.free();
      return out;
    });
    info.free();
    const touches = (o: (typeof operands)[number]): boolean => {
      // Sizes iced does not know (REP string forms) match on the page: RSI/RDI point at the current element.
      if (o.size === 0) return cr2 >> 12n === o.addr >> 12n;
      return ((cr2 - o.addr) & addrMask) < BigInt(o.size);
    };
    const hits = operands.filter((o) => o.access !== OpAccess.None && o.access !== OpAccess.NoMemAccess && touches(o));
    if (hits.length === 0) return inInstruction ? 'fetch' : 'read';
    const writes = [OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite];
    // A read-modify-write operand is checked for the write (W=1), as the CPU reports it.
    return hits.some((o) => writes.includes(o.access)) ? 'write' : 'read';
  } finally {
    insn.free();
    decoder.free();
  }
}
