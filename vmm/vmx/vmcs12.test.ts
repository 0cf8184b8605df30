// KVM_GET_NESTED_STATE decoding against blobs built here to the kernel's
// layout. The offsets below are written down from the kernel sources (uapi
// <asm/kvm.h> struct kvm_nested_state, and the CHECK_OFFSET list in
// arch/x86/kvm/vmx/vmcs12.h), independently of the generated table, which
// they also check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNestedState, INVALID_GPA } from './vmcs12';
import { VMCS12_FIELDS, VMCS12_MEMBERS, VMCS12_REVISION, VMCS12_STRUCT_SIZE } from './vmcs12-layout';
import { field, fieldByEncoding, widthBytes } from './encoding';

/** struct kvm_nested_state / kvm_vmx_nested_state_hdr / kvm_vmx_nested_state_data. */
const HDR = { flags: 0, format: 2, size: 4, vmxonPa: 8, vmcs12Pa: 16, smmFlags: 24, vmxFlags: 28, deadline: 32, data: 128 };
const PAGE = 4096;

/** From vmcs12.h's CHECK_OFFSET(...) lines: field, member offset, size, a test value. */
const KERNEL_OFFSETS: Array<[string, number, 2 | 4 | 8, bigint]> = [
  ['EPT_POINTER', 120, 8, 0x12345018en],
  ['GUEST_PHYSICAL_ADDRESS', 168, 8, 0xfee000b0n],
  ['VMCS_LINK_POINTER', 176, 8, 0xffffffffffffffffn],
  ['EXIT_QUALIFICATION', 408, 8, 0x3f80000n],
  ['GUEST_CR3', 432, 8, 0x1000n],
  ['GUEST_RIP', 544, 8, 0xffffffff81000123n],
  ['HOST_RIP', 672, 8, 0xffffffffc0de0000n],
  ['CPU_BASED_VM_EXEC_CONTROL', 748, 4, 0xb5a06dfan],
  ['VM_EXIT_REASON', 812, 4, 30n],
  ['VM_EXIT_INSTRUCTION_LEN', 832, 4, 1n],
  ['GUEST_CS_AR_BYTES', 884, 4, 0xa09bn],
  ['GUEST_INTERRUPTIBILITY_INFO', 912, 4, 0x8n],
  ['GUEST_ACTIVITY_STATE', 916, 4, 1n],
  ['VIRTUAL_PROCESSOR_ID', 960, 2, 1n],
  ['GUEST_ES_SELECTOR', 964, 2, 0x10n],
  ['GUEST_PML_INDEX', 996, 2, 511n],
];

function put(dv: DataView, at: number, size: 2 | 4 | 8, v: bigint): void {
  if (size === 2) dv.setUint16(at, Number(v), true);
  else if (size === 4) dv.setUint32(at, Number(v), true);
  else dv.setBigUint64(at, v, true);
}

interface Blob {
  /** kvm_nested_state.size when it differs from the buffer (KVM fills less than the caller allocated). */
  size?: number;
  flags?: number;
  format?: number;
  vmxonPa?: bigint;
  vmcs12Pa?: bigint;
  pages?: number;
  shadowValueOffset?: number;
  revision?: number;
}

function blob(o: Blob = {}): Uint8Array {
  const pages = o.pages ?? 1;
  const bytes = new Uint8Array(HDR.data + pages * PAGE);
  const dv = new DataView(bytes.buffer);
  dv.setUint16(HDR.flags, o.flags ?? 0, true);
  dv.setUint16(HDR.format, o.format ?? 0, true);
  dv.setUint32(HDR.size, o.size ?? HDR.data + pages * PAGE, true);
  dv.setBigUint64(HDR.vmxonPa, o.vmxonPa ?? 0x10000n, true);
  dv.setBigUint64(HDR.vmcs12Pa, o.vmcs12Pa ?? 0x11000n, true);
  dv.setUint16(HDR.smmFlags, 0, true);
  dv.setUint32(HDR.vmxFlags, 1, true); // KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE
  dv.setBigUint64(HDR.deadline, 123456789n, true);
  if (pages >= 1) {
    const v12 = HDR.data;
    dv.setUint32(v12 + 0, o.revision ?? 0x11e57ed0, true); // hdr.revision_id
    dv.setUint32(v12 + 8, 1, true); // launch_state
    for (const [, off, size, v] of KERNEL_OFFSETS) put(dv, v12 + off, size, v);
  }
  if (pages >= 2) {
    const shadow = HDR.data + PAGE;
    dv.setUint32(shadow, 0x80000000 | 0x11e57ed0, true); // shadow-VMCS indicator
    dv.setBigUint64(shadow + 544, 0x4242n, true); // guest_rip
  }
  return bytes;
}

test('the generated vmcs12 table agrees with the offsets written down from vmcs12.h', () => {
  for (const [name, offset, size] of KERNEL_OFFSETS) {
    const row = VMCS12_FIELDS.find((f) => f.name === name);
    assert.ok(row, name);
    assert.equal(row.offset, offset, name);
    assert.equal(row.size, size, name);
    assert.equal(row.encoding, field(name).encoding, name);
  }
  assert.equal(VMCS12_REVISION, 0x11e57ed0);
  assert.equal(VMCS12_STRUCT_SIZE, 998, 'guest_pml_index (u16) at 996 ends the struct');
  // Packed: each member starts where the previous one ended.
  let at = 0;
  for (const m of VMCS12_MEMBERS) {
    assert.equal(m.offset, at, m.member);
    at += m.size * m.count;
  }
  for (const f of VMCS12_FIELDS) {
    const def = fieldByEncoding(f.encoding)!;
    const size = def.access === 'high' ? 4 : widthBytes(def.width);
    assert.equal(f.size, size, f.name);
    if (def.access === 'high') assert.equal(f.offset, VMCS12_FIELDS.find((x) => x.name === def.full)!.offset + 4, f.name);
  }
});

test('a vmcs12 decodes to the values at the kernel offsets', () => {
  const s = decodeNestedState(blob({ flags: 0x1 }));
  assert.equal(s.format, 0);
  assert.equal(s.flags, 1);
  assert.deepEqual(s.flagNames, ['GUEST_MODE']);
  assert.equal(s.guestMode, true);
  assert.equal(s.vmxonPa, 0x10000n);
  assert.equal(s.vmcs12Pa, 0x11000n);
  assert.equal(s.inVmxOperation, true);
  assert.equal(s.preemptionTimerDeadline, 123456789n);
  assert.equal(s.vmcs12?.revisionId, 0x11e57ed0);
  assert.equal(s.vmcs12?.revisionMatches, true);
  assert.equal(s.vmcs12?.launchState, 1);
  assert.equal(s.shadowVmcs12, undefined);
  const values = new Map(s.fields.map((f) => [f.name, f]));
  for (const [name, , , v] of KERNEL_OFFSETS) {
    assert.equal(values.get(name)?.value, v, name);
    assert.equal(values.get(name)?.provenance, 'vmcs12 (KVM_GET_NESTED_STATE)', name);
  }
  assert.equal(values.get('GUEST_RIP')?.group, 'guest-registers');
  assert.equal(values.get('GUEST_RFLAGS')?.value, 0n, 'untouched fields read as the zeros in the page');
  assert.ok(![...values.keys()].some((n) => n.endsWith('_HIGH')), '_HIGH halves are folded into their field');
  assert.ok(s.fields.length > 140);
});

test('no vmcs12: outside VMX operation, or without a current VMCS', () => {
  const off = decodeNestedState(blob({ pages: 0, vmxonPa: INVALID_GPA, vmcs12Pa: INVALID_GPA }));
  assert.equal(off.inVmxOperation, false);
  assert.equal(off.size, 128);
  assert.deepEqual(off.fields, []);
  assert.equal(off.vmcs12, undefined);
  assert.match(off.notes.join('\n'), /not in VMX operation/);

  const noVmcs = decodeNestedState(blob({ pages: 0, vmcs12Pa: INVALID_GPA }));
  assert.equal(noVmcs.inVmxOperation, true);
  assert.deepEqual(noVmcs.fields, []);
  assert.match(noVmcs.notes.join('\n'), /without a current VMCS/);
});

test('shadow vmcs12, revision mismatch, SVM format, short buffers', () => {
  const s = decodeNestedState(blob({ pages: 2 }));
  assert.equal(s.shadowVmcs12?.shadowVmcs, true);
  assert.equal(s.shadowVmcs12?.fields.find((f) => f.name === 'GUEST_RIP')?.value, 0x4242n);

  // Callers allocate room for both pages; only `size` says whether KVM filled the second.
  const roomy = decodeNestedState(blob({ pages: 2, size: HDR.data + PAGE }));
  assert.ok(roomy.vmcs12);
  assert.equal(roomy.shadowVmcs12, undefined, 'bytes beyond size are not KVM data');

  const other = decodeNestedState(blob({ revision: 0x1234 }));
  assert.equal(other.vmcs12?.revisionMatches, false);
  assert.match(other.notes.join('\n'), /revision 0x1234/);

  const svm = decodeNestedState(blob({ format: 1, pages: 0 }));
  assert.equal(svm.format, 1);
  assert.deepEqual(svm.fields, []);
  assert.match(svm.notes.join('\n'), /SVM/);

  const whole = blob();
  const truncated = decodeNestedState(whole.subarray(0, 1000));
  assert.deepEqual(truncated.fields, []);
  assert.match(truncated.notes.join('\n'), /holds 1000 of the 4224 bytes/);
  assert.throws(() => decodeNestedState(new Uint8Array(64)), /at least 128 bytes/);
});
