// The x86-64 target description vmscope serves to gdb (qXfer:features:read),
// and the 'g'/'p' register encodings that follow it. Feature names, register
// names, sizes, types and their order follow gdb's documented i386 features
// (GDB manual, "i386 Features"; gdb/features/i386/64bit-core.xml and
// 64bit-segments.xml): gdb numbers registers in the order the XML lists them,
// and 'g' is those registers back to back, little-endian.

import type { Fpu, Regs, Sregs } from '../vmm/registers';
import { littleEndianHex } from './packets';

export interface TargetRegister {
  name: string;
  bits: number;
  type: string;
  feature: 'org.gnu.gdb.i386.core' | 'org.gnu.gdb.i386.segments';
  group?: 'float';
}

const core = (name: string, bits: number, type: string, group?: 'float'): TargetRegister => ({ name, bits, type, feature: 'org.gnu.gdb.i386.core', ...(group ? { group } : {}) });

/**
 * gdb's amd64 core: sixteen general registers (rbp before rsp, unlike
 * kvm_regs), rip, eflags, six selectors, and the x87 stack with its control
 * registers. gdb refuses a core feature without the x87 part.
 */
export const REGISTERS: readonly TargetRegister[] = [
  ...['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi'].map((n) => core(n, 64, 'int64')),
  core('rbp', 64, 'data_ptr'),
  core('rsp', 64, 'data_ptr'),
  ...['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].map((n) => core(n, 64, 'int64')),
  core('rip', 64, 'code_ptr'),
  core('eflags', 32, 'i386_eflags'),
  ...['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n) => core(n, 32, 'int32')),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => core(`st${i}`, 80, 'i387_ext')),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n) => core(n, 32, 'int', 'float')),
  { name: 'fs_base', bits: 64, type: 'int', feature: 'org.gnu.gdb.i386.segments' },
  { name: 'gs_base', bits: 64, type: 'int', feature: 'org.gnu.gdb.i386.segments' },
];

/** EFLAGS bits as gdb names them (SDM Vol. 1, 3.4.3). */
const EFLAGS_BITS: ReadonlyArray<[number, string]> = [
  [0, 'CF'], [1, ''], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
];

function featureXml(name: TargetRegister['feature']): string {
  const lines = [`  <feature name="${name}">`];
  if (name === 'org.gnu.gdb.i386.core') {
    lines.push('    <flags id="i386_eflags" size="4">');
    for (const [bit, flag] of EFLAGS_BITS) lines.push(`      <field name="${flag}" start="${bit}" end="${bit}"/>`);
    lines.push('    </flags>');
  }
  REGISTERS.forEach((r, regnum) => {
    if (r.feature !== name) return;
    lines.push(`    <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${regnum}"${r.group ? ` group="${r.group}"` : ''}/>`);
  });
  lines.push('  </feature>');
  return lines.join('\n');
}

/** The whole target.xml, one document (no xi:include, so one qXfer annex is enough). */
export function targetXml(): string {
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    '  <architecture>i386:x86-64</architecture>',
    featureXml('org.gnu.gdb.i386.core'),
    featureXml('org.gnu.gdb.i386.segments'),
    '</target>',
    '',
  ].join('\n');
}

/** What one stop's register file is read from. `fpu` is absent where the backend cannot give it. */
export interface RegisterSources {
  regs: Regs;
  sregs: Sregs;
  fpu?: Fpu | undefined;
}

/** One register's value: a number, or raw little-endian bytes (the 80-bit x87 registers). */
export type RegisterValue = bigint | Uint8Array;

/** Each register's value, indexed as REGISTERS. */
export function registerValues(src: RegisterSources): RegisterValue[] {
  const { regs, sregs, fpu } = src;
  return REGISTERS.map((r): RegisterValue => {
    const name = r.name;
    if (name === 'eflags') return regs.rflags;
    if (name in regs) return regs[name as keyof Regs];
    switch (name) {
      case 'cs':
      case 'ss':
      case 'ds':
      case 'es':
      case 'fs':
      case 'gs':
        return BigInt(sregs[name].selector);
      case 'fs_base':
        return sregs.fs.base;
      case 'gs_base':
        return sregs.gs.base;
      case 'fctrl':
        return BigInt(fpu?.fcw ?? 0x37f);
      case 'fstat':
        return BigInt(fpu?.fsw ?? 0);
      case 'ftag':
        // KVM's abridged tag (one bit per register, 1 = valid) widened to the full tag word (11 = empty).
        return fullTagWord(fpu?.ftwx ?? 0);
      case 'fioff':
        return fpu ? fpu.lastIp & 0xffffffffn : 0n;
      case 'fooff':
        return fpu ? fpu.lastDp & 0xffffffffn : 0n;
      case 'fop':
        return BigInt(fpu?.lastOpcode ?? 0);
      case 'fiseg':
      case 'foseg':
        return 0n;
    }
    const st = /^st([0-7])$/.exec(name);
    if (st) return fpu?.fpr[Number(st[1])]?.subarray(0, 10) ?? new Uint8Array(10);
    throw new Error(`no value for register ${name}`);
  });
}

/** The abridged x87 tag (FXSAVE's) as the 16-bit tag word: valid registers as 00, empty ones as 11 (SDM Vol. 1, 8.1.7). */
function fullTagWord(abridged: number): bigint {
  let tag = 0n;
  for (let i = 0; i < 8; i++) if (!(abridged & (1 << i))) tag |= 3n << BigInt(2 * i);
  return tag;
}

/** One register as 'p' sends it. */
export function encodeRegister(index: number, value: RegisterValue): string {
  const size = REGISTERS[index]!.bits / 8;
  if (typeof value === 'bigint') return littleEndianHex(value, size);
  const bytes = new Uint8Array(size);
  bytes.set(value.subarray(0, size));
  return Buffer.from(bytes).toString('hex');
}

/** The 'g' reply: every register in REGISTERS order. */
export function encodeRegisters(values: readonly RegisterValue[]): string {
  return values.map((v, i) => encodeRegister(i, v)).join('');
}
