// The derived VMCS of a paused vCPU, field by field with provenance: what
// the debug adapter's VMCS scope and the gdb stub's `monitor vmcs` both show.
// For an I/O exit the instruction is decoded to fill in its length and
// qualification, as the SDM's exit information would carry them.

import { gva } from '../../common/address';
import type { Machine } from '../machine';
import type { ExitInfo, TraceEntry } from '../exit-trace';
import { derivedVmcs, derivedVmcsGaps, emulatedProvenance, type DerivedInput, type VmcsFieldValue } from './derived';
import { lastExitOf } from './exit-detail';
import { ioExitFromKvm, type DecodedInstruction as VmxInsn } from './qualification';
import type { BackendImplementation } from '../backend';
import { bitnessOf, decode, type DecodedInstruction } from '../disasm';
import type { GuestAccess } from '../guest-access';

/** MSRs the derived guest-state area shows. */
export const VMCS_MSRS = [0xc0000080, 0x277, 0x174, 0x175, 0x176, 0x1d9];


function toVmxInsn(i: DecodedInstruction): VmxInsn {
  return {
    mnemonic: i.mnemonic,
    hasRepPrefix: /^rep/i.test(i.text),
    immediatePort: /\b(in|out)\b/i.test(i.mnemonic) && !/\bdx\b/i.test(i.text),
    length: i.length,
  };
}

/**
 * The instruction that made an I/O exit. On VMX rip points at it; where KVM
 * emulates the instruction before exiting (PVM), rip is already past it, so
 * the instruction ending at rip is tried too. Only an I/O instruction that
 * matches the exit is accepted.
 */
function ioInstruction(access: GuestAccess, vcpu: number, linearRip: bigint, bits: 16 | 32 | 64, exit: Extract<ExitInfo, { reason: 'io' }>): { insn: DecodedInstruction; atRip: boolean } | undefined {
  const io = { port: exit.port, size: exit.size, in: exit.direction === 'in', count: exit.count };
  for (const back of [0, 1, 2, 3]) {
    const at = linearRip - BigInt(back);
    const bytes = access.read(vcpu, { space: 'virtual', addr: gva(BigInt.asUintN(64, at)) }, 15);
    if (!bytes.length) continue;
    const insn = decode(bytes, at, bits, 1)[0];
    if (!insn || insn.invalid || (back > 0 && insn.length !== back)) continue;
    try {
      ioExitFromKvm(io, toVmxInsn(insn));
      return { insn, atRip: back === 0 };
    } catch {
      // Not the I/O instruction of this exit: try the next candidate.
    }
  }
  return undefined;
}

/** The vCPU's last exit and, for an I/O exit, its instruction (see ioInstruction). */
function lastExitWithInstruction(
  machine: Machine,
  vcpu: number,
  access: GuestAccess,
  regs: { rip: bigint },
  sregs: { cs: { base: bigint; l: number; db: number }; cr0: bigint; efer: bigint },
): { last: TraceEntry; io?: { insn: DecodedInstruction; atRip: boolean } } | undefined {
  const last = machine.exitTrace(64).filter((e) => e.vcpu === vcpu).pop();
  if (!last || last.exit.reason !== 'io') return last ? { last } : undefined;
  const bits = bitnessOf({ cr0: sregs.cr0, efer: sregs.efer, csL: sregs.cs.l, csDb: sregs.cs.db });
  const io = ioInstruction(access, vcpu, sregs.cs.base + regs.rip, bits, last.exit);
  return io ? { last, io } : { last };
}

/**
 * Where a vCPU stopped at an I/O exit should be shown: the I/O instruction's address when rip is already past it
 * (PVM emulates the instruction before it exits), else undefined (rip is the instruction, as on VMX and SVM).
 */
export function ioExitPc(machine: Machine, vcpu: number, access: GuestAccess): bigint | undefined {
  const st = machine.vcpuState(vcpu);
  const io = lastExitWithInstruction(machine, vcpu, access, st.getRegs(), st.getSregs())?.io;
  return io && !io.atRip ? io.insn.address : undefined;
}

/** The derived fields (emulated provenance under the emulator) and the fields that cannot be derived. */
export function guestVmcs(machine: Machine, vcpu: number, access: GuestAccess, backend: BackendImplementation): { fields: VmcsFieldValue[]; gaps: ReturnType<typeof derivedVmcsGaps> } {
  const st = machine.vcpuState(vcpu);
  const regs = st.getRegs();
  const sregs = st.getSregs();
  const input: DerivedInput = { regs, sregs, msrs: st.getMsrs(VMCS_MSRS), debugRegs: st.getDebugRegs(), events: st.getEvents(), backend };
  const found = lastExitWithInstruction(machine, vcpu, access, regs, sregs);
  if (found) {
    const { last, io } = found;
    if (io) input.instructionLength = io.insn.length;
    input.lastExit = lastExitOf(last, io ? toVmxInsn(io.insn) : undefined);
    if (last.exit.reason === 'hlt') input.halted = true;
  }
  const emulated = machine.backendName === 'emu';
  const fields = derivedVmcs(input).map((f) => (emulated ? { ...f, provenance: emulatedProvenance(f.provenance) } : f));
  return { fields, gaps: derivedVmcsGaps(input) };
}
