// The target descriptions vmscope serves to gdb (qXfer:features:read), and
// the 'g'/'p'/'G'/'P' register encodings that follow them. Feature names,
// register names, sizes, types and their order follow gdb's documented i386
// features (GDB manual, "i386 Features": the 32- and 64-bit core and
// segments features): gdb numbers registers in the order the XML lists them,
// and 'g' is those registers back to back, little-endian.
//
// Two register layouts, chosen by the vCPU's mode when gdb connects:
// - x86-64 (long mode): the amd64 core, fs_base/gs_base, the system feature;
// - i386 (real mode and 32-bit protected mode): the 32-bit core, 32-bit
//   segment bases, the same system feature. Its architecture is i8086 when
//   the vCPU runs 16-bit code, so gdb disassembles and steps it as such, and
//   i386 otherwise; gdb's `set architecture i8086` / `i386` switch between
//   the two on one connection, since the layout is the same.
// In the i386 layout, eip is the linear address CS.base + EIP, the address
// gdb reads code at and sets breakpoints on: 0xffff0 at F000:FFF0, 0x7c00 at
// 07C0:0000. Writing eip moves EIP by the difference; CS stays.
//
// The system feature (vmscope's own, named so as not to claim one of gdb's)
// gives the control registers, EFER, the descriptor tables and the segment
// bases. gdb's x86 register groups ignore a feature's group attribute, so
// `info registers` lists them after the general registers (as it lists
// QEMU's); `p $cr3` and `info registers cr3 efer` name one.
// Its 64-bit fields are uint64, not data_ptr: a pointer type takes the
// architecture's pointer size, which would make them 4 bytes under i386.

import type { Fpu, Regs, Sregs } from '../vmm/registers';
import { littleEndianHex } from './packets';

export type TargetLayout = 'x86-64' | 'i386';
/** The architecture names gdb knows (`set architecture`). */
export type TargetArch = 'i386:x86-64' | 'i386' | 'i8086';

type Feature = 'org.gnu.gdb.i386.core' | 'org.gnu.gdb.i386.segments' | 'org.vmscope.x86.system';

/** What one stop's register file is read from. `fpu` is absent where the backend cannot give it. */
export interface RegisterSources {
  regs: Regs;
  sregs: Sregs;
  fpu?: Fpu | undefined;
}

/** One register's value: a number, or raw little-endian bytes (the 80-bit x87 registers). */
export type RegisterValue = bigint | Uint8Array;

/** Where a written value goes: copies of the vCPU's registers, changed in place. */
interface WriteTarget {
  regs: Regs;
  sregs: Sregs;
}

export interface TargetRegister {
  name: string;
  bits: number;
  type: string;
  feature: Feature;
  group?: 'float';
  get(src: RegisterSources): RegisterValue;
  /** Applies a new value; a reason when the register cannot take it (x87 state, a selector outside real mode). */
  set?(value: bigint, to: WriteTarget): string | undefined;
}

const SELECTORS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;

function mask(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

function gpr(name: keyof Regs, as: string, bits: number, type: string): TargetRegister {
  return {
    name: as,
    bits,
    type,
    feature: 'org.gnu.gdb.i386.core',
    get: (s) => s.regs[name] & mask(bits),
    // A 32-bit write keeps the upper half, which the i386 layout cannot show.
    set: (v, to) => void (to.regs[name] = (to.regs[name] & ~mask(bits)) | (v & mask(bits))),
  };
}

function selector(name: (typeof SELECTORS)[number]): TargetRegister {
  return {
    name,
    bits: 32,
    type: 'int32',
    feature: 'org.gnu.gdb.i386.core',
    get: (s) => BigInt(s.sregs[name].selector),
    set: (v, to) => {
      if (BigInt(to.sregs[name].selector) === v) return undefined;
      // Outside real mode a selector needs its descriptor loaded, which gdb cannot ask for.
      if (to.sregs.cr0 & 1n) return `${name} can be changed only in real mode`;
      to.sregs[name] = { ...to.sregs[name], selector: Number(v & 0xffffn), base: (v & 0xffffn) << 4n };
      return undefined;
    },
  };
}

/** The x87 registers: read from the FPU state, not writable through gdb. */
function x87(name: string, bits: number, type: string, read: (fpu: Fpu | undefined) => RegisterValue): TargetRegister {
  return { name, bits, type, feature: 'org.gnu.gdb.i386.core', ...(type === 'i387_ext' ? {} : { group: 'float' as const }), get: (s) => read(s.fpu) };
}

const X87: readonly TargetRegister[] = [
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => x87(`st${i}`, 80, 'i387_ext', (f) => f?.fpr[i]?.subarray(0, 10) ?? new Uint8Array(10))),
  x87('fctrl', 32, 'int', (f) => BigInt(f?.fcw ?? 0x37f)),
  x87('fstat', 32, 'int', (f) => BigInt(f?.fsw ?? 0)),
  // KVM's abridged tag (one bit per register, 1 = valid) widened to the full tag word (11 = empty).
  x87('ftag', 32, 'int', (f) => fullTagWord(f?.ftwx ?? 0)),
  x87('fiseg', 32, 'int', () => 0n),
  x87('fioff', 32, 'int', (f) => (f ? f.lastIp & 0xffffffffn : 0n)),
  x87('foseg', 32, 'int', () => 0n),
  x87('fooff', 32, 'int', (f) => (f ? f.lastDp & 0xffffffffn : 0n)),
  x87('fop', 32, 'int', (f) => BigInt(f?.lastOpcode ?? 0)),
];

function segmentBase(name: 'fs' | 'gs', bits: number): TargetRegister {
  return {
    name: `${name}_base`,
    bits,
    type: 'int',
    feature: 'org.gnu.gdb.i386.segments',
    get: (s) => s.sregs[name].base & mask(bits),
    set: (v, to) => void (to.sregs[name] = { ...to.sregs[name], base: v }),
  };
}

function system(name: string, type: string, get: (s: Sregs) => bigint, set?: (v: bigint, s: Sregs) => void, bits = 64): TargetRegister {
  return {
    name,
    bits,
    type,
    feature: 'org.vmscope.x86.system',
    get: (s) => get(s.sregs),
    ...(set ? { set: (v: bigint, to: WriteTarget) => void set(v, to.sregs) } : {}),
  };
}

const SYSTEM: readonly TargetRegister[] = [
  system('cr0', 'x86_cr0', (s) => s.cr0, (v, s) => void (s.cr0 = v)),
  system('cr2', 'int64', (s) => s.cr2, (v, s) => void (s.cr2 = v)),
  system('cr3', 'int64', (s) => s.cr3, (v, s) => void (s.cr3 = v)),
  system('cr4', 'x86_cr4', (s) => s.cr4, (v, s) => void (s.cr4 = v)),
  system('cr8', 'int64', (s) => s.cr8, (v, s) => void (s.cr8 = v)),
  system('efer', 'x86_efer', (s) => s.efer, (v, s) => void (s.efer = v)),
  system('gdtr_base', 'uint64', (s) => s.gdt.base, (v, s) => void (s.gdt = { ...s.gdt, base: v })),
  system('gdtr_limit', 'int32', (s) => BigInt(s.gdt.limit), (v, s) => void (s.gdt = { ...s.gdt, limit: Number(v & 0xffffn) }), 32),
  system('idtr_base', 'uint64', (s) => s.idt.base, (v, s) => void (s.idt = { ...s.idt, base: v })),
  system('idtr_limit', 'int32', (s) => BigInt(s.idt.limit), (v, s) => void (s.idt = { ...s.idt, limit: Number(v & 0xffffn) }), 32),
  system('ldtr', 'int32', (s) => BigInt(s.ldt.selector), undefined, 32),
  system('tr', 'int32', (s) => BigInt(s.tr.selector), undefined, 32),
  ...(['cs', 'ss', 'ds', 'es'] as const).map((n) => system(`${n}_base`, 'uint64', (s) => s[n].base)),
];

/** gdb's amd64 core (rbp before rsp, unlike kvm_regs), the segment bases, and the system feature. */
const X86_64: readonly TargetRegister[] = [
  ...(['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi'] as const).map((n) => gpr(n, n, 64, 'int64')),
  gpr('rbp', 'rbp', 64, 'data_ptr'),
  gpr('rsp', 'rsp', 64, 'data_ptr'),
  ...(['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const).map((n) => gpr(n, n, 64, 'int64')),
  gpr('rip', 'rip', 64, 'code_ptr'),
  gpr('rflags', 'eflags', 32, 'i386_eflags'),
  ...SELECTORS.map(selector),
  ...X87,
  segmentBase('fs', 64),
  segmentBase('gs', 64),
  ...SYSTEM,
];

/** The linear address of the next instruction, as the i386 layout's eip shows it. */
const linearEip: TargetRegister = {
  name: 'eip',
  bits: 32,
  type: 'code_ptr',
  feature: 'org.gnu.gdb.i386.core',
  get: (s) => (s.sregs.cs.base + s.regs.rip) & 0xffffffffn,
  set: (v, to) => void (to.regs.rip = (v - to.sregs.cs.base) & 0xffffffffn),
};

/** gdb's i386 core: eax, ecx, edx, ebx (not kvm_regs's order), then the rest as above, at 32 bits. */
const I386: readonly TargetRegister[] = [
  ...(['rax', 'rcx', 'rdx', 'rbx'] as const).map((n) => gpr(n, 'e' + n.slice(1), 32, 'int32')),
  gpr('rsp', 'esp', 32, 'data_ptr'),
  gpr('rbp', 'ebp', 32, 'data_ptr'),
  gpr('rsi', 'esi', 32, 'int32'),
  gpr('rdi', 'edi', 32, 'int32'),
  linearEip,
  gpr('rflags', 'eflags', 32, 'i386_eflags'),
  ...SELECTORS.map(selector),
  ...X87,
  segmentBase('fs', 32),
  segmentBase('gs', 32),
  ...SYSTEM,
];

export function registersOf(layout: TargetLayout): readonly TargetRegister[] {
  return layout === 'x86-64' ? X86_64 : I386;
}

export function layoutOf(arch: TargetArch): TargetLayout {
  return arch === 'i386:x86-64' ? 'x86-64' : 'i386';
}

/**
 * The architecture for a vCPU's mode: i386:x86-64 once long mode is active
 * (EFER.LMA, compatibility mode included, since its registers are 64-bit),
 * i8086 in real mode, virtual-8086 mode or a 16-bit code segment, else i386.
 */
export function archForMode(sregs: Pick<Sregs, 'efer' | 'cr0' | 'cs'>, rflags: bigint): TargetArch {
  if (sregs.efer & (1n << 10n)) return 'i386:x86-64';
  if (!(sregs.cr0 & 1n) || rflags & (1n << 17n) || !sregs.cs.db) return 'i8086';
  return 'i386';
}

/** Flag types, each bit as the SDM names it. */
const FLAGS: Record<string, { size: number; bits: ReadonlyArray<[number, string]> }> = {
  // SDM Vol. 1, 3.4.3.
  i386_eflags: {
    size: 4,
    bits: [[0, 'CF'], [1, ''], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'], [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID']],
  },
  // SDM Vol. 3A, 2.5.
  x86_cr0: { size: 8, bits: [[0, 'PE'], [1, 'MP'], [2, 'EM'], [3, 'TS'], [4, 'ET'], [5, 'NE'], [16, 'WP'], [18, 'AM'], [29, 'NW'], [30, 'CD'], [31, 'PG']] },
  x86_cr4: {
    size: 8,
    bits: [[0, 'VME'], [1, 'PVI'], [2, 'TSD'], [3, 'DE'], [4, 'PSE'], [5, 'PAE'], [6, 'MCE'], [7, 'PGE'], [8, 'PCE'], [9, 'OSFXSR'], [10, 'OSXMMEXCPT'], [11, 'UMIP'], [12, 'LA57'], [13, 'VMXE'], [14, 'SMXE'], [16, 'FSGSBASE'], [17, 'PCIDE'], [18, 'OSXSAVE'], [20, 'SMEP'], [21, 'SMAP'], [22, 'PKE']],
  },
  // SDM Vol. 3A, 2.2.1.
  x86_efer: { size: 8, bits: [[0, 'SCE'], [8, 'LME'], [10, 'LMA'], [11, 'NXE'], [12, 'SVME'], [13, 'LMSLE'], [14, 'FFXSR'], [15, 'TCE']] },
};

function featureXml(name: Feature, registers: readonly TargetRegister[]): string {
  const lines = [`  <feature name="${name}">`];
  const used = new Set(registers.filter((r) => r.feature === name).map((r) => r.type));
  for (const [id, flags] of Object.entries(FLAGS)) {
    if (!used.has(id)) continue;
    lines.push(`    <flags id="${id}" size="${flags.size}">`);
    for (const [bit, flag] of flags.bits) lines.push(`      <field name="${flag}" start="${bit}" end="${bit}"/>`);
    lines.push('    </flags>');
  }
  registers.forEach((r, regnum) => {
    if (r.feature !== name) return;
    lines.push(`    <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${regnum}"${r.group ? ` group="${r.group}"` : ''}/>`);
  });
  lines.push('  </feature>');
  return lines.join('\n');
}

/** The whole target.xml for an architecture, one document (no xi:include, so one qXfer annex is enough). */
export function targetXml(arch: TargetArch = 'i386:x86-64'): string {
  const registers = registersOf(layoutOf(arch));
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    `  <architecture>${arch}</architecture>`,
    // A guest is no Linux process: without this, Debian's gdb assumes GNU/Linux and warns that it has no such handler for i8086.
    '  <osabi>none</osabi>',
    featureXml('org.gnu.gdb.i386.core', registers),
    featureXml('org.gnu.gdb.i386.segments', registers),
    featureXml('org.vmscope.x86.system', registers),
    '</target>',
    '',
  ].join('\n');
}

/** Each register's value, in the layout's order. */
export function registerValues(src: RegisterSources, layout: TargetLayout = 'x86-64'): RegisterValue[] {
  return registersOf(layout).map((r) => r.get(src));
}

/** The abridged x87 tag (FXSAVE's) as the 16-bit tag word: valid registers as 00, empty ones as 11 (SDM Vol. 1, 8.1.7). */
function fullTagWord(abridged: number): bigint {
  let tag = 0n;
  for (let i = 0; i < 8; i++) if (!(abridged & (1 << i))) tag |= 3n << BigInt(2 * i);
  return tag;
}

/** One register as 'p' sends it. */
export function encodeRegister(index: number, value: RegisterValue, layout: TargetLayout = 'x86-64'): string {
  const size = registersOf(layout)[index]!.bits / 8;
  if (typeof value === 'bigint') return littleEndianHex(value, size);
  const bytes = new Uint8Array(size);
  bytes.set(value.subarray(0, size));
  return Buffer.from(bytes).toString('hex');
}

/** The 'g' reply: every register in the layout's order. */
export function encodeRegisters(values: readonly RegisterValue[], layout: TargetLayout = 'x86-64'): string {
  return values.map((v, i) => encodeRegister(i, v, layout)).join('');
}

/** A little-endian hex field as a number. */
function decodeLittleEndian(hex: string): bigint {
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(hex.slice(i, i + 2), 16));
  return v;
}

/**
 * Applies 'G' (all registers, hex) or 'P' (one) to copies of the vCPU's
 * registers: only registers whose value differs from what the vCPU has are
 * written, so a 'G' that gdb sends after changing one register touches only
 * that one. Returns the reason when a register cannot take its new value.
 */
export function writeRegisters(
  layout: TargetLayout,
  current: RegisterSources,
  writes: ReadonlyArray<{ index: number; hex: string }>,
): { regs: Regs; sregs: Sregs } | { error: string } {
  const registers = registersOf(layout);
  const to: WriteTarget = { regs: { ...current.regs }, sregs: { ...current.sregs } };
  const now = registerValues(current, layout);
  for (const { index, hex } of writes) {
    const r = registers[index];
    if (!r || hex.length !== r.bits / 4 || !/^[0-9a-fA-F]*$/.test(hex)) return { error: `bad value for register ${index}` };
    if (hex.toLowerCase() === encodeRegister(index, now[index]!, layout)) continue;
    if (!r.set) return { error: `${r.name} is read-only through gdb` };
    const refused = r.set(decodeLittleEndian(hex), to);
    if (refused) return { error: refused };
  }
  return to;
}

/** Splits a 'G' packet's hex into one field per register of the layout; undefined when the length is wrong. */
export function splitRegisters(layout: TargetLayout, hex: string): Array<{ index: number; hex: string }> | undefined {
  const out: Array<{ index: number; hex: string }> = [];
  let at = 0;
  registersOf(layout).forEach((r, index) => {
    out.push({ index, hex: hex.slice(at, at + r.bits / 4) });
    at += r.bits / 4;
  });
  return at === hex.length ? out : undefined;
}
