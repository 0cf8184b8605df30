import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeMemory } from './fake-memory';
import { encodeDescriptor, GDT_ENTRIES, initialState, CR0_PE, CR0_PG, EFER_LMA, EFER_LME, CR4_PAE } from './cpu-state';
import { BootArea, Selector } from './layout';
import type { Segment, Sregs } from '../registers';


const seg = (): Segment => ({ base: 0xffff0000n, limit: 0xffff, selector: 0xf000, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0 });
const resetSregs = (): Sregs => ({
  cs: seg(), ds: seg(), es: seg(), fs: seg(), gs: seg(), ss: seg(), tr: seg(), ldt: seg(),
  gdt: { base: 0n, limit: 0xffff }, idt: { base: 0n, limit: 0xffff },
  cr0: 0x60000010n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0xfee00900n,
  interruptBitmap: [0n, 0n, 0n, 0n],
});

test('GDT descriptors encode to the well-known flat values', () => {
  const bySel = new Map(GDT_ENTRIES);
  assert.equal(encodeDescriptor(bySel.get(Selector.code64)!), 0x00af9b000000ffffn);
  assert.equal(encodeDescriptor(bySel.get(Selector.data)!), 0x00cf93000000ffffn);
  assert.equal(encodeDescriptor(bySel.get(Selector.code32)!), 0x00cf9b000000ffffn);
});

test('descriptor encoding splits base and limit across their fields', () => {
  const d = encodeDescriptor({ base: 0x12345678, limit: 0xabcde, type: 0x9, s: 0, dpl: 3, present: 1, avl: 1, l: 0, db: 0, g: 0 });
  assert.equal(d & 0xffffn, 0xbcden);
  assert.equal((d >> 16n) & 0xffffffn, 0x345678n);
  assert.equal((d >> 56n) & 0xffn, 0x12n);
  assert.equal((d >> 48n) & 0xfn, 0xan);
  assert.equal((d >> 40n) & 0xffn, 0xe9n); // P=1 DPL=3 S=0 type=9
});

test('long mode: 64-bit CS, paging and EFER.LMA, GDT and page tables in memory', () => {
  const mem = fakeMemory(0x10000);
  const { regs, sregs } = initialState('long', 0x100000n, resetSregs(), mem);
  assert.equal(regs.rip, 0x100000n);
  assert.equal(regs.rsp, BigInt(BootArea.stackTop));
  assert.equal(regs.rflags, 2n);
  assert.equal(sregs.cs.selector, Selector.code64);
  assert.equal(sregs.cs.l, 1);
  assert.equal(sregs.cs.db, 0);
  assert.equal(sregs.ss.selector, Selector.data);
  assert.ok(sregs.cr0 & CR0_PE && sregs.cr0 & CR0_PG);
  assert.ok(sregs.cr4 & CR4_PAE);
  assert.equal(sregs.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
  assert.equal(sregs.cr3, BigInt(BootArea.pml4));
  assert.equal(sregs.gdt.base, BigInt(BootArea.gdt));
  assert.equal(mem.readU64(BootArea.gdt + Selector.code64), 0x00af9b000000ffffn);
  assert.equal(sregs.tr.type, 0xb, 'TR must hold a busy 64-bit TSS');
});

test('protected mode: 32-bit flat CS, no paging, no long mode', () => {
  const mem = fakeMemory(0x10000);
  const { regs, sregs } = initialState('protected', 0x100000n, resetSregs(), mem);
  assert.equal(regs.rip, 0x100000n);
  assert.equal(sregs.cs.selector, Selector.code32);
  assert.equal(sregs.cs.db, 1);
  assert.equal(sregs.cs.l, 0);
  assert.equal(sregs.cs.limit, 0xffffffff);
  assert.equal(sregs.cr0 & CR0_PG, 0n);
  assert.equal(sregs.cr0 & CR0_PE, CR0_PE);
  assert.equal(sregs.efer, 0n);
});

test('real mode: CS:IP reaches the entry, segments based at 0', () => {
  const mem = fakeMemory(0x10000);
  const low = initialState('real', 0x7c00n, resetSregs(), mem);
  assert.equal(low.sregs.cs.selector, 0);
  assert.equal(low.sregs.cs.base, 0n);
  assert.equal(low.regs.rip, 0x7c00n);
  const high = initialState('real', 0x9a000n, resetSregs(), mem);
  assert.equal(high.sregs.cs.base + high.regs.rip, 0x9a000n);
  assert.ok(high.regs.rip < 0x10000n);
  assert.equal(high.sregs.cs.base, BigInt(high.sregs.cs.selector) << 4n);
  assert.equal(high.sregs.cr0 & CR0_PE, 0n);
  assert.throws(() => initialState('real', 0x100000n, resetSregs(), mem), /above 1 MiB/);
});

test('reset: CS 0xf000 with base 0xffff0000 and IP 0xfff0, CR0 0x60000010, the signature in EDX', () => {
  const mem = fakeMemory(0x10000);
  const { regs, sregs } = initialState('reset', 0xfffffff0n, resetSregs(), mem);
  assert.equal(sregs.cs.selector, 0xf000);
  assert.equal(sregs.cs.base, 0xffff0000n);
  assert.equal(sregs.cs.limit, 0xffff);
  assert.equal(regs.rip, 0xfff0n);
  assert.equal(sregs.cs.base + regs.rip, 0xfffffff0n);
  assert.equal(sregs.cr0, 0x60000010n);
  assert.equal(sregs.efer, 0n);
  assert.notEqual(regs.rdx, 0n);
  assert.equal(regs.rflags, 2n);
  assert.throws(() => initialState('reset', 0x100000n, resetSregs(), mem), /fetches at 0xfffffff0/);
});

test("Linux's GDT: long mode with CS __BOOT_CS 0x10 (64-bit code) and data __BOOT_DS 0x18, in guest memory", () => {
  const mem = fakeMemory(0x10000);
  const { sregs } = initialState('long', 0x1000200n, resetSregs(), mem, 'linux');
  assert.equal(sregs.cs.selector, 0x10);
  assert.equal(sregs.cs.l, 1);
  for (const s of [sregs.ds, sregs.es, sregs.ss]) assert.equal(s.selector, 0x18);
  assert.equal(mem.readU64(BootArea.gdt + 0x10), 0x00af9b000000ffffn);
  assert.equal(mem.readU64(BootArea.gdt + 0x18), 0x00cf93000000ffffn);
  assert.equal(sregs.tr.selector, Selector.tss, 'the TSS keeps its slot');
  assert.throws(() => initialState('protected', 0x100000n, resetSregs(), mem, 'linux'), /64-bit entry/);
});
