// The VMCS scope: a VMCS laid out as the Intel SDM lays it out, built from
// what KVM exposes (vmm/vmx/derived.ts), each field with its SDM name, its
// encoding, its value and where the value came from; plus the guest
// hypervisor's vmcs12 where the host has nested state.

import { hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import type { VmcsFieldValue } from '../vmm/vmx/derived';
import { GROUP_ORDER, GROUP_TITLES } from '../vmm/vmx/encoding';
import { decodeNestedState } from '../vmm/vmx/vmcs12';
import type { BackendImplementation } from '../vmm/backend';
import type { Regs } from '../vmm/registers';
import type { GuestAccess } from '../vmm/guest-access';
import { guestVmcs } from '../vmm/vmx/guest-vmcs';
import type { VarNode } from './registers';

export { ioExitPc } from '../vmm/vmx/guest-vmcs';

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
  const { fields, gaps } = guestVmcs(machine, vcpu, access, backend);
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
