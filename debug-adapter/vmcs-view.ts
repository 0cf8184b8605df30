// The VMCS scope: a VMCS laid out as the Intel SDM lays it out, built from
// what KVM exposes (vmm/vmx/derived.ts), each field with its SDM name, its
// encoding, its value and where the value came from; plus the guest
// hypervisor's vmcs12 where the host has nested state.

import { gva, hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import type { ExitInfo, TraceEntry } from '../vmm/exit-trace';
import { derivedVmcs, derivedVmcsGaps, emulatedProvenance, type DerivedInput, type VmcsFieldValue } from '../vmm/vmx/derived';
import { lastExitOf } from '../vmm/vmx/exit-detail';
import { GROUP_ORDER, GROUP_TITLES } from '../vmm/vmx/encoding';
import { ioExitFromKvm, type DecodedInstruction as VmxInsn } from '../vmm/vmx/qualification';
import { decodeNestedState } from '../vmm/vmx/vmcs12';
import type { BackendImplementation } from '../vmm/backend';
import type { Regs } from '../vmm/registers';
import { bitnessOf, decode, type DecodedInstruction } from './disasm';
import type { GuestAccess } from '../vmm/guest-access';
import type { VarNode } from './registers';

/** MSRs the derived guest-state area shows. */
const VMCS_MSRS = [0xc0000080, 0x277, 0x174, 0x175, 0x176, 0x1d9];


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

/** How a field writes through to the vCPU, where a KVM call can. */
function writer(machine: Machine, vcpu: number, f: VmcsFieldValue): ((v: bigint) => void) | undefined {
  const st = machine.vcpuState(vcpu);
  const regsField: Record<string, keyof Regs> = { GUEST_RIP: 'rip', GUEST_RSP: 'rsp', GUEST_RFLAGS: 'rflags' };
  const sregsField: Record<string, 'cr0' | 'cr3' | 'cr4'> = { GUEST_CR0: 'cr0', GUEST_CR3: 'cr3', GUEST_CR4: 'cr4' };
  const msrField: Record<string, number> = { GUEST_IA32_EFER: 0xc0000080, GUEST_IA32_PAT: 0x277, GUEST_SYSENTER_CS: 0x174, GUEST_SYSENTER_ESP: 0x175, GUEST_SYSENTER_EIP: 0x176, GUEST_IA32_DEBUGCTL: 0x1d9 };
  const r = regsField[f.name];
  if (r) return (v) => st.setRegs({ ...st.getRegs(), [r]: v });
  const s = sregsField[f.name];
  if (s) return (v) => st.setSregs({ ...st.getSregs(), [s]: v });
  const m = msrField[f.name];
  if (m !== undefined) {
    return (v) => {
      if (st.setMsrs([{ index: m, data: v }]) !== 1) throw new Error(`KVM refused the write to ${f.name}`);
    };
  }
  if (f.name === 'GUEST_DR7') return (v) => st.setDebugRegs({ ...st.getDebugRegs(), dr7: v });
  return undefined;
}

function fieldNode(machine: Machine, vcpu: number, f: VmcsFieldValue): VarNode {
  const unknown = f.unknownBits ? ` (bits ${hex(f.unknownBits)} unknown)` : '';
  const node: VarNode = {
    name: `${f.name} (${hex(f.encoding, 4)})`,
    value: `${hex(f.value)}${unknown} · ${f.provenance}${f.note ? ` · ${f.note}` : ''}`,
  };
  const set = writer(machine, vcpu, f);
  if (set) node.set = set;
  else node.readOnlyReason = f.provenance.includes('derived from the last exit') || f.provenance.includes('decoded instruction') ? 'exit information is read-only' : f.provenance.startsWith('emulated') ? 'the emulated vCPU has no VMCS to write' : 'no KVM call writes this field';
  return node;
}

export function vmcsNodes(machine: Machine, vcpu: number, access: GuestAccess, backend: BackendImplementation): VarNode[] {
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
  const gaps = derivedVmcsGaps(input);
  const groups: VarNode[] = [];
  for (const g of GROUP_ORDER) {
    const inGroup = fields.filter((f) => f.group === g);
    const missing = gaps.filter((f) => f.group === g);
    if (!inGroup.length && !missing.length) continue;
    groups.push({
      name: GROUP_TITLES[g],
      value: `${inGroup.length} field${inGroup.length === 1 ? '' : 's'}${missing.length ? `, ${missing.length} not derivable` : ''}`,
      children: () => [
        ...inGroup.map((f) => fieldNode(machine, vcpu, f)),
        ...missing.map((f): VarNode => ({ name: `${f.name} (${hex(f.encoding, 4)})`, value: `not available: ${f.reason}`, readOnlyReason: f.reason })),
      ],
    });
  }
  groups.push(vmcs12Node(machine, vcpu));
  return groups;
}

function vmcs12Node(machine: Machine, vcpu: number): VarNode {
  const name = 'vmcs12 (guest hypervisor)';
  if (!machine.capabilities.nestedState) {
    return { name, value: machine.backendName === 'kvm' ? 'not available: this host\'s KVM has no nested state (KVM_CAP_NESTED_STATE = 0)' : 'not available: the emulator has no VMX, so there is no guest hypervisor' };
  }
  let state;
  try {
    state = decodeNestedState(machine.vcpuState(vcpu).getNestedState());
  } catch (e) {
    return { name, value: `not available: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!state.fields.length) return { name, value: state.inVmxOperation ? 'in VMX operation, no current VMCS' : 'the guest is not in VMX operation', children: () => state.notes.map((n, i): VarNode => ({ name: `note ${i}`, value: n })) };
  return { name, value: `${state.fields.length} fields (vmcs12 at ${hex(state.vmcs12Pa)})`, children: () => state.fields.map((f) => fieldNode(machine, vcpu, f)) };
}
