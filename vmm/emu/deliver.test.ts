// Unit tests of hand delivery through the guest IDT: a fake CPU over a flat
// byte array (linear = physical unless CR0.PG, then the repo's walker), with
// GDT, IDT and TSS written by the tests, checked frame by frame.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deliver, hasErrorCode, pageFaultErrorCode, type DeliveryCpu } from './deliver';
import { encodeDescriptor, type Descriptor } from '../boot/cpu-state';
import type { Regs, Segment, Sregs } from '../registers';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, RFLAGS_AC, RFLAGS_IF, RFLAGS_NT, RFLAGS_RF, RFLAGS_TF } from '../registers';
import { physReader } from '../paging/phys';
import { gva } from '../../common/address';
import { translate, type PagingContext } from '../paging/walk';
import { KIB4, PTE, TableBuilder } from '../paging/tables';

const TF = RFLAGS_TF;
const IF = RFLAGS_IF;
const NT = RFLAGS_NT;
const RF = RFLAGS_RF;
const AC = RFLAGS_AC;

// Where the tests put things (identity-mapped).
const GDT = 0x1000;
const IDT = 0x2000;
const TSS = 0x3000;
const MEM_SIZE = 0x20_0000;

// GDT selectors.
const KCODE64 = 0x08;
const KDATA = 0x10;
const KCODE32 = 0x18;
const UDATA = 0x23;
const UCODE64 = 0x2b;
const UCODE32 = 0x33;
const KCODE64_UNACCESSED = 0x38;

const flat = { base: 0, limit: 0xfffff, s: 1, present: 1, avl: 0, g: 1 };
const DESCRIPTORS: ReadonlyArray<[number, Descriptor]> = [
  [KCODE64, { ...flat, type: 0xb, dpl: 0, l: 1, db: 0 }],
  [KDATA, { ...flat, type: 0x3, dpl: 0, l: 0, db: 1 }],
  [KCODE32, { ...flat, type: 0xb, dpl: 0, l: 0, db: 1 }],
  [UDATA, { ...flat, type: 0x3, dpl: 3, l: 0, db: 1 }],
  [UCODE64, { ...flat, type: 0xb, dpl: 3, l: 1, db: 0 }],
  [UCODE32, { ...flat, type: 0xb, dpl: 3, l: 0, db: 1 }],
  // Accessed bit clear: delivery must set it, in memory and in the hidden type.
  [KCODE64_UNACCESSED, { ...flat, type: 0xa, dpl: 0, l: 1, db: 0 }],
];

function segmentOf(selector: number): Segment {
  const d = DESCRIPTORS.find(([s]) => (s & ~3) === (selector & ~3))![1];
  return {
    base: BigInt(d.base), limit: d.g ? 0xffff_ffff : d.limit, selector, type: d.type, present: d.present,
    dpl: d.dpl, db: d.db, s: d.s, l: d.l, g: d.g, avl: d.avl, unusable: 0,
  };
}

function realSegment(selector: number): Segment {
  return { base: BigInt(selector) << 4n, limit: 0xffff, selector, type: 0x3, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0 };
}

type Mode = 'long' | 'protected' | 'real';

/** A fake vCPU and its memory, with a GDT and a TSS in place and an empty IDT of 256 entries. */
function machine(mode: Mode) {
  const mem = new Uint8Array(MEM_SIZE);
  const dv = new DataView(mem.buffer);
  for (const [sel, d] of DESCRIPTORS) dv.setBigUint64(GDT + (sel & ~7), encodeDescriptor(d), true);
  const readPhys = physReader({ regions: [{ gpa: 0, bytes: mem }] });
  let regs: Regs = {
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0x8008n, rbp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: 0x5555n, rflags: 0x2n,
  };
  const unusable: Segment = { base: 0n, limit: 0, selector: 0, type: 0, present: 0, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
  const code = mode === 'long' ? segmentOf(KCODE64) : mode === 'protected' ? segmentOf(KCODE32) : realSegment(0);
  const data = mode === 'real' ? realSegment(0) : segmentOf(KDATA);
  let sregs: Sregs = {
    cs: code, ds: data, es: data, fs: data, gs: data, ss: data,
    tr: { base: BigInt(TSS), limit: 0x67, selector: 0x40, type: 0xb, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 },
    ldt: unusable,
    gdt: { base: BigInt(GDT), limit: 0x3f },
    idt: mode === 'real' ? { base: 0n, limit: 0x3ff } : { base: BigInt(IDT), limit: mode === 'long' ? 0xfff : 0x7ff },
    cr0: mode === 'real' ? 0n : CR0_PE, cr2: 0n, cr3: 0n, cr4: mode === 'long' ? CR4_PAE : 0n, cr8: 0n,
    efer: mode === 'long' ? EFER_LME | EFER_LMA : 0n, apicBase: 0n, interruptBitmap: [0n, 0n, 0n, 0n],
  };
  const paging = (): PagingContext | undefined => (sregs.cr0 & CR0_PG ? { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer } : undefined);
  /** Linear -> physical, byte by byte through the walker when paging is on. */
  const phys = (addr: bigint): number | undefined => {
    const ctx = paging();
    const p = ctx ? translate(gva(addr), ctx, readPhys) : Number(addr);
    return p !== undefined && p < MEM_SIZE ? p : undefined;
  };
  const cpu: DeliveryCpu = {
    getRegs: () => ({ ...regs }),
    setRegs: (r) => void (regs = { ...r }),
    getSregs: () => structuredClone(sregs),
    setSregs: (s) => void (sregs = structuredClone(s)),
    readLinear: (addr, len) => {
      const out = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        const p = phys(addr + BigInt(i));
        if (p === undefined) return undefined;
        out[i] = mem[p]!;
      }
      return out;
    },
    writeLinear: (addr, bytes) => {
      for (let i = 0; i < bytes.length; i++) {
        const p = phys(addr + BigInt(i));
        if (p === undefined) return false;
        mem[p] = bytes[i]!;
      }
      return true;
    },
    readPhys,
  };
  return {
    mem, dv, cpu,
    get regs() { return regs; },
    set regs(r: Regs) { regs = r; },
    get sregs() { return sregs; },
    set sregs(s: Sregs) { sregs = s; },
    u64: (a: number) => dv.getBigUint64(a, true),
    u32: (a: number) => dv.getUint32(a, true),
    u16: (a: number) => dv.getUint16(a, true),
  };
}
type Machine = ReturnType<typeof machine>;

interface GateSpec { offset: bigint; selector?: number; type?: number; dpl?: number; present?: boolean; ist?: number }

/** A 16-byte IA-32e gate at IDT[vector]. */
function gate64(m: Machine, vector: number, g: GateSpec): void {
  const at = IDT + vector * 16;
  const off = g.offset;
  const sel = g.selector ?? KCODE64;
  m.dv.setUint32(at, Number(off & 0xffffn) | (sel << 16), true);
  m.dv.setUint32(at + 4, (Number(off & 0xffff_0000n) | ((g.present ?? true) ? 0x8000 : 0) | ((g.dpl ?? 0) << 13) | ((g.type ?? 0xe) << 8) | (g.ist ?? 0)) >>> 0, true);
  m.dv.setUint32(at + 8, Number(off >> 32n), true);
  m.dv.setUint32(at + 12, 0, true);
}

/** An 8-byte protected-mode gate at IDT[vector]. */
function gate32(m: Machine, vector: number, g: GateSpec): void {
  const at = IDT + vector * 8;
  const off = Number(g.offset);
  m.dv.setUint32(at, (off & 0xffff) | ((g.selector ?? KCODE32) << 16), true);
  m.dv.setUint32(at + 4, ((off & 0xffff_0000) | ((g.present ?? true) ? 0x8000 : 0) | ((g.dpl ?? 0) << 13) | ((g.type ?? 0xe) << 8)) >>> 0, true);
}

/** The quadwords from `addr` up. */
function frame64(m: Machine, addr: bigint, count: number): bigint[] {
  return Array.from({ length: count }, (_, i) => m.u64(Number(addr) + 8 * i));
}

test('hasErrorCode follows SDM Table 6-1', () => {
  const withCode = [...Array(32).keys()].filter(hasErrorCode);
  assert.deepEqual(withCode, [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
  assert.equal(hasErrorCode(0x80), false);
});

test('64-bit: a ring-0 #GP pushes SS, RSP, RFLAGS, CS, RIP and the error code on the current stack, aligned to 16', () => {
  const m = machine('long');
  const handler = 0xffff_ffff_8000_1234n;
  gate64(m, 13, { offset: handler, selector: KCODE64_UNACCESSED });
  m.regs = { ...m.regs, rsp: 0x8008n, rip: 0x5555n, rflags: 0x2n | IF | TF | NT };
  const r = deliver(m.cpu, { vector: 13, source: 'exception', errorCode: 0x18 });
  assert.deepEqual(r, { kind: 'delivered', vector: 13 });
  // 0x8008 aligns down to 0x8000, then six quadwords; a fault pushes RFLAGS with RF set.
  assert.equal(m.regs.rsp, 0x7fd0n);
  assert.deepEqual(frame64(m, 0x7fd0n, 6), [0x18n, 0x5555n, BigInt(KCODE64), 0x2n | IF | TF | NT | RF, 0x8008n, BigInt(KDATA)]);
  assert.equal(m.regs.rip, handler);
  // Interrupt gate: IF cleared, and TF, NT, RF always.
  assert.equal(m.regs.rflags, 0x2n);
  assert.deepEqual(m.sregs.cs, {
    base: 0n, limit: 0xffff_ffff, selector: KCODE64_UNACCESSED, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0,
  });
  assert.equal(m.mem[GDT + KCODE64_UNACCESSED + 5]! & 1, 1, 'the accessed bit is set in the GDT');
  assert.equal(m.sregs.ss.selector, KDATA);
});

test('64-bit: int 0x80 from ring 3 switches to TSS.RSP0 and loads a null SS with RPL 0', () => {
  const m = machine('long');
  gate64(m, 0x80, { offset: 0x10_2000n, dpl: 3 });
  m.dv.setBigUint64(TSS + 4, 0x9008n, true); // RSP0
  m.sregs = { ...m.sregs, cs: segmentOf(UCODE64), ss: segmentOf(UDATA) };
  m.regs = { ...m.regs, rsp: 0x70f8n, rip: 0x6002n, rflags: 0x202n };
  const r = deliver(m.cpu, { vector: 0x80, source: 'software' });
  assert.deepEqual(r, { kind: 'delivered', vector: 0x80 });
  assert.equal(m.regs.rsp, 0x9000n - 40n);
  assert.deepEqual(frame64(m, m.regs.rsp, 5), [0x6002n, BigInt(UCODE64), 0x202n, 0x70f8n, BigInt(UDATA)]);
  assert.equal(m.regs.rip, 0x10_2000n);
  assert.equal(m.sregs.cs.selector, KCODE64);
  assert.equal(m.sregs.cs.dpl, 0);
  assert.equal(m.sregs.ss.selector, 0);
  assert.equal(m.sregs.ss.dpl, 0);
});

test('64-bit: an IST gate switches to ISTn without a CPL change; a trap gate keeps IF', () => {
  const m = machine('long');
  gate64(m, 0, { offset: 0x10_3000n, type: 0xf, ist: 1 });
  m.dv.setBigUint64(TSS + 4, 0x9000n, true); // RSP0: must not be used
  m.dv.setBigUint64(TSS + 0x24, 0xa000n, true); // IST1
  m.regs = { ...m.regs, rsp: 0x8008n, rflags: 0x202n };
  const r = deliver(m.cpu, { vector: 0, source: 'exception' });
  assert.deepEqual(r, { kind: 'delivered', vector: 0 });
  assert.equal(m.regs.rsp, 0xa000n - 40n);
  assert.deepEqual(frame64(m, m.regs.rsp, 5), [0x5555n, BigInt(KCODE64), 0x202n | RF, 0x8008n, BigInt(KDATA)]);
  assert.equal(m.regs.rflags, 0x202n);
  assert.equal(m.sregs.ss.selector, KDATA, 'SS stays without a CPL change');
});

test('32-bit: an interrupt gate pushes EFLAGS, CS, EIP and the error code as dwords', () => {
  const m = machine('protected');
  gate32(m, 14, { offset: 0x10_4000n });
  m.regs = { ...m.regs, rsp: 0x8000n, rip: 0x1234n, rflags: 0x202n | TF };
  const r = deliver(m.cpu, { vector: 14, source: 'exception', errorCode: 2 });
  assert.deepEqual(r, { kind: 'delivered', vector: 14 });
  assert.equal(m.regs.rsp, 0x7ff0n);
  assert.deepEqual([0x7ff0, 0x7ff4, 0x7ff8, 0x7ffc].map(m.u32), [2, 0x1234, KCODE32, 0x302 | 0x1_0000]);
  assert.equal(m.regs.rip, 0x10_4000n);
  assert.equal(m.regs.rflags, 0x2n);
  assert.equal(m.sregs.cs.db, 1);
  assert.equal(m.sregs.cs.l, 0);
});

test('32-bit: int 0x80 from ring 3 takes SS0:ESP0 from the 32-bit TSS and pushes the old SS:ESP', () => {
  const m = machine('protected');
  gate32(m, 0x80, { offset: 0x10_5000n, dpl: 3, type: 0xf });
  m.dv.setUint32(TSS + 4, 0x9000, true); // ESP0
  m.dv.setUint16(TSS + 8, KDATA, true); // SS0
  m.sregs = { ...m.sregs, cs: segmentOf(UCODE32), ss: segmentOf(UDATA) };
  m.regs = { ...m.regs, rsp: 0x70f8n, rip: 0x6002n, rflags: 0x202n };
  const r = deliver(m.cpu, { vector: 0x80, source: 'software' });
  assert.deepEqual(r, { kind: 'delivered', vector: 0x80 });
  assert.equal(m.regs.rsp, 0x8fecn);
  assert.deepEqual([0x8fec, 0x8ff0, 0x8ff4, 0x8ff8, 0x8ffc].map(m.u32), [0x6002, UCODE32, 0x202, 0x70f8, UDATA]);
  assert.equal(m.sregs.ss.selector, KDATA);
  assert.equal(m.sregs.ss.dpl, 0);
  assert.equal(m.sregs.cs.selector, KCODE32);
  assert.equal(m.regs.rflags, 0x202n, 'a trap gate keeps IF');
});

test('real mode: the IVT entry gives CS:IP; FLAGS, CS, IP pushed; IF, TF, AC cleared', () => {
  const m = machine('real');
  m.dv.setUint16(0x10 * 4, 0x5678, true);
  m.dv.setUint16(0x10 * 4 + 2, 0x1234, true);
  m.sregs = { ...m.sregs, cs: realSegment(0x0700), ss: realSegment(0x2000) };
  m.regs = { ...m.regs, rsp: 0x100n, rip: 0x0125n, rflags: 0x2n | IF | TF | AC };
  const r = deliver(m.cpu, { vector: 0x10, source: 'software' });
  assert.deepEqual(r, { kind: 'delivered', vector: 0x10 });
  assert.equal(m.regs.rsp, 0xfan);
  assert.deepEqual([0x200fa, 0x200fc, 0x200fe].map(m.u16), [0x0125, 0x0700, 0x0302]);
  assert.equal(m.regs.rip, 0x5678n);
  assert.equal(m.sregs.cs.selector, 0x1234);
  assert.equal(m.sregs.cs.base, 0x12340n);
  assert.equal(m.regs.rflags, 0x2n);
});

test('real mode: a vector beyond the IVT limit is #GP, then #DF, then shutdown', () => {
  const m = machine('real');
  m.sregs = { ...m.sregs, idt: { base: 0n, limit: 0x1f } }; // vectors 0-7 only
  const before = { ...m.regs };
  const r = deliver(m.cpu, { vector: 0x10, source: 'software' });
  assert.equal(r.kind, 'triple-fault');
  assert.match(r.kind === 'triple-fault' ? r.why : '', /#GP.*#DF/);
  assert.deepEqual(m.regs, before, 'the CPU state is left alone');
});

test('int n at CPL 3 through a DPL-0 gate raises #GP(vector*8+2) reported at the int instruction', () => {
  const m = machine('long');
  gate64(m, 0x81, { offset: 0x10_6000n, dpl: 0 });
  gate64(m, 13, { offset: 0x10_7000n });
  m.dv.setBigUint64(TSS + 4, 0x9000n, true);
  m.mem.set([0xcd, 0x81], 0x6000);
  m.sregs = { ...m.sregs, cs: segmentOf(UCODE64), ss: segmentOf(UDATA) };
  m.regs = { ...m.regs, rsp: 0x7000n, rip: 0x6002n };
  const r = deliver(m.cpu, { vector: 0x81, source: 'software' });
  assert.deepEqual(r, { kind: 'delivered', vector: 13 });
  assert.equal(m.regs.rip, 0x10_7000n);
  assert.deepEqual(frame64(m, m.regs.rsp, 3), [0x81n * 8n + 2n, 0x6000n, BigInt(UCODE64)]);
});

test('int3 at CPL 3 through a DPL-0 gate: the #GP points back one byte', () => {
  const m = machine('long');
  gate64(m, 3, { offset: 0x10_6000n, dpl: 0 });
  gate64(m, 13, { offset: 0x10_7000n });
  m.dv.setBigUint64(TSS + 4, 0x9000n, true);
  m.mem[0x6000] = 0xcc;
  m.sregs = { ...m.sregs, cs: segmentOf(UCODE64), ss: segmentOf(UDATA) };
  m.regs = { ...m.regs, rsp: 0x7000n, rip: 0x6001n };
  assert.deepEqual(deliver(m.cpu, { vector: 3, source: 'software' }), { kind: 'delivered', vector: 13 });
  assert.deepEqual(frame64(m, m.regs.rsp, 2), [0x1an, 0x6000n]);
});

test('a not-present gate after a benign exception delivers #NP(vector*8+3) instead', () => {
  const m = machine('long');
  gate64(m, 6, { offset: 0x10_6000n, present: false });
  gate64(m, 11, { offset: 0x10_8000n });
  const r = deliver(m.cpu, { vector: 6, source: 'exception' });
  assert.deepEqual(r, { kind: 'delivered', vector: 11 });
  assert.equal(m.u64(Number(m.regs.rsp)), 6n * 8n + 3n, 'IDT bit and EXT set');
});

test('a not-present gate for #GP escalates to #DF with error code 0', () => {
  const m = machine('long');
  gate64(m, 13, { offset: 0x10_6000n, present: false });
  gate64(m, 11, { offset: 0x10_8000n });
  gate64(m, 8, { offset: 0x10_9000n });
  const r = deliver(m.cpu, { vector: 13, source: 'exception', errorCode: 0 });
  assert.deepEqual(r, { kind: 'delivered', vector: 8, escalated: true });
  assert.equal(m.regs.rip, 0x10_9000n);
  assert.deepEqual(frame64(m, m.regs.rsp, 2), [0n, 0x5555n]);
});

test('a TSS too short for IST1 raises #TS(TR selector + EXT), which after #DE becomes #DF', () => {
  const m = machine('long');
  gate64(m, 0, { offset: 0x10_6000n, ist: 1 });
  gate64(m, 8, { offset: 0x10_9000n });
  m.sregs = { ...m.sregs, tr: { ...m.sregs.tr, limit: 0x2a } }; // IST1 needs 0x24..0x2b
  const r = deliver(m.cpu, { vector: 0, source: 'exception' });
  assert.deepEqual(r, { kind: 'delivered', vector: 8, escalated: true });
  assert.equal(m.u64(Number(m.regs.rsp)), 0n);
});

test('an external interrupt through a not-present gate gives #NP with EXT set', () => {
  const m = machine('long');
  gate64(m, 0x20, { offset: 0x10_6000n, present: false });
  gate64(m, 11, { offset: 0x10_8000n });
  assert.deepEqual(deliver(m.cpu, { vector: 0x20, source: 'interrupt' }), { kind: 'delivered', vector: 11 });
  assert.equal(m.u64(Number(m.regs.rsp)), 0x20n * 8n + 3n);
  assert.equal(m.u64(Number(m.regs.rsp) + 8), 0x5555n, 'an interrupt is reported at RIP as it was');
});

test('a fault while delivering #DF is a triple fault, and the state is left as it was', () => {
  const m = machine('long');
  gate64(m, 13, { offset: 0x10_6000n, present: false });
  const before = { ...m.regs };
  const r = deliver(m.cpu, { vector: 13, source: 'exception', errorCode: 0 });
  assert.equal(r.kind, 'triple-fault');
  assert.match(r.kind === 'triple-fault' ? r.why : '', /#NP\(0x6b\) while delivering #GP.*#GP\(0x43\) while delivering #DF/);
  assert.deepEqual(m.regs, before);
});

test('a gate of the wrong type is #GP; a task gate is reported as unsupported', () => {
  const m = machine('protected');
  gate32(m, 6, { offset: 0x10_6000n, type: 0xc }); // a call gate
  gate32(m, 13, { offset: 0x10_7000n });
  assert.deepEqual(deliver(m.cpu, { vector: 6, source: 'exception' }), { kind: 'delivered', vector: 13 });
  assert.equal(m.u32(Number(m.regs.rsp)), 6 * 8 + 3);
  gate32(m, 7, { offset: 0n, type: 0x5 });
  const r = deliver(m.cpu, { vector: 7, source: 'exception' });
  assert.equal(r.kind, 'triple-fault');
  assert.match(r.kind === 'triple-fault' ? r.why : '', /task gate/);
});

/** Long mode with 4-level paging: identity 4 KiB pages over the low 1 MiB except the pages in `holes`. */
function pagedMachine(holes: number[] = [], flags: (page: number) => bigint = () => PTE.P | PTE.RW | PTE.US) {
  const m = machine('long');
  let next = 0x10_0000;
  const tables = new TableBuilder('long4', { read: (a, l) => m.mem.slice(a, a + l), write: (a, d) => m.mem.set(d, a) }, () => (next += KIB4) - KIB4);
  for (let page = 0; page < 0x10_0000; page += KIB4) if (!holes.includes(page)) tables.map(BigInt(page), BigInt(page), KIB4, flags(page));
  m.sregs = { ...m.sregs, cr0: CR0_PE | CR0_PG | CR0_WP, cr3: tables.cr3, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA | EFER_NXE };
  return { m, tables };
}

test('paging: #PF on the RSP0 stack during int 0x80 recurs for #PF and becomes #DF on IST1, with CR2 at the first push', () => {
  const { m } = pagedMachine([0x8000]);
  gate64(m, 0x80, { offset: 0x10_2000n, dpl: 3 });
  gate64(m, 14, { offset: 0x10_3000n });
  gate64(m, 8, { offset: 0x10_4000n, ist: 1 });
  m.dv.setBigUint64(TSS + 4, 0x9000n, true);
  m.dv.setBigUint64(TSS + 0x24, 0xb000n, true);
  m.sregs = { ...m.sregs, cs: segmentOf(UCODE64), ss: segmentOf(UDATA) };
  m.regs = { ...m.regs, rsp: 0x70f8n, rip: 0x6002n };
  m.mem.set([0xcd, 0x80], 0x6000);
  const r = deliver(m.cpu, { vector: 0x80, source: 'software' });
  assert.deepEqual(r, { kind: 'delivered', vector: 8, escalated: true });
  assert.equal(m.sregs.cr2, 0x8ff8n, 'CR2 is the address of the first push (old SS)');
  assert.equal(m.regs.rsp, 0xb000n - 48n);
  // #DF's frame: error code 0, RIP back at the int (the int did not complete), user CS.
  assert.deepEqual(frame64(m, m.regs.rsp, 3), [0n, 0x6000n, BigInt(UCODE64)]);
});

test('paging: pageFaultErrorCode decodes the access and walks the tables', () => {
  const SUPERVISOR_ONLY = 0x5_0000;
  const READ_ONLY = 0x5_1000;
  const RESERVED = 0x5_2000;
  const UNMAPPED = 0x6_0000;
  const { m, tables } = pagedMachine([UNMAPPED, 0x6_1000], (page) =>
    page === SUPERVISOR_ONLY ? PTE.P | PTE.RW : page === READ_ONLY ? PTE.P | PTE.US : PTE.P | PTE.RW | PTE.US);
  tables.update(BigInt(RESERVED), 1, (e) => e | (1n << 45n));
  const code = 0x4000;
  const at = (bytes: number[], regs: Partial<Regs>, cpl: 0 | 3, rip = code) => {
    m.mem.set(bytes, rip);
    m.regs = { ...m.regs, rip: BigInt(rip), ...regs };
    m.sregs = { ...m.sregs, cs: segmentOf(cpl === 3 ? UCODE64 : KCODE64) };
  };
  const errorCode = (cr2: number, features = {}) => pageFaultErrorCode(m.cpu, BigInt(cr2), features);

  at([0x89, 0x18], { rax: BigInt(UNMAPPED) + 8n }, 0); // mov [rax], ebx
  assert.equal(errorCode(UNMAPPED + 8), 0x2, 'supervisor write, not present');
  at([0x8b, 0x18], { rax: BigInt(SUPERVISOR_ONLY) }, 3); // mov ebx, [rax]
  assert.equal(errorCode(SUPERVISOR_ONLY), 0x5, 'user read of a supervisor page');
  at([0x83, 0x00, 0x01], { rax: BigInt(READ_ONLY) + 4n }, 3); // add dword [rax], 1
  assert.equal(errorCode(READ_ONLY + 4), 0x7, 'user read-modify-write of a read-only page');
  at([0x50], { rsp: BigInt(UNMAPPED) + 0x10n }, 3); // push rax
  assert.equal(errorCode(UNMAPPED + 8), 0x6, 'user push onto an unmapped stack');
  at([0x8b, 0x18], { rax: BigInt(RESERVED) }, 0);
  assert.equal(errorCode(RESERVED, { maxPhysAddr: 40 }), 0x9, 'reserved bit set in the PTE');
  // mov rax, imm64 starting 2 bytes before the unmapped page: the fetch faults on its second page.
  at([0x48, 0xb8], {}, 0, UNMAPPED - 2);
  assert.equal(errorCode(UNMAPPED), 0x10, 'instruction fetch');
  m.regs = { ...m.regs, rip: BigInt(UNMAPPED) };
  assert.equal(errorCode(UNMAPPED), 0x10, 'fetch at an unmapped RIP');
  m.sregs = { ...m.sregs, efer: EFER_LME | EFER_LMA };
  assert.equal(errorCode(UNMAPPED), 0x0, 'without EFER.NXE (or SMEP) I/D reads 0');
});
