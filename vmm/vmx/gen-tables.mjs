// Regenerates the VMX data tables (fields.ts, exit-reason-table.ts,
// vmcs12-layout.ts) from a Linux kernel source tree. The kernel headers are
// the source of truth; this script only reads them, checks them against
// themselves (computed vmcs12 offsets against the kernel's CHECK_OFFSET list,
// field widths against member sizes) and writes TypeScript data.
//
//   node vmm/vmx/gen-tables.mjs <kernel-tree> [--source "<label>"]
//
// <kernel-tree> needs arch/x86/include/asm/vmx.h, arch/x86/include/uapi/asm/vmx.h,
// arch/x86/kvm/vmx/vmcs12.h and arch/x86/kvm/vmx/vmcs12.c. The label names the
// tree in the generated headers (a tag, a commit or a package version); by
// default it is the version in the tree's Makefile.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = {
  vmx: 'arch/x86/include/asm/vmx.h',
  uapiVmx: 'arch/x86/include/uapi/asm/vmx.h',
  vmcs12h: 'arch/x86/kvm/vmx/vmcs12.h',
  vmcs12c: 'arch/x86/kvm/vmx/vmcs12.c',
};

function fail(msg) {
  console.error(`gen-tables: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const tree = args.find((a) => !a.startsWith('--'));
if (!tree) fail('usage: node vmm/vmx/gen-tables.mjs <kernel-tree> [--source "<label>"]');
const si = args.indexOf('--source');
const read = (rel) => readFileSync(join(tree, rel), 'utf8');
const sha = (rel) => createHash('sha256').update(readFileSync(join(tree, rel))).digest('hex');

function treeVersion() {
  try {
    const mk = read('Makefile');
    const v = (k) => mk.match(new RegExp(`^${k}\\s*=\\s*(\\S*)`, 'm'))?.[1] ?? '';
    return `Linux v${v('VERSION')}.${v('PATCHLEVEL')}.${v('SUBLEVEL')}${v('EXTRAVERSION')}`;
  } catch {
    return 'an unnamed kernel tree';
  }
}
const source = si >= 0 ? args[si + 1] : treeVersion();

/** Drops C comments, keeping line structure. */
function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
}

/** The text between `opener` and the next line that is exactly `};`. */
function block(text, opener, file) {
  const start = text.indexOf(opener);
  if (start < 0) fail(`${file}: no "${opener}"`);
  const end = text.indexOf('\n};', start);
  if (end < 0) fail(`${file}: "${opener}" is not closed`);
  return text.slice(start + opener.length, end);
}

function header(files, what) {
  const list = Array.isArray(files) ? files : [files];
  return [
    `// ${what}`,
    ...list.flatMap((file, i) => [
      `// ${i === 0 ? 'Generated from' : 'and from'} ${file} at ${source}`,
      `// (sha256 ${sha(file)})${i === list.length - 1 ? ' by vmm/vmx/gen-tables.mjs.' : ''}`,
    ]),
    '// Do not edit: change the generator or regenerate.',
    '',
  ].join('\n');
}

const hex = (n, digits = 4) => `0x${n.toString(16).padStart(digits, '0')}`;

// ---- enum vmcs_field -------------------------------------------------------

const vmxText = stripComments(read(FILES.vmx));
const fields = [];
for (const line of block(vmxText, 'enum vmcs_field {', FILES.vmx).split('\n')) {
  const m = line.match(/^\s*([A-Z][A-Z0-9_]*)\s*=\s*0[xX]([0-9a-fA-F]+)\s*,?\s*$/);
  if (m) fields.push({ name: m[1], encoding: parseInt(m[2], 16) });
  else if (line.trim() !== '') fail(`${FILES.vmx}: cannot read enum line "${line.trim()}"`);
}
if (fields.length < 100) fail(`${FILES.vmx}: only ${fields.length} VMCS fields found`);

const WIDTHS = [16, 64, 32, 'natural']; // encoding bits 14:13
const TYPES = ['control', 'exit-information', 'guest-state', 'host-state']; // bits 11:10

/** Display group, following the SDM's layout of the VMCS (Vol. 3C, chapter 25). */
function groupOf(name, type) {
  const base = name.replace(/_HIGH$/, '');
  switch (type) {
    case 'exit-information':
      return 'exit-information';
    case 'host-state':
      return 'host-state';
    case 'control':
      if (base.startsWith('VM_EXIT_')) return 'exit-controls';
      if (base.startsWith('VM_ENTRY_')) return 'entry-controls';
      return 'execution-controls';
    case 'guest-state':
      if (/^GUEST_(ES|CS|SS|DS|FS|GS|LDTR|TR)_(SELECTOR|BASE|LIMIT|AR_BYTES)$/.test(base)) return 'guest-segments';
      if (/^GUEST_(GDTR|IDTR)_(BASE|LIMIT)$/.test(base)) return 'guest-descriptor-tables';
      if (/^GUEST_(CR0|CR3|CR4|DR7|RSP|RIP|RFLAGS)$/.test(base)) return 'guest-registers';
      if (/^GUEST_(IA32_|SYSENTER_|BNDCFGS)/.test(base)) return 'guest-msrs';
      return 'guest-non-register';
  }
  return fail(`no group for ${name}`);
}

const byName = new Map();
for (const f of fields) {
  if (byName.has(f.name)) fail(`${FILES.vmx}: ${f.name} appears twice`);
  if (f.encoding > 0x7fff) fail(`${FILES.vmx}: ${f.name} encoding ${hex(f.encoding)} has bits above 14`);
  f.width = WIDTHS[(f.encoding >> 13) & 3];
  f.type = TYPES[(f.encoding >> 10) & 3];
  f.access = f.encoding & 1 ? 'high' : 'full';
  f.group = groupOf(f.name, f.type);
  byName.set(f.name, f);
}
for (const f of fields) {
  if (f.access !== 'high') continue;
  const full = byName.get(f.name.replace(/_HIGH$/, ''));
  if (!f.name.endsWith('_HIGH') || !full || full.encoding !== (f.encoding & ~1) || full.width !== 64) {
    fail(`${f.name} (${hex(f.encoding)}) is a high access without a matching 64-bit full field`);
  }
  f.full = full.name;
}

const fieldRows = fields.map((f) => {
  const width = typeof f.width === 'number' ? f.width : `'${f.width}'`;
  const full = f.full ? `, full: '${f.full}'` : '';
  return `  { name: '${f.name}', encoding: ${hex(f.encoding)}, width: ${width}, type: '${f.type}', group: '${f.group}', access: '${f.access}'${full} },`;
});

// ---- EXIT_REASON_* ---------------------------------------------------------

const uapiText = stripComments(read(FILES.uapiVmx));
const reasons = [];
const reasonFlags = [];
for (const m of uapiText.matchAll(/^#define\s+EXIT_REASON_([A-Z0-9_]+)\s+(\d+)\s*$/gm)) {
  reasons.push({ name: m[1], reason: Number(m[2]) });
}
for (const m of uapiText.matchAll(/^#define\s+VMX_EXIT_REASONS_([A-Z0-9_]+)\s+0x([0-9a-fA-F]+)\s*$/gm)) {
  reasonFlags.push({ name: m[1], mask: parseInt(m[2], 16) });
}
if (reasons.length < 40) fail(`${FILES.uapiVmx}: only ${reasons.length} exit reasons found`);
if (new Set(reasons.map((r) => r.reason)).size !== reasons.length) fail(`${FILES.uapiVmx}: duplicate exit reason numbers`);

const vmErrors = [];
for (const line of block(vmxText, 'enum vm_instruction_error_number {', FILES.vmx).split('\n')) {
  const m = line.match(/^\s*VMXERR_([A-Z0-9_]+)\s*=\s*(\d+)\s*,?\s*$/);
  if (m) vmErrors.push({ name: m[1], error: Number(m[2]) });
  else if (line.trim() !== '') fail(`${FILES.vmx}: cannot read vm_instruction_error_number line "${line.trim()}"`);
}
if (vmErrors.length < 20) fail(`${FILES.vmx}: only ${vmErrors.length} VM-instruction errors found`);

// ---- struct vmcs12 and the FIELD table --------------------------------------

const v12h = stripComments(read(FILES.vmcs12h));
const SIZES = { 'struct vmcs_hdr': 4, u16: 2, u32: 4, u64: 8, natural_width: 8 };
const members = [];
let offset = 0;
for (const line of block(v12h, 'struct __packed vmcs12 {', FILES.vmcs12h).split('\n')) {
  if (line.trim() === '') continue;
  const m = line.match(/^\s*(struct vmcs_hdr|u16|u32|u64|natural_width)\s+([a-z0-9_]+)(?:\[(\d+)\])?;\s*$/);
  if (!m) fail(`${FILES.vmcs12h}: cannot read member line "${line.trim()}"`);
  const size = SIZES[m[1]];
  const count = m[3] ? Number(m[3]) : 1;
  members.push({ member: m[2], ctype: m[1], offset, size, count });
  offset += size * count; // __packed: no padding between members
}
const structSize = offset;
const memberByName = new Map(members.map((m) => [m.member, m]));

let checked = 0;
for (const m of v12h.matchAll(/CHECK_OFFSET\((\w+),\s*(\d+)\)/g)) {
  const mem = memberByName.get(m[1]);
  if (!mem) fail(`${FILES.vmcs12h}: CHECK_OFFSET names unknown member ${m[1]}`);
  if (mem.offset !== Number(m[2])) fail(`${FILES.vmcs12h}: computed offset ${mem.offset} of ${m[1]}, kernel says ${m[2]}`);
  checked++;
}
if (checked < 100) fail(`${FILES.vmcs12h}: only ${checked} CHECK_OFFSET lines`);
const revision = v12h.match(/^#define\s+VMCS12_REVISION\s+0x([0-9a-fA-F]+)/m);
if (!revision) fail(`${FILES.vmcs12h}: no VMCS12_REVISION`);

const v12c = stripComments(read(FILES.vmcs12c));
const layout = [];
const WIDTH_BYTES = { 16: 2, 32: 4, 64: 8, natural: 8 };
for (const m of block(v12c, 'vmcs12_field_offsets[] = {', FILES.vmcs12c).matchAll(/\bFIELD(64)?\((\w+),\s*(\w+)\)/g)) {
  const [, is64, name, memberName] = m;
  const f = byName.get(name);
  const mem = memberByName.get(memberName);
  if (!f) fail(`${FILES.vmcs12c}: ${name} is not in enum vmcs_field`);
  if (!mem || mem.count !== 1) fail(`${FILES.vmcs12c}: ${memberName} is not a scalar member of struct vmcs12`);
  if (WIDTH_BYTES[f.width] !== mem.size) fail(`${name} is ${f.width}-wide but ${memberName} has ${mem.size} bytes`);
  if (Boolean(is64) !== (f.width === 64)) fail(`${FILES.vmcs12c}: ${name} uses FIELD${is64 ?? ''} but is ${f.width}-wide`);
  layout.push({ name, encoding: f.encoding, member: memberName, offset: mem.offset, size: mem.size });
  if (is64) {
    const high = byName.get(`${name}_HIGH`);
    if (!high) fail(`${FILES.vmcs12c}: FIELD64(${name}) but no ${name}_HIGH encoding`);
    layout.push({ name: high.name, encoding: high.encoding, member: memberName, offset: mem.offset + 4, size: 4 });
  }
}
if (layout.length < 100) fail(`${FILES.vmcs12c}: only ${layout.length} vmcs12 fields`);

// ---- write -----------------------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url));
const out = (file, text) => {
  writeFileSync(join(here, file), text);
  console.log(`wrote vmm/vmx/${file}`);
};

out(
  'fields.ts',
  `${header(FILES.vmx, 'Every VMCS field encoding (enum vmcs_field), with width, type and SDM display group.')}
// width and type come from the encoding's bits 14:13 and 11:10 (SDM Vol. 3C,
// Appendix B); group places each field in the SDM's layout of the VMCS.
// access 'high' entries are the upper 32 bits of the 64-bit field named by full.
import type { VmcsFieldDef } from './table-types';

export const VMCS_FIELDS: readonly VmcsFieldDef[] = [
${fieldRows.join('\n')}
];
`,
);

out(
  'exit-reason-table.ts',
  `${header([FILES.uapiVmx, FILES.vmx], 'VMX basic exit reasons (EXIT_REASON_*), exit-reason flag bits, VM-instruction errors.')}
import type { VmxExitReasonDef } from './table-types';

export const VMX_EXIT_REASONS: readonly VmxExitReasonDef[] = [
${reasons.map((r) => `  { reason: ${r.reason}, name: '${r.name}' },`).join('\n')}
];

/** Bits of the 32-bit exit-reason field above the basic reason (VMX_EXIT_REASONS_*). */
export const VMX_EXIT_REASON_FLAGS: readonly { name: string; mask: number }[] = [
${reasonFlags.map((f) => `  { name: '${f.name}', mask: ${hex(f.mask, 8)} },`).join('\n')}
];

/** VM-instruction error numbers (enum vm_instruction_error_number, names without VMXERR_). */
export const VM_INSTRUCTION_ERRORS: readonly { error: number; name: string }[] = [
${vmErrors.map((e) => `  { error: ${e.error}, name: '${e.name}' },`).join('\n')}
];
`,
);

out(
  'vmcs12-layout.ts',
  `${header(FILES.vmcs12h, "Layout of KVM's struct vmcs12 (packed) and its field-encoding table.")}
// Members and offsets are computed from the struct in ${FILES.vmcs12h}
// (every offset equals the kernel's own CHECK_OFFSET list); the encoding ->
// member table comes from ${FILES.vmcs12c} at the same version
// (sha256 ${sha(FILES.vmcs12c)}).
import type { Vmcs12FieldOffset, Vmcs12Member } from './table-types';

/** VMCS12_REVISION: what KVM puts in hdr.revision_id and reports in IA32_VMX_BASIC. */
export const VMCS12_REVISION = 0x${revision[1].toLowerCase()};

/** sizeof(struct vmcs12); the rest of the 4 KiB region is unused. */
export const VMCS12_STRUCT_SIZE = ${structSize};

export const VMCS12_MEMBERS: readonly Vmcs12Member[] = [
${members.map((m) => `  { member: '${m.member}', offset: ${m.offset}, size: ${m.size}, count: ${m.count} },`).join('\n')}
];

/** FIELD/FIELD64 entries: where KVM keeps each VMCS field it emulates. _HIGH rows are the upper half. */
export const VMCS12_FIELDS: readonly Vmcs12FieldOffset[] = [
${layout.map((l) => `  { name: '${l.name}', encoding: ${hex(l.encoding)}, member: '${l.member}', offset: ${l.offset}, size: ${l.size} },`).join('\n')}
];
`,
);
console.log(`${fields.length} fields, ${reasons.length} exit reasons, ${layout.length} vmcs12 entries, struct vmcs12 ${structSize} bytes, ${checked} offsets checked`);
