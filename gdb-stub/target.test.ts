// target.xml and the 'g' packet agree: decoding 'g' with the sizes and
// order target.xml declares gives back each register's own value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPR_NAMES, SEGMENT_NAMES, type Regs, type Segment, type Sregs } from '../vmm/registers';
import { archForMode, encodeRegister, encodeRegisters, registersOf, registerValues, splitRegisters, targetXml, writeRegisters, type TargetLayout } from './target';

function segment(selector: number, base: bigint): Segment {
  return { base, limit: 0xffff, selector, type: 3, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0 };
}

/** Distinct values everywhere, so that a register read from the wrong place shows. */
function sample(): { regs: Regs; sregs: Sregs } {
  const regs = Object.fromEntries(GPR_NAMES.map((n, i) => [n, 0x0801_0000_0000_0000n * BigInt(i + 1) + BigInt(i)])) as Regs;
  regs.rflags = 0x246n;
  const segs = Object.fromEntries(SEGMENT_NAMES.map((n, i) => [n, segment(0x08 * (i + 1), 0x1000n * BigInt(i + 1))]));
  const sregs = { ...segs, gdt: { base: 0x5000n, limit: 0x2f }, idt: { base: 0x6000n, limit: 0xfff }, cr0: 0x80050033n, cr2: 0x1234n, cr3: 0x9000n, cr4: 0x6a0n, cr8: 0n, efer: 0xd01n, apicBase: 0n, interruptBitmap: [0n, 0n, 0n, 0n] } as Sregs;
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
  assert.equal(got.get('cr3'), sregs.cr3);
  assert.equal(got.get('efer'), sregs.efer);
  assert.equal(got.get('gdtr_base'), sregs.gdt.base);
  assert.equal(got.get('idtr_limit'), BigInt(sregs.idt.limit));
  assert.equal(got.get('tr'), BigInt(sregs.tr.selector));
  assert.equal(got.get('cs_base'), sregs.cs.base);
});

test('p gives one register at its declared size', () => {
  const { regs, sregs } = sample();
  const values = registerValues({ regs, sregs });
  const rip = declared(targetXml()).findIndex((r) => r.name === 'rip');
  assert.equal(littleEndian(encodeRegister(rip, values[rip]!)), regs.rip);
  const st0 = declared(targetXml()).findIndex((r) => r.name === 'st0');
  assert.equal(encodeRegister(st0, values[st0]!).length, 20);
});

/** The g packet decoded with a layout's own sizes, by register name. */
function decodeG(layout: TargetLayout, g: string): Map<string, string> {
  const fields = splitRegisters(layout, g);
  assert.ok(fields, 'g has exactly the declared bytes');
  return new Map(fields.map((f) => [registersOf(layout)[f.index]!.name, f.hex]));
}

function realMode(): { regs: Regs; sregs: Sregs } {
  const { regs, sregs } = sample();
  sregs.cr0 = 0x10n;
  sregs.efer = 0n;
  sregs.cs = segment(0xf000, 0xffff0000n);
  regs.rip = 0xfff0n;
  regs.rax = 0xdead_beef_1234_5678n;
  return { regs, sregs };
}

test('the i386 layout follows gdb\'s 32-bit core (eax, ecx, edx, ebx, ...) and shows eip as CS.base + IP', () => {
  const xml = targetXml('i8086');
  assert.match(xml, /<architecture>i8086<\/architecture>/);
  assert.match(xml, /<osabi>none<\/osabi>/);
  const regs = declared(xml);
  assert.deepEqual(regs.slice(0, 16).map((r) => r.name), ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']);
  assert.ok(regs.slice(0, 10).every((r) => r.bits === 32));
  assert.deepEqual(regs.filter((r) => r.feature === 'org.gnu.gdb.i386.segments').map((r) => [r.name, r.bits]), [['fs_base', 32], ['gs_base', 32]]);
  // No pointer types in the system feature: under i386 gdb would size them at 4 bytes, against the 8 sent.
  assert.doesNotMatch(xml.slice(xml.indexOf('org.vmscope.x86.system')), /data_ptr|code_ptr/);
  const src = realMode();
  const got = decodeG('i386', encodeRegisters(registerValues(src, 'i386'), 'i386'));
  assert.equal(got.get('eip'), 'f0ffffff');
  assert.equal(got.get('eax'), '78563412');
  assert.equal(got.get('cs'), '00f00000');
});

test('archForMode: 16-bit code is i8086, 32-bit protected mode i386, long mode (compatibility mode too) x86-64', () => {
  const { sregs } = realMode();
  assert.equal(archForMode(sregs, 0x2n), 'i8086');
  const prot = { ...sregs, cr0: 0x11n, cs: { ...segment(0x08, 0n), db: 1 } };
  assert.equal(archForMode(prot, 0x2n), 'i386');
  assert.equal(archForMode({ ...prot, cs: segment(0x08, 0n) }, 0x2n), 'i8086', 'a 16-bit code segment');
  assert.equal(archForMode(prot, 0x2n | (1n << 17n)), 'i8086', 'virtual-8086 mode');
  assert.equal(archForMode({ ...prot, cr0: 0x80000011n, efer: 0x500n, cs: { ...segment(0x08, 0n), db: 1 } }, 0x2n), 'i386:x86-64', 'compatibility mode');
});

test('G and P write only what changed; eip moves IP by CS.base; selectors change only in real mode; x87 is read-only', () => {
  const src = realMode();
  const g = encodeRegisters(registerValues(src, 'i386'), 'i386');
  // gdb's 'G' after `set $eax = 1`: every register, one changed.
  const fields = splitRegisters('i386', g)!;
  const eax = registersOf('i386').findIndex((r) => r.name === 'eax');
  fields[eax]!.hex = '01000000';
  const written = writeRegisters('i386', src, fields);
  assert.ok(!('error' in written));
  assert.equal(written.regs.rax, 0xdead_beef_0000_0001n, 'the upper half the i386 layout cannot show stays');
  assert.deepEqual({ ...written.regs, rax: 0n }, { ...src.regs, rax: 0n });
  assert.notEqual(written.regs, src.regs, 'copies, not the caller\'s registers');

  const eip = registersOf('i386').findIndex((r) => r.name === 'eip');
  const jumped = writeRegisters('i386', src, [{ index: eip, hex: '00ff0f00' }]);
  assert.ok(!('error' in jumped));
  assert.equal(jumped.regs.rip, (0xfff00n - 0xffff0000n) & 0xffffffffn);

  const ds = registersOf('i386').findIndex((r) => r.name === 'ds');
  const moved = writeRegisters('i386', src, [{ index: ds, hex: '00070000' }]);
  assert.ok(!('error' in moved));
  assert.deepEqual([moved.sregs.ds.selector, moved.sregs.ds.base], [0x700, 0x7000n]);
  const prot = { ...src, sregs: { ...src.sregs, cr0: 0x11n } };
  assert.deepEqual(writeRegisters('i386', prot, [{ index: ds, hex: '00070000' }]), { error: 'ds can be changed only in real mode' });

  const cr3 = registersOf('x86-64').findIndex((r) => r.name === 'cr3');
  const paged = writeRegisters('x86-64', sample(), [{ index: cr3, hex: '00a0000000000000' }]);
  assert.ok(!('error' in paged));
  assert.equal(paged.sregs.cr3, 0xa000n);

  const st0 = registersOf('x86-64').findIndex((r) => r.name === 'st0');
  assert.deepEqual(writeRegisters('x86-64', sample(), [{ index: st0, hex: '01'.repeat(10) }]), { error: 'st0 is read-only through gdb' });
  assert.ok('error' in writeRegisters('x86-64', sample(), [{ index: cr3, hex: '00a0' }]), 'a short value');
  assert.equal(splitRegisters('x86-64', '00'), undefined);
});
