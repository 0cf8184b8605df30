// The generated VMCS field table against the SDM (encodings written down
// here from Vol. 3C, Appendix B) and against the encoding bits themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VMCS_FIELDS } from './fields';
import { displayFields, encodingType, encodingWidth, field, fieldByEncoding, GROUP_ORDER } from './encoding';

test('a dozen encodings match the SDM', () => {
  const sdm: Array<[string, number]> = [
    ['GUEST_RIP', 0x681e],
    ['GUEST_CR3', 0x6802],
    ['VM_EXIT_REASON', 0x4402],
    ['EXIT_QUALIFICATION', 0x6400],
    ['GUEST_PHYSICAL_ADDRESS', 0x2400],
    ['VM_EXIT_INSTRUCTION_LEN', 0x440c],
    ['GUEST_ES_SELECTOR', 0x0800],
    ['GUEST_INTERRUPTIBILITY_INFO', 0x4824],
    ['GUEST_ACTIVITY_STATE', 0x4826],
    ['VIRTUAL_PROCESSOR_ID', 0x0000],
    ['EPT_POINTER', 0x201a],
    ['PIN_BASED_VM_EXEC_CONTROL', 0x4000],
    ['HOST_RIP', 0x6c16],
    ['GUEST_LINEAR_ADDRESS', 0x640a],
  ];
  for (const [name, encoding] of sdm) {
    assert.equal(field(name).encoding, encoding, name);
    assert.equal(fieldByEncoding(encoding)?.name, name, `0x${encoding.toString(16)}`);
  }
});

test('width and type follow encoding bits 14:13 and 11:10 for every field', () => {
  const widthCode: Record<string, number> = { '16': 0, '64': 1, '32': 2, natural: 3 };
  const typeCode: Record<string, number> = { control: 0, 'exit-information': 1, 'guest-state': 2, 'host-state': 3 };
  for (const f of VMCS_FIELDS) {
    assert.equal(widthCode[String(f.width)], (f.encoding >> 13) & 3, `${f.name} width`);
    assert.equal(typeCode[f.type], (f.encoding >> 10) & 3, `${f.name} type`);
    assert.equal(f.width, encodingWidth(f.encoding));
    assert.equal(f.type, encodingType(f.encoding));
  }
  const spot: Array<[string, string | number, string]> = [
    ['GUEST_RIP', 'natural', 'guest-state'],
    ['VM_EXIT_REASON', 32, 'exit-information'],
    ['GUEST_PHYSICAL_ADDRESS', 64, 'exit-information'],
    ['GUEST_ES_SELECTOR', 16, 'guest-state'],
    ['HOST_RIP', 'natural', 'host-state'],
    ['EPT_POINTER', 64, 'control'],
    ['GUEST_INTERRUPTIBILITY_INFO', 32, 'guest-state'],
  ];
  for (const [name, width, type] of spot) {
    assert.equal(field(name).width, width, name);
    assert.equal(field(name).type, type, name);
  }
});

test('names and encodings are unique; every _HIGH is the upper half of a 64-bit field', () => {
  assert.equal(new Set(VMCS_FIELDS.map((f) => f.name)).size, VMCS_FIELDS.length);
  assert.equal(new Set(VMCS_FIELDS.map((f) => f.encoding)).size, VMCS_FIELDS.length);
  const highs = VMCS_FIELDS.filter((f) => f.access === 'high');
  assert.ok(highs.length > 20);
  for (const h of highs) {
    assert.equal(h.encoding & 1, 1, h.name);
    const full = field(h.full!);
    assert.equal(full.encoding, h.encoding - 1, h.name);
    assert.equal(full.width, 64, h.name);
    assert.equal(h.name, `${full.name}_HIGH`);
  }
  assert.ok(VMCS_FIELDS.filter((f) => f.access === 'full').every((f) => (f.encoding & 1) === 0));
  assert.ok(displayFields().every((f) => f.access === 'full'), 'display folds _HIGH halves into their field');
});

test('groups follow the SDM layout', () => {
  const expected: Array<[string, string]> = [
    ['GUEST_RFLAGS', 'guest-registers'],
    ['GUEST_DR7', 'guest-registers'],
    ['GUEST_CS_AR_BYTES', 'guest-segments'],
    ['GUEST_TR_BASE', 'guest-segments'],
    ['GUEST_GDTR_BASE', 'guest-descriptor-tables'],
    ['GUEST_IDTR_LIMIT', 'guest-descriptor-tables'],
    ['GUEST_IA32_EFER', 'guest-msrs'],
    ['GUEST_SYSENTER_CS', 'guest-msrs'],
    ['GUEST_ACTIVITY_STATE', 'guest-non-register'],
    ['VMCS_LINK_POINTER', 'guest-non-register'],
    ['HOST_CR3', 'host-state'],
    ['CPU_BASED_VM_EXEC_CONTROL', 'execution-controls'],
    ['VM_EXIT_CONTROLS', 'exit-controls'],
    ['VM_EXIT_MSR_LOAD_ADDR', 'exit-controls'],
    ['VM_ENTRY_INTR_INFO_FIELD', 'entry-controls'],
    ['VM_EXIT_INTR_INFO', 'exit-information'],
    ['VM_INSTRUCTION_ERROR', 'exit-information'],
  ];
  for (const [name, group] of expected) assert.equal(field(name).group, group, name);
  const typeOfGroup = (g: string) =>
    g.startsWith('guest-') ? 'guest-state' : g === 'host-state' ? 'host-state' : g === 'exit-information' ? 'exit-information' : 'control';
  for (const f of VMCS_FIELDS) assert.equal(f.type, typeOfGroup(f.group), `${f.name} in ${f.group}`);
  const order = displayFields().map((f) => GROUP_ORDER.indexOf(f.group));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'display is in SDM area order');
});

test('the table says it is generated and from where', () => {
  const src = readFileSync(join(__dirname, '../../../vmm/vmx/fields.ts'), 'utf8');
  assert.match(src, /^\/\/ .*\n\/\/ Generated from arch\/x86\/include\/asm\/vmx\.h at /);
  assert.match(src, /Do not edit/);
});
