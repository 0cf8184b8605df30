// target.xml and the 'g' packet agree: decoding 'g' with the sizes and
// order target.xml declares gives back each register's own value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPR_NAMES, SEGMENT_NAMES, type Regs, type Segment, type Sregs } from '../vmm/registers';
import { encodeRegister, encodeRegisters, registerValues, targetXml } from './target';

function segment(selector: number, base: bigint): Segment {
  return { base, limit: 0xffff, selector, type: 3, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0 };
}

/** Distinct values everywhere, so that a register read from the wrong place shows. */
function sample(): { regs: Regs; sregs: Sregs } {
  const regs = Object.fromEntries(GPR_NAMES.map((n, i) => [n, 0x0801_0000_0000_0000n * BigInt(i + 1) + BigInt(i)])) as Regs;
  regs.rflags = 0x246n;
  const segs = Object.fromEntries(SEGMENT_NAMES.map((n, i) => [n, segment(0x08 * (i + 1), 0x1000n * BigInt(i + 1))]));
  const sregs = { ...segs, gdt: { base: 0n, limit: 0 }, idt: { base: 0n, limit: 0 }, cr0: 0n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0n, interruptBitmap: [0n, 0n, 0n, 0n] } as Sregs;
  sregs.fs.base = 0x7fff_1234_5000n;
  sregs.gs.base = 0xffff_8880_0000_0000n;
  return { regs, sregs };
}

function declared(xml: string): Array<{ name: string; bits: number; feature: string }> {
  const out: Array<{ name: string; bits: number; feature: string }> = [];
  let feature = '';
  for (const m of xml.matchAll(/<feature name="([^"]+)">|<reg name="([^"]+)" bitsize="(\d+)"/g)) {
    if (m[1]) feature = m[1];
    else out.push({ name: m[2]!, bits: Number(m[3]), feature });
  }
  return out;
}

function littleEndian(hex: string): bigint {
  return BigInt('0x' + (hex.match(/../g) ?? []).reverse().join(''));
}

test('target.xml declares the amd64 core and the segment bases', () => {
  const regs = declared(targetXml());
  const core = regs.filter((r) => r.feature === 'org.gnu.gdb.i386.core').map((r) => r.name);
  // gdb's amd64 core numbering: 16 general registers, rip, eflags, 6 selectors, then the x87 registers.
  assert.deepEqual(core.slice(0, 24), ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']);
  assert.equal(core.length, 40);
  assert.deepEqual(regs.filter((r) => r.feature === 'org.gnu.gdb.i386.segments').map((r) => r.name), ['fs_base', 'gs_base']);
});

test('the g packet encodes the registers in the order and sizes target.xml declares', () => {
  const { regs, sregs } = sample();
  const g = encodeRegisters(registerValues({ regs, sregs }));
  const layout = declared(targetXml());
  let at = 0;
  const got = new Map<string, bigint>();
  for (const r of layout) {
    const width = r.bits / 4;
    got.set(r.name, littleEndian(g.slice(at, at + width)));
    at += width;
  }
  assert.equal(at, g.length, 'g has exactly the declared bytes');
  for (const n of GPR_NAMES) assert.equal(got.get(n === 'rflags' ? 'eflags' : n), n === 'rflags' ? regs.rflags : regs[n], n);
  for (const n of ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const) assert.equal(got.get(n), BigInt(sregs[n].selector), n);
  assert.equal(got.get('fs_base'), sregs.fs.base);
  assert.equal(got.get('gs_base'), sregs.gs.base);
});

test('p gives one register at its declared size', () => {
  const { regs, sregs } = sample();
  const values = registerValues({ regs, sregs });
  const rip = declared(targetXml()).findIndex((r) => r.name === 'rip');
  assert.equal(littleEndian(encodeRegister(rip, values[rip]!)), regs.rip);
  const st0 = declared(targetXml()).findIndex((r) => r.name === 'st0');
  assert.equal(encodeRegister(st0, values[st0]!).length, 20);
});
