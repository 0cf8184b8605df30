// Exit-reason numbers against the SDM, the KVM -> VMX mapping, the one-line
// descriptions, and the copy of the mapping table in docs/vmx.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvmExit } from '../kvm/constants';
import { VMX_EXIT_REASONS } from './exit-reason-table';
import {
  decodeExitReasonField,
  describeExit,
  exitInfoFromInternalError,
  exitMappingMarkdown,
  vmxExitReason,
  VMX_EXIT_TITLES,
  vmxReasonsForKvmExit,
} from './exit-reasons';

test('basic exit reasons match the SDM numbering, each with a title', () => {
  const sdm: Array<[number, string, string]> = [
    [0, 'EXCEPTION_NMI', 'Exception or NMI'],
    [2, 'TRIPLE_FAULT', 'Triple fault'],
    [12, 'HLT', 'HLT'],
    [18, 'VMCALL', 'VMCALL'],
    [30, 'IO_INSTRUCTION', 'I/O instruction'],
    [31, 'MSR_READ', 'RDMSR'],
    [32, 'MSR_WRITE', 'WRMSR'],
    [33, 'INVALID_STATE', 'VM-entry failure due to invalid guest state'],
    [34, 'MSR_LOAD_FAIL', 'VM-entry failure due to MSR loading'],
    [48, 'EPT_VIOLATION', 'EPT violation'],
    [49, 'EPT_MISCONFIG', 'EPT misconfiguration'],
  ];
  for (const [n, name, title] of sdm) {
    assert.equal(vmxExitReason(n)?.name, name, String(n));
    assert.equal(vmxExitReason(n)?.title, title, String(n));
  }
  for (const r of VMX_EXIT_REASONS) assert.ok(VMX_EXIT_TITLES[r.name], `a title for EXIT_REASON_${r.name}`);
});

test('KVM exits map to the VMX exits that cause them', () => {
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.IO), [30]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.MMIO), [48, 49]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.HLT), [12]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.SHUTDOWN), [2]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.HYPERCALL), [18]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.X86_RDMSR), [31]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.X86_WRMSR), [32]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.DEBUG), [0]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.FAIL_ENTRY), [33, 34, 41]);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.INTERNAL_ERROR), []);
  assert.deepEqual(vmxReasonsForKvmExit(KvmExit.SYSTEM_EVENT), []);
});

test('describeExit', () => {
  const io = { port: 0x3f8, size: 1, in: false, count: 1, value: 0x48, string: false, rep: false, immediate: false };
  assert.equal(describeExit(KvmExit.IO, { io }), 'I/O instruction (VMX exit 30): out 0x3f8, 1 byte, value 0x48');
  assert.equal(
    describeExit(KvmExit.IO, { io: { port: 0x3f8, size: 1, in: false, count: 12, string: true, rep: true, immediate: false } }),
    'I/O instruction (VMX exit 30): rep outs 0x3f8, 1 byte, count 12',
  );
  assert.equal(
    describeExit(KvmExit.MMIO, { mmio: { gpa: 0xfee000b0n, len: 4, write: true, value: 0n } }),
    'EPT violation (VMX exit 48) or EPT misconfiguration (VMX exit 49): write 0xfee000b0, 4 bytes, value 0x0',
  );
  assert.equal(describeExit(KvmExit.HLT), 'HLT (VMX exit 12)');
  assert.equal(describeExit(KvmExit.SHUTDOWN), 'Triple fault (VMX exit 2)');
  assert.equal(describeExit(KvmExit.X86_WRMSR, { msr: { index: 0x1b, write: true, value: 0xfee00900n } }), 'WRMSR (VMX exit 32): MSR 0x1b, value 0xfee00900');
  assert.equal(describeExit(KvmExit.DEBUG, { debug: { exception: 3, pc: 0x1000n } }), 'Exception or NMI (VMX exit 0): #BP at 0x1000');
  assert.equal(
    describeExit(KvmExit.FAIL_ENTRY, { failEntry: { hardwareReason: 0x80000021n } }, 'vmx'),
    'VM-entry failure (VMX exit reason 0x80000021: VM-entry failure due to invalid guest state, 33)',
  );
  assert.match(describeExit(KvmExit.FAIL_ENTRY, { failEntry: { hardwareReason: 7n } }, 'vmx'), /error 7: entry invalid control field/);
  assert.match(describeExit(KvmExit.FAIL_ENTRY, { failEntry: { hardwareReason: 0x80000021n } }, 'pvm'), /pvm's own terms/);
  assert.equal(
    describeExit(KvmExit.INTERNAL_ERROR, { internal: { suberror: 4, data: [0x41n, 0n] } }, 'vmx'),
    'KVM internal error, unexpected exit reason, after Unknown exit (VMX exit 65)',
  );
  assert.equal(describeExit(KvmExit.INTERNAL_ERROR, { internal: { suberror: 1, data: [] } }), 'KVM internal error, emulation failure (no single VMX exit reason)');
  assert.equal(describeExit(KvmExit.SYSTEM_EVENT, { systemEvent: { type: 2 } }), 'System event: reset (no VMX exit reason of its own)');
  assert.equal(describeExit(KvmExit.INTR), 'KVM_EXIT_INTR (no VMX exit reason)');
});

test('exit-reason field and internal-error data', () => {
  assert.deepEqual(decodeExitReasonField(0x80000021), { basic: 33, failedEntry: true, enclaveMode: false, busLockDetected: false });
  assert.deepEqual(decodeExitReasonField(0x0400001e), { basic: 30, failedEntry: false, enclaveMode: false, busLockDetected: true });
  assert.deepEqual(exitInfoFromInternalError(2, [0x80000b0en, 0x80000b0dn, 0x10n, 1n]), {
    exitReason: 0,
    idtVectoringInfo: 0x80000b0e,
    exitInterruptionInfo: 0x80000b0d,
    exitInterruptionErrorCode: 0x10,
  });
  // Emulation failure without instruction bytes: flags 0, then the exit info at data[1].
  assert.equal(exitInfoFromInternalError(1, [0n, 30n, 0x3f80000n, 0n, 0n, 0n])?.exitReason, 30);
  assert.equal(exitInfoFromInternalError(1, [0n]), undefined, 'older kernels report no exit info');
});

test('docs/vmx.md carries the current mapping table', () => {
  const doc = readFileSync(join(__dirname, '../../../docs/vmx.md'), 'utf8');
  const table = exitMappingMarkdown();
  assert.ok(doc.includes(table), `docs/vmx.md must contain exitMappingMarkdown() verbatim:\n${table}`);
});
