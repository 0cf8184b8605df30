// The register views of a stopped vCPU as lazily expanded trees: general
// registers with decoded RFLAGS, segments with their hidden parts, control and
// debug registers with decoded bits, a set of MSRs, and the x87/SSE state.
// Nodes know how to write themselves back, so setVariable is one lookup.

import { gpa, gva, hex, isGpa } from '../common/address';
import type { VcpuStateApi as VcpuState } from '../vmm/vcpu-state';
import { GPR_NAMES, SEGMENT_NAMES, type Regs, type Segment, type Sregs } from '../vmm/registers';
import { formatMemoryReference } from '../vmm/guest-access';

export interface VarNode {
  name: string;
  /** Numeric value (shown hex or decimal) or preformatted text. */
  value: bigint | string;
  /** Width in bits, for hex padding. */
  bits?: number;
  children?: () => VarNode[];
  memoryReference?: string;
  evaluateName?: string;
  /** Writes a new value back into the vCPU; absent means read-only. */
  set?: (v: bigint) => void;
  readOnlyReason?: string;
}

export function formatNumber(v: bigint, bits: number | undefined, hexOut: boolean): string {
  if (!hexOut) return v.toString(10);
  const digits = bits ? Math.ceil(bits / 4) : 0;
  return hex(v, digits);
}

interface BitField {
  name: string;
  bit: number;
  width?: number;
  doc?: string;
}

/** Children that show (and set) named bits of a register. */
function bitChildren(value: bigint, fields: readonly BitField[], write?: (v: bigint) => void): VarNode[] {
  return fields.map((f) => {
    const width = BigInt(f.width ?? 1);
    const mask = ((1n << width) - 1n) << BigInt(f.bit);
    const node: VarNode = { name: f.name, value: (value & mask) >> BigInt(f.bit), bits: Number(width) };
    if (write) node.set = (v) => write((value & ~mask) | ((v << BigInt(f.bit)) & mask));
    return node;
  });
}

export const RFLAGS_BITS: readonly BitField[] = [
  { name: 'CF', bit: 0 }, { name: 'PF', bit: 2 }, { name: 'AF', bit: 4 }, { name: 'ZF', bit: 6 },
  { name: 'SF', bit: 7 }, { name: 'TF', bit: 8 }, { name: 'IF', bit: 9 }, { name: 'DF', bit: 10 },
  { name: 'OF', bit: 11 }, { name: 'IOPL', bit: 12, width: 2 }, { name: 'NT', bit: 14 }, { name: 'RF', bit: 16 },
  { name: 'VM', bit: 17 }, { name: 'AC', bit: 18 }, { name: 'VIF', bit: 19 }, { name: 'VIP', bit: 20 }, { name: 'ID', bit: 21 },
];
export const CR0_BITS: readonly BitField[] = [
  { name: 'PE', bit: 0 }, { name: 'MP', bit: 1 }, { name: 'EM', bit: 2 }, { name: 'TS', bit: 3 }, { name: 'ET', bit: 4 },
  { name: 'NE', bit: 5 }, { name: 'WP', bit: 16 }, { name: 'AM', bit: 18 }, { name: 'NW', bit: 29 }, { name: 'CD', bit: 30 }, { name: 'PG', bit: 31 },
];
export const CR4_BITS: readonly BitField[] = [
  { name: 'VME', bit: 0 }, { name: 'PVI', bit: 1 }, { name: 'TSD', bit: 2 }, { name: 'DE', bit: 3 }, { name: 'PSE', bit: 4 },
  { name: 'PAE', bit: 5 }, { name: 'MCE', bit: 6 }, { name: 'PGE', bit: 7 }, { name: 'PCE', bit: 8 }, { name: 'OSFXSR', bit: 9 },
  { name: 'OSXMMEXCPT', bit: 10 }, { name: 'UMIP', bit: 11 }, { name: 'LA57', bit: 12 }, { name: 'VMXE', bit: 13 }, { name: 'SMXE', bit: 14 },
  { name: 'FSGSBASE', bit: 16 }, { name: 'PCIDE', bit: 17 }, { name: 'OSXSAVE', bit: 18 }, { name: 'SMEP', bit: 20 }, { name: 'SMAP', bit: 21 },
  { name: 'PKE', bit: 22 }, { name: 'CET', bit: 23 },
];
export const EFER_BITS: readonly BitField[] = [
  { name: 'SCE', bit: 0 }, { name: 'LME', bit: 8 }, { name: 'LMA', bit: 10 }, { name: 'NXE', bit: 11 }, { name: 'SVME', bit: 12 },
  { name: 'LMSLE', bit: 13 }, { name: 'FFXSR', bit: 14 }, { name: 'TCE', bit: 15 },
];
export const DR7_BITS: readonly BitField[] = [
  { name: 'L0', bit: 0 }, { name: 'G0', bit: 1 }, { name: 'L1', bit: 2 }, { name: 'G1', bit: 3 },
  { name: 'L2', bit: 4 }, { name: 'G2', bit: 5 }, { name: 'L3', bit: 6 }, { name: 'G3', bit: 7 },
  { name: 'LE', bit: 8 }, { name: 'GE', bit: 9 }, { name: 'GD', bit: 13 },
  { name: 'RW0', bit: 16, width: 2 }, { name: 'LEN0', bit: 18, width: 2 }, { name: 'RW1', bit: 20, width: 2 }, { name: 'LEN1', bit: 22, width: 2 },
  { name: 'RW2', bit: 24, width: 2 }, { name: 'LEN2', bit: 26, width: 2 }, { name: 'RW3', bit: 28, width: 2 }, { name: 'LEN3', bit: 30, width: 2 },
];

/** MSRs shown by default (index, SDM name). */
export const DEFAULT_MSRS: ReadonlyArray<[number, string]> = [
  [0xc0000080, 'IA32_EFER'],
  [0xc0000081, 'IA32_STAR'],
  [0xc0000082, 'IA32_LSTAR'],
  [0xc0000083, 'IA32_CSTAR'],
  [0xc0000084, 'IA32_FMASK'],
  [0xc0000100, 'IA32_FS_BASE'],
  [0xc0000101, 'IA32_GS_BASE'],
  [0xc0000102, 'IA32_KERNEL_GS_BASE'],
  [0xc0000103, 'IA32_TSC_AUX'],
  [0x10, 'IA32_TIME_STAMP_COUNTER'],
  [0x1b, 'IA32_APIC_BASE'],
  [0x174, 'IA32_SYSENTER_CS'],
  [0x175, 'IA32_SYSENTER_ESP'],
  [0x176, 'IA32_SYSENTER_EIP'],
  [0x1a0, 'IA32_MISC_ENABLE'],
  [0x277, 'IA32_PAT'],
];

const virt = (a: bigint) => formatMemoryReference({ space: 'virtual', addr: gva(BigInt.asUintN(64, a)) });
/** A register that holds a guest-physical address (CR3's table); no reference when it is beyond 52 bits. */
const phys = (a: bigint) => (isGpa(a) ? formatMemoryReference({ space: 'physical', addr: gpa(a) }) : undefined);

export function generalRegisters(state: VcpuState): VarNode[] {
  const regs = state.getRegs();
  const setReg = (name: keyof Regs) => (v: bigint) => {
    const r = state.getRegs();
    r[name] = BigInt.asUintN(64, v);
    state.setRegs(r);
  };
  return GPR_NAMES.map((name): VarNode => {
    const node: VarNode = { name, value: regs[name], bits: 64, evaluateName: `$${name}`, set: setReg(name) };
    if (name === 'rflags') node.children = () => bitChildren(regs.rflags, RFLAGS_BITS, setReg('rflags'));
    else node.memoryReference = virt(regs[name]);
    return node;
  });
}

function segmentNode(name: string, seg: Segment, write: (s: Segment) => void): VarNode {
  const field = (k: keyof Segment, bits: number): VarNode => ({
    name: k,
    value: BigInt(seg[k]),
    bits,
    set: (v) => write({ ...seg, [k]: k === 'base' ? BigInt.asUintN(64, v) : Number(v) }),
  });
  return {
    name,
    value: BigInt(seg.selector),
    bits: 16,
    evaluateName: `$${name}`,
    memoryReference: virt(seg.base),
    set: (v) => write({ ...seg, selector: Number(v & 0xffffn) }),
    children: () => [
      { ...field('base', 64), memoryReference: virt(seg.base) },
      field('limit', 32),
      field('type', 4),
      field('s', 1),
      field('dpl', 2),
      field('present', 1),
      field('avl', 1),
      field('l', 1),
      field('db', 1),
      field('g', 1),
      field('unusable', 1),
    ],
  };
}

function withSregs(state: VcpuState, edit: (s: Sregs) => void): void {
  const s = state.getSregs();
  edit(s);
  state.setSregs(s);
}

export function segmentRegisters(state: VcpuState): VarNode[] {
  const s = state.getSregs();
  const out: VarNode[] = SEGMENT_NAMES.map((name) =>
    segmentNode(name === 'ldt' ? 'ldtr' : name, s[name], (seg) => withSregs(state, (x) => (x[name] = seg))),
  );
  for (const t of ['gdt', 'idt'] as const) {
    out.push({
      name: `${t}r`,
      value: `base ${hex(s[t].base)} limit ${hex(s[t].limit)}`,
      memoryReference: virt(s[t].base),
      children: () => [
        { name: 'base', value: s[t].base, bits: 64, memoryReference: virt(s[t].base), set: (v) => withSregs(state, (x) => (x[t].base = v)) },
        { name: 'limit', value: BigInt(s[t].limit), bits: 16, set: (v) => withSregs(state, (x) => (x[t].limit = Number(v & 0xffffn))) },
      ],
    });
  }
  return out;
}

export function controlRegisters(state: VcpuState): VarNode[] {
  const s = state.getSregs();
  const setCr = (k: 'cr0' | 'cr2' | 'cr3' | 'cr4' | 'cr8' | 'efer') => (v: bigint) => withSregs(state, (x) => (x[k] = v));
  const d = state.getDebugRegs();
  const setDr = (i: number | 'dr6' | 'dr7') => (v: bigint) => {
    const cur = state.getDebugRegs();
    if (typeof i === 'number') cur.db[i] = v;
    else cur[i] = v;
    state.setDebugRegs(cur);
  };
  return [
    { name: 'cr0', value: s.cr0, bits: 32, evaluateName: '$cr0', set: setCr('cr0'), children: () => bitChildren(s.cr0, CR0_BITS, setCr('cr0')) },
    { name: 'cr2', value: s.cr2, bits: 64, evaluateName: '$cr2', set: setCr('cr2'), memoryReference: virt(s.cr2) },
    { name: 'cr3', value: s.cr3, bits: 64, evaluateName: '$cr3', set: setCr('cr3'), memoryReference: phys(s.cr3 & 0x000f_ffff_ffff_f000n) },
    { name: 'cr4', value: s.cr4, bits: 32, evaluateName: '$cr4', set: setCr('cr4'), children: () => bitChildren(s.cr4, CR4_BITS, setCr('cr4')) },
    { name: 'cr8', value: s.cr8, bits: 4, evaluateName: '$cr8', set: setCr('cr8') },
    { name: 'efer', value: s.efer, bits: 16, evaluateName: '$efer', set: setCr('efer'), children: () => bitChildren(s.efer, EFER_BITS, setCr('efer')) },
    ...d.db.map((v, i): VarNode => ({ name: `dr${i}`, value: v, bits: 64, evaluateName: `$dr${i}`, memoryReference: virt(v), set: setDr(i) })),
    { name: 'dr6', value: d.dr6, bits: 32, evaluateName: '$dr6', set: setDr('dr6') },
    { name: 'dr7', value: d.dr7, bits: 32, evaluateName: '$dr7', set: setDr('dr7'), children: () => bitChildren(d.dr7, DR7_BITS, setDr('dr7')) },
  ];
}

const ADDRESS_MSRS = new Set([0xc0000082, 0xc0000083, 0xc0000100, 0xc0000101, 0xc0000102, 0x175, 0x176]);

export function msrRegisters(state: VcpuState, extra: ReadonlyArray<[number, string]>): VarNode[] {
  const list = [...DEFAULT_MSRS, ...extra.filter(([i]) => !DEFAULT_MSRS.some(([d]) => d === i))];
  const values = state.getMsrs(list.map(([i]) => i));
  return list.map(([index, name]): VarNode => {
    const v = values.get(index);
    const label = `${name} (${hex(index)})`;
    if (v === undefined) return { name: label, value: 'not readable (KVM refused)', readOnlyReason: 'KVM refused to read this MSR' };
    const node: VarNode = {
      name: label,
      value: v,
      bits: 64,
      set: (nv) => {
        if (state.setMsrs([{ index, data: nv }]) !== 1) throw new Error(`KVM refused to write ${name}`);
      },
    };
    if (ADDRESS_MSRS.has(index)) node.memoryReference = virt(v);
    if (index === 0xc0000080) node.children = () => bitChildren(v, EFER_BITS);
    return node;
  });
}

/** An 80-bit x87 value as a decimal string (exact enough for display). */
export function x87ToString(b: Uint8Array): string {
  let mant = 0n;
  for (let i = 7; i >= 0; i--) mant = (mant << 8n) | BigInt(b[i]!);
  const se = b[8]! | (b[9]! << 8);
  const sign = se & 0x8000 ? '-' : '';
  const exp = se & 0x7fff;
  if (exp === 0 && mant === 0n) return `${sign}0`;
  if (exp === 0x7fff) return (mant & 0x7fff_ffff_ffff_ffffn) === 0n ? `${sign}inf` : 'nan';
  const value = Number(mant) * 2 ** (exp - 16383 - 63);
  return `${sign}${value}`;
}

const hexBytes = (b: Uint8Array) => '0x' + Array.from(b).reverse().map((x) => x.toString(16).padStart(2, '0')).join('');

export function fpuRegisters(state: VcpuState): VarNode[] {
  const f = state.getFpu();
  const ro = 'writing FPU/SSE registers is not supported yet';
  const lanes = (b: Uint8Array): VarNode[] => {
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    return [
      { name: 'u64', value: `[${[0, 8].map((o) => hex(dv.getBigUint64(o, true))).join(', ')}]`, readOnlyReason: ro },
      { name: 'u32', value: `[${[0, 4, 8, 12].map((o) => hex(dv.getUint32(o, true))).join(', ')}]`, readOnlyReason: ro },
      { name: 'f64', value: `[${[0, 8].map((o) => dv.getFloat64(o, true)).join(', ')}]`, readOnlyReason: ro },
      { name: 'f32', value: `[${[0, 4, 8, 12].map((o) => dv.getFloat32(o, true)).join(', ')}]`, readOnlyReason: ro },
    ];
  };
  return [
    ...f.fpr.map((b, i): VarNode => ({ name: `st${i}`, value: `${x87ToString(b)} (${hexBytes(b)})`, readOnlyReason: ro })),
    { name: 'fcw', value: BigInt(f.fcw), bits: 16, readOnlyReason: ro },
    { name: 'fsw', value: BigInt(f.fsw), bits: 16, readOnlyReason: ro },
    { name: 'ftw', value: BigInt(f.ftwx), bits: 8, readOnlyReason: ro },
    { name: 'mxcsr', value: BigInt(f.mxcsr), bits: 32, readOnlyReason: ro },
    ...f.xmm.map((b, i): VarNode => ({ name: `xmm${i}`, value: hexBytes(b), readOnlyReason: ro, children: () => lanes(b) })),
  ];
}
