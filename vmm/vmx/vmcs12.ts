// Decodes KVM_GET_NESTED_STATE for VMX: the struct kvm_nested_state header
// (uapi <asm/kvm.h>) and the guest hypervisor's vmcs12 and shadow vmcs12
// pages, whose layout (struct vmcs12 in KVM's vmcs12.h) is the generated
// vmcs12-layout.ts. A vCPU outside VMX operation, or without a current VMCS,
// decodes to a header and no fields.

import { hex } from '../../common/address';
import { fieldByEncoding } from './encoding';
import type { VmcsFieldValue } from './derived';
import { VMCS12_FIELDS, VMCS12_REVISION } from './vmcs12-layout';

export type { Vmcs12FieldOffset, Vmcs12Member } from './table-types';

/*
 * struct kvm_nested_state (uapi <asm/kvm.h>; an ABI, so fixed): flags u16 @0,
 * format u16 @2, size u32 @4, then a 120-byte header union @8, then the data.
 * The VMX header: vmxon_pa u64 @8, vmcs12_pa u64 @16, smm.flags u16 @24,
 * pad u16 @26, flags u32 @28, preemption_timer_deadline u64 @32. The VMX data:
 * vmcs12[4096] @128, shadow_vmcs12[4096] @4224.
 */
export const NESTED_STATE_HEADER_SIZE = 128;
export const NESTED_VMX_VMCS_SIZE = 0x1000;
const OFF = { flags: 0, format: 2, size: 4, vmxonPa: 8, vmcs12Pa: 16, smmFlags: 24, vmxFlags: 28, deadline: 32 } as const;

export const KVM_STATE_NESTED_FORMAT_VMX = 0;
export const KVM_STATE_NESTED_FORMAT_SVM = 1;

const NESTED_FLAGS: ReadonlyArray<[number, string]> = [
  [0x1, 'GUEST_MODE'],
  [0x2, 'RUN_PENDING'],
  [0x4, 'EVMCS'],
  [0x8, 'MTF_PENDING'],
  [0x100, 'GIF_SET'],
];
const SMM_FLAGS: ReadonlyArray<[number, string]> = [
  [0x1, 'GUEST_MODE'],
  [0x2, 'VMXON'],
];
const KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE = 0x1;

/** KVM's INVALID_GPA: what vmxon_pa / vmcs12_pa hold when there is none. */
export const INVALID_GPA = (1n << 64n) - 1n;

export interface Vmcs12Page {
  /** hdr.revision_id (bits 30:0). */
  revisionId: number;
  /** hdr bit 31: the page is a shadow VMCS. */
  shadowVmcs: boolean;
  /** VMX-abort indicator. */
  abort: number;
  /** KVM's launch_state: 0 after VMCLEAR, 1 after VMLAUNCH. */
  launchState: number;
  /** revisionId equals VMCS12_REVISION (a mismatch means another layout; the fields are decoded regardless). */
  revisionMatches: boolean;
  fields: VmcsFieldValue[];
}

export interface NestedState {
  flags: number;
  flagNames: string[];
  /** 0 VMX, 1 SVM. */
  format: number;
  /** kvm_nested_state.size: header plus the data KVM filled. */
  size: number;
  /** Raw, INVALID_GPA when the vCPU is not in VMX operation. */
  vmxonPa: bigint;
  /** Raw, INVALID_GPA when there is no current VMCS. */
  vmcs12Pa: bigint;
  smmFlags: number;
  smmFlagNames: string[];
  vmxFlags: number;
  /** Valid only with KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE in vmxFlags. */
  preemptionTimerDeadline?: bigint;
  /** The guest executed VMXON (vmxon_pa is valid). */
  inVmxOperation: boolean;
  /** L2 (the nested guest) is running: vmcs12's guest state is L2's, synced from hardware. */
  guestMode: boolean;
  vmcs12?: Vmcs12Page;
  shadowVmcs12?: Vmcs12Page;
  /** vmcs12's fields (empty without a vmcs12), provenance 'vmcs12 (KVM_GET_NESTED_STATE)'. */
  fields: VmcsFieldValue[];
  notes: string[];
}

function names(bits: number, table: ReadonlyArray<[number, string]>): string[] {
  return table.filter(([b]) => (bits & b) !== 0).map(([, n]) => n);
}

/** Decodes one vmcs12 page (4 KiB as KVM_GET_NESTED_STATE returns it). */
export function decodeVmcs12(page: Uint8Array, note?: string): Vmcs12Page {
  if (page.byteLength < NESTED_VMX_VMCS_SIZE) throw new RangeError(`a vmcs12 page is ${NESTED_VMX_VMCS_SIZE} bytes, got ${page.byteLength}`);
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const hdr = dv.getUint32(0, true);
  const revisionId = hdr & 0x7fffffff;
  const fields: VmcsFieldValue[] = [];
  for (const l of VMCS12_FIELDS) {
    const def = fieldByEncoding(l.encoding);
    if (!def || def.access === 'high') continue; // a _HIGH half is shown as part of its 64-bit field
    const value =
      l.size === 2 ? BigInt(dv.getUint16(l.offset, true)) : l.size === 4 ? BigInt(dv.getUint32(l.offset, true)) : dv.getBigUint64(l.offset, true);
    const v: VmcsFieldValue = { name: l.name, encoding: l.encoding, value, provenance: 'vmcs12 (KVM_GET_NESTED_STATE)', group: def.group };
    if (note !== undefined) v.note = note;
    fields.push(v);
  }
  return {
    revisionId,
    shadowVmcs: (hdr & 0x80000000) !== 0,
    abort: dv.getUint32(4, true),
    launchState: dv.getUint32(8, true),
    revisionMatches: revisionId === VMCS12_REVISION,
    fields,
  };
}

/**
 * Decodes the buffer KVM_GET_NESTED_STATE filled. Throws only when it is too
 * short to hold the 128-byte header; anything missing after that (no vmcs12,
 * SVM format, a truncated buffer) is reported in `notes`.
 */
export function decodeNestedState(bytes: Uint8Array): NestedState {
  if (bytes.byteLength < NESTED_STATE_HEADER_SIZE) {
    throw new RangeError(`kvm_nested_state needs at least ${NESTED_STATE_HEADER_SIZE} bytes, got ${bytes.byteLength}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = dv.getUint16(OFF.flags, true);
  const format = dv.getUint16(OFF.format, true);
  const size = dv.getUint32(OFF.size, true);
  const vmxFlags = dv.getUint32(OFF.vmxFlags, true);
  const smmFlags = dv.getUint16(OFF.smmFlags, true);
  const out: NestedState = {
    flags,
    flagNames: names(flags, NESTED_FLAGS),
    format,
    size,
    vmxonPa: dv.getBigUint64(OFF.vmxonPa, true),
    vmcs12Pa: dv.getBigUint64(OFF.vmcs12Pa, true),
    smmFlags,
    smmFlagNames: names(smmFlags, SMM_FLAGS),
    vmxFlags,
    inVmxOperation: false,
    guestMode: (flags & 0x1) !== 0,
    fields: [],
    notes: [],
  };
  if (format !== KVM_STATE_NESTED_FORMAT_VMX) {
    // The VMX header fields above then hold SVM's header; report them raw but decode nothing else.
    out.notes.push(format === KVM_STATE_NESTED_FORMAT_SVM ? 'SVM nested state: the vmcb12 is not decoded' : `unknown nested-state format ${format}`);
    return out;
  }
  if (vmxFlags & KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE) out.preemptionTimerDeadline = dv.getBigUint64(OFF.deadline, true);
  out.inVmxOperation = out.vmxonPa !== INVALID_GPA;
  if (!out.inVmxOperation) {
    out.notes.push('the vCPU is not in VMX operation (no VMXON): there is no vmcs12');
    return out;
  }

  const available = Math.min(size, bytes.byteLength);
  if (size > bytes.byteLength) out.notes.push(`the buffer holds ${bytes.byteLength} of the ${size} bytes KVM reported`);
  const vmcs12At = NESTED_STATE_HEADER_SIZE;
  const shadowAt = vmcs12At + NESTED_VMX_VMCS_SIZE;
  if (available < vmcs12At + NESTED_VMX_VMCS_SIZE) {
    out.notes.push(out.vmcs12Pa === INVALID_GPA ? 'in VMX operation without a current VMCS (no VMPTRLD): no vmcs12' : 'no vmcs12 data in the buffer');
    return out;
  }
  out.vmcs12 = decodeVmcs12(bytes.subarray(vmcs12At, vmcs12At + NESTED_VMX_VMCS_SIZE));
  out.fields = out.vmcs12.fields;
  if (!out.vmcs12.revisionMatches) {
    out.notes.push(`vmcs12 revision ${hex(out.vmcs12.revisionId)} is not VMCS12_REVISION ${hex(VMCS12_REVISION)}: the layout may differ`);
  }
  if (flags & 0x4) out.notes.push('enlightened VMCS (Hyper-V eVMCS) in use: KVM filled vmcs12 from it');
  if (available >= shadowAt + NESTED_VMX_VMCS_SIZE) {
    out.shadowVmcs12 = decodeVmcs12(bytes.subarray(shadowAt, shadowAt + NESTED_VMX_VMCS_SIZE), 'shadow vmcs12 (the VMCS linked from vmcs12)');
  }
  return out;
}
