// The derived VMCS against hand-built KVM state: values equal their sources,
// AR bytes follow the VMX format, exit information follows the SDM, and no
// field appears without a source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmExit } from '../kvm/constants';
import type { DebugRegs, Regs, Segment, Sregs, VcpuEvents } from '../registers';
import { derivedVmcs, derivedVmcsGaps, segmentAccessRights, type DerivedInput, type VmcsFieldValue } from './derived';
import { displayFields } from './encoding';

const seg = (over: Partial<Segment>): Segment => ({
  base: 0n, limit: 0xffffffff, selector: 0, type: 3, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, ...over,
});

function fixture(): DerivedInput {
  const regs = {
    rax: 0x48n, rbx: 2n, rcx: 3n, rdx: 0x3f8n, rsi: 5n, rdi: 6n, rsp: 0x7ff0n, rbp: 8n,
    r8: 9n, r9: 10n, r10: 11n, r11: 12n, r12: 13n, r13: 14n, r14: 15n, r15: 16n,
    rip: 0x100234n, rflags: 0x246n,
  } satisfies Regs;
  const sregs: Sregs = {
    cs: seg({ selector: 0x8, type: 0xb, l: 1, db: 0 }), // flat 64-bit code
    ds: seg({ selector: 0x10 }),
    es: seg({ selector: 0x10 }),
    ss: seg({ selector: 0x10 }),
    fs: seg({ selector: 0, base: 0x7f0000n, unusable: 1, present: 0 }),
    gs: seg({ selector: 0x10, base: 0xffff888000000000n }),
    tr: seg({ selector: 0x18, base: 0x5000n, limit: 0x67, type: 11, s: 0, db: 0, g: 0 }), // busy 64-bit TSS
    ldt: seg({ selector: 0, limit: 0, type: 0, s: 0, present: 0, db: 0, g: 0, unusable: 1 }),
    gdt: { base: 0x1000n, limit: 0x1f },
    idt: { base: 0x2000n, limit: 0xfff },
    cr0: 0x80050033n, cr2: 0n, cr3: 0x9000n, cr4: 0x6a0n, cr8: 0n, efer: 0xd01n, apicBase: 0xfee00900n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
  const debugRegs: DebugRegs = { db: [0n, 0n, 0n, 0n], dr6: 0xffff0ff0n, dr7: 0x401n, flags: 0n };
  const events: VcpuEvents = {
    exception: { injected: 0, nr: 0, hasErrorCode: 0, pending: 0, errorCode: 0 },
    interrupt: { injected: 0, nr: 0, shadow: 0 },
    nmi: { injected: 0, pending: 0, masked: 0 },
    sipiVector: 0,
    flags: 0x1 | 0x4 | 0x8, // what KVM_GET_VCPU_EVENTS sets: NMI_PENDING, SHADOW, SMM valid
  };
  const msrs = new Map<number, bigint>([
    [0x277, 0x0007040600070406n],
    [0x174, 0x10n],
    [0x175, 0xffffc90000001000n],
    [0x176, 0xffffffff81000000n],
    [0x1d9, 0n],
  ]);
  return { regs, sregs, msrs, debugRegs, events };
}

const byName = (fields: VmcsFieldValue[]) => new Map(fields.map((f) => [f.name, f]));

test('guest-state fields equal the registers they come from', () => {
  const input = fixture();
  const f = byName(derivedVmcs(input));
  const expect: Array<[string, bigint, string]> = [
    ['GUEST_RIP', input.regs.rip, 'KVM_GET_REGS'],
    ['GUEST_RSP', input.regs.rsp, 'KVM_GET_REGS'],
    ['GUEST_RFLAGS', input.regs.rflags, 'KVM_GET_REGS'],
    ['GUEST_CR0', input.sregs.cr0, 'KVM_GET_SREGS'],
    ['GUEST_CR3', input.sregs.cr3, 'KVM_GET_SREGS'],
    ['GUEST_CR4', input.sregs.cr4, 'KVM_GET_SREGS'],
    ['GUEST_DR7', input.debugRegs.dr7, 'KVM_GET_DEBUGREGS'],
    ['GUEST_CS_SELECTOR', 0x8n, 'KVM_GET_SREGS'],
    ['GUEST_GS_BASE', 0xffff888000000000n, 'KVM_GET_SREGS'],
    ['GUEST_FS_BASE', 0x7f0000n, 'KVM_GET_SREGS'],
    ['GUEST_TR_LIMIT', 0x67n, 'KVM_GET_SREGS'],
    ['GUEST_LDTR_SELECTOR', 0n, 'KVM_GET_SREGS'],
    ['GUEST_GDTR_BASE', 0x1000n, 'KVM_GET_SREGS'],
    ['GUEST_GDTR_LIMIT', 0x1fn, 'KVM_GET_SREGS'],
    ['GUEST_IDTR_BASE', 0x2000n, 'KVM_GET_SREGS'],
    ['GUEST_IDTR_LIMIT', 0xfffn, 'KVM_GET_SREGS'],
    ['GUEST_IA32_EFER', 0xd01n, 'KVM_GET_SREGS'],
    ['GUEST_IA32_PAT', 0x0007040600070406n, 'KVM_GET_MSRS'],
    ['GUEST_SYSENTER_CS', 0x10n, 'KVM_GET_MSRS'],
    ['GUEST_SYSENTER_ESP', 0xffffc90000001000n, 'KVM_GET_MSRS'],
    ['GUEST_SYSENTER_EIP', 0xffffffff81000000n, 'KVM_GET_MSRS'],
    ['GUEST_IA32_DEBUGCTL', 0n, 'KVM_GET_MSRS'],
  ];
  for (const [name, value, provenance] of expect) {
    assert.equal(f.get(name)?.value, value, name);
    assert.equal(f.get(name)?.provenance, provenance, name);
  }
  assert.equal(f.get('GUEST_RIP')?.writable, 'regs');
  assert.equal(f.get('GUEST_CS_AR_BYTES')?.writable, 'sregs');
  assert.equal(f.get('GUEST_IA32_PAT')?.writable, 'msr');
  assert.equal(f.get('GUEST_RIP')?.group, 'guest-registers');
});

test('access rights in the VMX format', () => {
  const input = fixture();
  const f = byName(derivedVmcs(input));
  assert.equal(f.get('GUEST_CS_AR_BYTES')?.value, 0xa09bn, 'flat 64-bit code: type b, S, P, L, G');
  assert.equal(f.get('GUEST_DS_AR_BYTES')?.value, 0xc093n, 'flat data: type 3, S, P, D/B, G');
  assert.equal(f.get('GUEST_TR_AR_BYTES')?.value, 0x8bn, 'busy 64-bit TSS');
  assert.equal(f.get('GUEST_LDTR_AR_BYTES')?.value, 0x10000n, 'unusable');
  assert.equal(f.get('GUEST_FS_AR_BYTES')!.value & 0x10000n, 0x10000n, 'unusable');
  assert.equal(segmentAccessRights(seg({ dpl: 3, type: 0xb, l: 1, db: 0, avl: 1 })), 0xb0fb, 'DPL 3 and AVL');
  assert.equal(segmentAccessRights(seg({ present: 0 })) & 0x10000, 0x10000, 'not present is unusable');
});

test('interruptibility and activity state from vcpu events and the last exit', () => {
  const input = fixture();
  let f = byName(derivedVmcs(input));
  assert.equal(f.get('GUEST_INTERRUPTIBILITY_INFO')?.value, 0n);
  assert.equal(f.get('GUEST_INTERRUPTIBILITY_INFO')?.provenance, 'KVM_GET_VCPU_EVENTS');
  assert.equal(f.has('GUEST_ACTIVITY_STATE'), false, 'nothing says whether the vCPU is halted');

  input.events.interrupt.shadow = 0x2; // KVM_X86_SHADOW_INT_STI
  input.events.nmi.masked = 1;
  f = byName(derivedVmcs(input));
  assert.equal(f.get('GUEST_INTERRUPTIBILITY_INFO')?.value, 0x1n | 0x8n, 'STI blocking is VMX bit 0, NMI blocking bit 3');
  input.events.interrupt.shadow = 0x1; // KVM_X86_SHADOW_INT_MOV_SS
  input.events.nmi.masked = 0;
  f = byName(derivedVmcs(input));
  assert.equal(f.get('GUEST_INTERRUPTIBILITY_INFO')?.value, 0x2n, 'MOV SS blocking is VMX bit 1');
  assert.equal(f.get('GUEST_INTERRUPTIBILITY_INFO')?.unknownBits, 0x14n, 'SMI and enclave bits are not reported');
  input.events.flags = 0;
  assert.equal(byName(derivedVmcs(input)).get('GUEST_INTERRUPTIBILITY_INFO')?.unknownBits, 0x17n, 'shadow not valid: STI/MOV SS unknown');

  assert.equal(byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.HLT } })).get('GUEST_ACTIVITY_STATE')?.value, 1n);
  assert.equal(byName(derivedVmcs({ ...fixture(), halted: true })).get('GUEST_ACTIVITY_STATE')?.value, 1n);
  const io = { kvmExit: KvmExit.IO, io: { port: 0x3f8, size: 1, in: false, count: 1, string: false, rep: false, immediate: false } };
  assert.equal(byName(derivedVmcs({ ...fixture(), lastExit: io })).get('GUEST_ACTIVITY_STATE')?.value, 0n);
});

test('an I/O exit: reason 30, the SDM qualification, the instruction length', () => {
  const input: DerivedInput = {
    ...fixture(),
    lastExit: { kvmExit: KvmExit.IO, io: { port: 0x3f8, size: 1, in: false, count: 1, value: 0x48, string: false, rep: false, immediate: false } },
    instructionLength: 1,
  };
  const f = byName(derivedVmcs(input));
  assert.equal(f.get('VM_EXIT_REASON')?.value, 30n);
  assert.equal(f.get('VM_EXIT_REASON')?.provenance, 'derived from the last exit');
  assert.equal(f.get('EXIT_QUALIFICATION')?.value, 0x3f80000n);
  assert.equal(f.get('VM_EXIT_INSTRUCTION_LEN')?.value, 1n);
  assert.equal(f.get('VM_EXIT_INSTRUCTION_LEN')?.provenance, 'decoded instruction');
  assert.equal(f.has('GUEST_PHYSICAL_ADDRESS'), false, 'not defined for I/O exits');
  assert.equal(f.has('GUEST_LINEAR_ADDRESS'), false, 'not defined for OUT');

  const inImm = byName(derivedVmcs({
    ...fixture(),
    lastExit: { kvmExit: KvmExit.IO, io: { port: 0x61, size: 1, in: true, count: 1, string: false, rep: false, immediate: true } },
  }));
  assert.equal(inImm.get('EXIT_QUALIFICATION')?.value, 0x610048n);
  assert.equal(inImm.has('VM_EXIT_INSTRUCTION_LEN'), false, 'no length without the decoded instruction');
});

test('an MMIO exit: EPT violation with the GPA, unknown EPT permissions flagged', () => {
  const f = byName(derivedVmcs({
    ...fixture(),
    lastExit: { kvmExit: KvmExit.MMIO, mmio: { gpa: 0xfee000b0n, len: 4, write: true, value: 0n, linear: 0xfee000b0n } },
    instructionLength: 6,
  }));
  assert.equal(f.get('VM_EXIT_REASON')?.value, 48n);
  assert.match(f.get('VM_EXIT_REASON')!.note!, /49/);
  assert.equal(f.get('GUEST_PHYSICAL_ADDRESS')?.value, 0xfee000b0n);
  assert.equal(f.get('GUEST_LINEAR_ADDRESS')?.value, 0xfee000b0n);
  assert.equal(f.get('EXIT_QUALIFICATION')?.value, 0x182n);
  assert.equal(f.get('EXIT_QUALIFICATION')?.unknownBits, 0xe78n);
  assert.equal(f.has('VM_EXIT_INSTRUCTION_LEN'), false, 'the SDM leaves it undefined for EPT exits');
});

test('debug, MSR and entry-failure exits', () => {
  let f = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.DEBUG, debug: { exception: 1, dr6: 0xffff4ff0n } } }));
  assert.equal(f.get('VM_EXIT_REASON')?.value, 0n);
  assert.equal(f.get('VM_EXIT_INTR_INFO')?.value, 0x80000301n, 'valid, hardware exception, vector 1');
  assert.equal(f.get('EXIT_QUALIFICATION')?.value, 0x4000n, 'BS');
  f = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.DEBUG, debug: { exception: 3 } }, instructionLength: 1 }));
  assert.equal(f.get('VM_EXIT_INTR_INFO')?.value, 0x80000603n, 'valid, software exception, vector 3');
  assert.equal(f.get('VM_EXIT_INSTRUCTION_LEN')?.value, 1n);

  f = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.X86_WRMSR, msr: { index: 0x1b, write: true } }, instructionLength: 2 }));
  assert.equal(f.get('VM_EXIT_REASON')?.value, 32n);

  const fail = { kvmExit: KvmExit.FAIL_ENTRY, failEntry: { hardwareReason: 0x80000021n } };
  assert.equal(byName(derivedVmcs({ ...fixture(), lastExit: fail })).has('VM_EXIT_REASON'), false, 'not a VMX value unless the host is VMX');
  assert.equal(byName(derivedVmcs({ ...fixture(), lastExit: fail, backend: 'pvm' })).has('VM_EXIT_REASON'), false);
  assert.equal(byName(derivedVmcs({ ...fixture(), lastExit: fail, backend: 'vmx' })).get('VM_EXIT_REASON')?.value, 0x80000021n);
  const vmfail = { kvmExit: KvmExit.FAIL_ENTRY, failEntry: { hardwareReason: 7n } };
  f = byName(derivedVmcs({ ...fixture(), lastExit: vmfail, backend: 'vmx' }));
  assert.equal(f.get('VM_INSTRUCTION_ERROR')?.value, 7n);
  assert.equal(f.has('VM_EXIT_REASON'), false);
});

test('an internal error on kvm_intel carries the exit KVM could not handle', () => {
  // KVM_INTERNAL_ERROR_DELIVERY_EV after an EPT misconfiguration during event delivery.
  const internal = { suberror: 3, data: [0x80000b0en, 49n, 0n, 0xfed00000n, 2n] };
  const f = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.INTERNAL_ERROR, internal }, backend: 'vmx' }));
  assert.equal(f.get('VM_EXIT_REASON')?.value, 49n);
  assert.equal(f.get('IDT_VECTORING_INFO_FIELD')?.value, 0x80000b0en);
  assert.equal(f.get('GUEST_PHYSICAL_ADDRESS')?.value, 0xfed00000n);
  // Emulation failure with instruction bytes: flags, 2 words of bytes, then reason, qualification, ...
  const emu = { suberror: 1, data: [1n, 0x90n, 0n, 48n, 0x181n, 0n, 0n, 0n] };
  const g = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.INTERNAL_ERROR, internal: emu }, backend: 'vmx' }));
  assert.equal(g.get('VM_EXIT_REASON')?.value, 48n);
  assert.equal(g.get('EXIT_QUALIFICATION')?.value, 0x181n);
  const pvm = byName(derivedVmcs({ ...fixture(), lastExit: { kvmExit: KvmExit.INTERNAL_ERROR, internal }, backend: 'pvm' }));
  assert.equal(pvm.has('VM_EXIT_REASON'), false, 'PVM data words are not VMX values');
});

test('every displayed field is either derived or a gap with a reason, never both', () => {
  for (const input of [
    fixture(),
    { ...fixture(), lastExit: { kvmExit: KvmExit.MMIO, mmio: { gpa: 0x1000n, len: 1, write: false } } },
    { ...fixture(), msrs: new Map<number, bigint>() },
  ]) {
    const values = derivedVmcs(input).map((v) => v.name);
    const gaps = derivedVmcsGaps(input);
    assert.equal(new Set([...values, ...gaps.map((g) => g.name)]).size, values.length + gaps.length, 'no overlap');
    assert.deepEqual([...values, ...gaps.map((g) => g.name)].sort(), displayFields().map((d) => d.name).sort());
    assert.ok(gaps.every((g) => g.reason.length > 0));
  }
  const noExit = derivedVmcs(fixture());
  assert.equal(noExit.filter((v) => v.group === 'exit-information').length, 0, 'no exit, no exit information');
  assert.equal(noExit.filter((v) => v.group === 'host-state' || v.group.endsWith('controls')).length, 0, 'host state and controls are never derived');
  const noMsrs = derivedVmcsGaps({ ...fixture(), msrs: new Map() });
  assert.match(noMsrs.find((g) => g.name === 'GUEST_IA32_PAT')!.reason, /0x277/);
});

test('values are truncated to the field width', () => {
  const input = fixture();
  input.msrs = new Map([[0x174, 0x1_0000_0010n]]);
  assert.equal(byName(derivedVmcs(input)).get('GUEST_SYSENTER_CS')?.value, 0x10n, 'a 32-bit field');
});
