// Unit tests of the page walker: page tables for every mode built in a fake
// guest-physical memory (a byte array), checked level by level.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pagingModeOf, translate, walk, type Access, type PagingContext, type WalkResult } from './walk';
import { physReader } from './phys';
import { GIB1, KIB4, MIB2, MIB4, PTE, TableBuilder, type TableMode } from './tables';
import { gva as toGva } from '../../common/address';

const CR0_PE = 1n;
const CR0_WP = 1n << 16n;
const CR0_PG = 1n << 31n;
const CR4_PSE = 1n << 4n;
const CR4_PAE = 1n << 5n;
const CR4_LA57 = 1n << 12n;
const CR4_SMEP = 1n << 20n;
const CR4_SMAP = 1n << 21n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const EFER_NXE = 1n << 11n;

const MEM_SIZE = 16 * 1024 * 1024;

/** A fake guest-physical memory at GPA 0 with a page allocator from 1 MiB up. */
function fakeMachine(mode: TableMode, opts: { pdptOffset?: number } = {}) {
  const bytes = new Uint8Array(MEM_SIZE);
  let next = 0x10_0000;
  const mem = {
    read: (a: number, len: number) => bytes.slice(a, a + len),
    write: (a: number, data: Uint8Array) => bytes.set(data, a),
  };
  const tables = new TableBuilder(mode, mem, () => (next += KIB4) - KIB4, opts.pdptOffset ?? 0);
  const reads: bigint[] = [];
  // `fast` has physReader's u32 path; `read`, a plain function, makes the walker use bigint reads.
  const fast = physReader({ regions: [{ gpa: 0, bytes }] });
  const read = (a: bigint, size: 4 | 8) => {
    reads.push(a);
    return fast(a, size);
  };
  return { bytes, tables, read, fast, reads };
}

function ctxFor(mode: TableMode | 'none', cr3: bigint, extra: Partial<PagingContext> = {}): PagingContext {
  const paged = CR0_PE | CR0_PG | CR0_WP;
  const base: Record<TableMode | 'none', PagingContext> = {
    none: { cr0: CR0_PE, cr3, cr4: 0n, efer: 0n },
    legacy32: { cr0: paged, cr3, cr4: CR4_PSE, efer: 0n },
    pae: { cr0: paged, cr3, cr4: CR4_PAE, efer: EFER_NXE },
    long4: { cr0: paged, cr3, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA | EFER_NXE },
    long5: { cr0: paged, cr3, cr4: CR4_PAE | CR4_LA57, efer: EFER_LME | EFER_LMA | EFER_NXE },
  };
  return { ...base[mode], ...extra };
}

/** The compact shape of a walk, for deepEqual. */
function shape(r: WalkResult) {
  return r.levels.map((l) => [l.name, l.index, l.leaf, l.pageSize]);
}

function checkChain(r: WalkResult, cr3Table: bigint, entrySize: number) {
  // Each level's table is where the previous entry pointed.
  let table = cr3Table;
  for (const l of r.levels) {
    assert.equal(BigInt(l.tableGpa), table, `${l.name} table`);
    assert.equal(l.entryGpa, l.tableGpa + l.index * entrySize, `${l.name} entry address`);
    table = l.entry & (entrySize === 4 ? 0xffff_f000n : 0x000f_ffff_ffff_f000n);
  }
}

test('pagingModeOf follows CR0.PG, EFER.LMA, CR4.PAE and CR4.LA57', () => {
  const c = (cr0: bigint, cr4: bigint, efer: bigint) => pagingModeOf({ cr0, cr3: 0n, cr4, efer });
  assert.equal(c(CR0_PE, CR4_PAE | CR4_LA57, EFER_LME), 'none');
  assert.equal(c(CR0_PE | CR0_PG, 0n, 0n), 'legacy32');
  assert.equal(c(CR0_PE | CR0_PG, CR4_PSE, 0n), 'legacy32');
  assert.equal(c(CR0_PE | CR0_PG, CR4_PAE, EFER_LME), 'pae', 'LME without LMA is not long mode yet');
  assert.equal(c(CR0_PE | CR0_PG, CR4_PAE, EFER_LME | EFER_LMA), 'long4');
  assert.equal(c(CR0_PE | CR0_PG, CR4_PAE | CR4_LA57, EFER_LME | EFER_LMA), 'long5');
  assert.equal(c(CR0_PE | CR0_PG, CR4_LA57, 0n), 'legacy32', 'LA57 means nothing outside long mode');
});

test('no paging: the address is physical, 32 bits wide, no levels', () => {
  const { read, reads } = fakeMachine('long4');
  const ctx = ctxFor('none', 0n);
  const r = walk(toGva(0x12345678n), ctx, read, { write: true, user: true, execute: true });
  assert.equal(r.mode, 'none');
  assert.deepEqual(r.levels, []);
  assert.equal(r.gpa, 0x12345678);
  assert.equal(r.fault, undefined);
  assert.deepEqual(r.effective, { write: true, user: true, execute: true });
  assert.equal(translate(toGva(0x1_0000_1000n), ctx, read), 0x1000);
  assert.equal(reads.length, 0, 'no memory read');
});

test('long4, 4 KiB page: four levels, indexes, entries, chain and offset', () => {
  const { tables, read } = fakeMachine('long4');
  const gva = 0x0000_7f12_3456_7abcn;
  tables.map(gva & ~0xfffn, 0x23_4000n, KIB4, PTE.P | PTE.RW | PTE.US | PTE.A | PTE.D | PTE.G | PTE.PS /* PAT in a PTE */);
  const r = walk(toGva(gva), ctxFor('long4', tables.cr3), read);
  assert.equal(r.mode, 'long4');
  assert.deepEqual(shape(r), [
    ['PML4', 0xfe, false, undefined],
    ['PDPT', 0x48, false, undefined],
    ['PD', 0x1a2, false, undefined],
    ['PT', 0x167, true, KIB4],
  ]);
  assert.deepEqual(r.levels.map((l) => l.level), [4, 3, 2, 1]);
  checkChain(r, tables.cr3, 8);
  for (const l of r.levels) assert.equal(l.entry, tables.readEntry(Number(l.entryGpa)), `${l.name} raw entry`);
  assert.equal(r.gpa, 0x23_4abc);
  assert.equal(r.pageSize, KIB4);
  assert.equal(r.fault, undefined);
  const pt = r.levels[3]!.flags;
  assert.deepEqual(pt, { present: true, write: true, user: true, pwt: false, pcd: false, accessed: true, nx: false, dirty: true, global: true, pat: true });
  const pd = r.levels[2]!.flags;
  assert.deepEqual(pd, { present: true, write: true, user: true, pwt: false, pcd: false, accessed: false, nx: false, pageSize: false });
  assert.equal(translate(toGva(gva), ctxFor('long4', tables.cr3), read), 0x23_4abc);
});

test('long4: a high-half address (0xffffffff80000000) maps to a low GPA', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0xffff_ffff_8000_0000n, 0x20_0000n, KIB4);
  const r = walk(toGva(0xffff_ffff_8000_0123n), ctxFor('long4', tables.cr3), read);
  assert.deepEqual(r.levels.map((l) => l.index), [511, 510, 0, 0]);
  assert.equal(r.gpa, 0x20_0123);
});

test('long4: 2 MiB and 1 GiB pages stop the walk at PD and PDPT', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x4000_0000n, 0x60_0000n, MIB2, PTE.P | PTE.RW | PTE.PAT_LARGE);
  tables.map(0x80_0000_0000n, 0x1_4000_0000n, GIB1);
  const ctx = ctxFor('long4', tables.cr3);
  const two = walk(toGva(0x4012_3456n), ctx, read);
  assert.deepEqual(shape(two), [['PML4', 0, false, undefined], ['PDPT', 1, false, undefined], ['PD', 0, true, MIB2]]);
  assert.equal(two.gpa, 0x60_0000 + 0x12_3456);
  assert.equal(two.pageSize, MIB2);
  assert.equal(two.levels[2]!.flags.pageSize, true);
  assert.equal(two.levels[2]!.flags.pat, true, 'PAT is bit 12 in a large page');
  const one = walk(toGva(0x80_2345_6789n), ctx, read);
  assert.deepEqual(shape(one), [['PML4', 1, false, undefined], ['PDPT', 0, true, GIB1]]);
  assert.equal(one.gpa, 0x1_4000_0000 + 0x2345_6789);
  assert.equal(one.pageSize, GIB1);
  assert.equal(one.levels[1]!.flags.pat, false);
  assert.equal(translate(toGva(0x80_2345_6789n), ctx, read), 0x1_6345_6789);
  assert.equal(translate(toGva(0x4012_3456n), ctx, read), 0x72_3456);
});

test('long4: physical addresses above 4 GiB survive the arithmetic', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x1000n, 0x000f_ffff_ffff_f000n, KIB4);
  tables.map(0x20_0000n, 0x000f_ffff_ffe0_0000n, MIB2);
  const ctx = ctxFor('long4', tables.cr3);
  assert.equal(walk(toGva(0x1fffn), ctx, read).gpa, 0x000f_ffff_ffff_ffff);
  assert.equal(translate(toGva(0x3f_ffffn), ctx, read), 0x000f_ffff_ffff_ffff);
});

test('long5: five levels, PML5 indexed by bits 56:48, 57-bit canonical', () => {
  const { tables, read } = fakeMachine('long5');
  const gva = 0xff12_3456_789a_b000n; // bits 63:57 copy bit 56 (1)
  tables.map(gva, 0x5000n, KIB4);
  tables.map(0x0080_0000_0000_0000n, 0x6000n, KIB4); // bit 55: canonical with 57 bits, not 48
  const ctx = ctxFor('long5', tables.cr3);
  const r = walk(toGva(gva + 0x10n), ctx, read);
  assert.equal(r.mode, 'long5');
  assert.deepEqual(shape(r), [
    ['PML5', 0x112, false, undefined],
    ['PML4', 0x68, false, undefined],
    ['PDPT', 0x159, false, undefined],
    ['PD', 0x1c4, false, undefined],
    ['PT', 0x1ab, true, KIB4],
  ]);
  checkChain(r, tables.cr3, 8);
  assert.equal(r.gpa, 0x5010);
  assert.equal(walk(toGva(0x0080_0000_0000_0004n), ctx, read).gpa, 0x6004);
  assert.deepEqual(walk(toGva(0x0100_0000_0000_0000n), ctx, read).fault, { kind: 'non-canonical' });
  assert.deepEqual(walk(toGva(0x0080_0000_0000_0000n), ctxFor('long4', tables.cr3), read).fault, { kind: 'non-canonical' });
});

test('PAE: PDPTE from CR3 bits 31:5, then PD and PT; 2 MiB pages', () => {
  const { tables, read } = fakeMachine('pae', { pdptOffset: 0x60 });
  assert.equal(tables.cr3 & 0xfffn, 0x60n);
  tables.map(0xc012_3000n, 0x45_6000n, KIB4, PTE.P | PTE.US);
  tables.map(0x4060_0000n, 0x80_0000n, MIB2, PTE.P | PTE.RW | PTE.NX);
  const ctx = ctxFor('pae', tables.cr3);
  const r = walk(toGva(0xc012_3456n), ctx, read);
  assert.equal(r.mode, 'pae');
  assert.deepEqual(shape(r), [['PDPTE', 3, false, undefined], ['PD', 0, false, undefined], ['PT', 0x123, true, KIB4]]);
  assert.deepEqual(r.levels.map((l) => l.level), [3, 2, 1]);
  checkChain(r, tables.cr3, 8);
  assert.equal(r.levels[0]!.entry & 0x1e6n, 0n, 'the builder leaves PDPTE reserved bits clear');
  assert.deepEqual(r.levels[0]!.flags, { present: true, write: true, user: true, pwt: false, pcd: false, accessed: false });
  assert.equal(r.gpa, 0x45_6456);
  assert.deepEqual(r.effective, { write: false, user: true, execute: true }, 'supervisor with CR0.WP=1, RW=0 at the PT');
  assert.equal(walk(toGva(0xc012_3456n), { ...ctx, cr0: CR0_PE | CR0_PG }, read).effective.write, true, 'CR0.WP=0');
  const w = walk(toGva(0xc012_3456n), ctx, read, { user: true });
  assert.deepEqual(w.effective, { write: false, user: true, execute: true });
  const big = walk(toGva(0x406f_ffffn), ctx, read);
  assert.deepEqual(shape(big), [['PDPTE', 1, false, undefined], ['PD', 3, true, MIB2]]);
  assert.equal(big.gpa, 0x8f_ffff);
  assert.equal(big.effective.execute, false);
  assert.equal(translate(toGva(0x406f_ffffn), ctx, read), 0x8f_ffff);
});

test('legacy32: 4 KiB pages through u32 entries, 4 MiB pages with CR4.PSE and PSE-36', () => {
  const { tables, read } = fakeMachine('legacy32');
  tables.map(0x8040_1000n, 0x12_3000n, KIB4, PTE.P | PTE.RW | PTE.US | PTE.PS /* PAT */);
  tables.map(0xc040_0000n, 0x80_0000n, MIB4, PTE.P | PTE.RW | PTE.G);
  tables.map(0x0400_0000n, 0x3_8040_0000n, MIB4);
  const ctx = ctxFor('legacy32', tables.cr3);
  const r = walk(toGva(0x8040_1234n), ctx, read);
  assert.equal(r.mode, 'legacy32');
  assert.deepEqual(shape(r), [['PD', 0x201, false, undefined], ['PT', 1, true, KIB4]]);
  checkChain(r, tables.cr3, 4);
  assert.ok(r.levels.every((l) => l.entry <= 0xffff_ffffn), 'u32 entries');
  assert.equal(r.levels[1]!.entryGpa - r.levels[1]!.tableGpa, 4, 'entries are 4 bytes');
  assert.equal(r.levels[1]!.flags.nx, undefined, 'no NX in 32-bit paging');
  assert.equal(r.levels[1]!.flags.pat, true);
  assert.equal(r.gpa, 0x12_3234);
  const big = walk(toGva(0xc07f_ffffn), ctx, read);
  assert.deepEqual(shape(big), [['PD', 0x301, true, MIB4]]);
  assert.equal(big.gpa, 0xbf_ffff);
  assert.equal(big.levels[0]!.flags.global, true);
  assert.equal(walk(toGva(0x0400_0010n), ctx, read).gpa, 0x3_8040_0010, 'PSE-36 supplies bits 39:32');
  assert.equal(translate(toGva(0x0400_0010n), ctx, read), 0x3_8040_0010);
  // Without CR4.PSE the PS bit is ignored: the PDE points at a page table.
  const noPse = walk(toGva(0xc040_0000n), { ...ctx, cr4: 0n }, read);
  assert.equal(noPse.levels[0]!.leaf, false);
  assert.equal(noPse.levels.length, 2);
  assert.equal(noPse.levels[1]!.tableGpa, 0x80_0000);
});

test('not-present: the walk names the level whose entry is missing', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x40_0000n, 0x1000n, KIB4);
  const ctx = ctxFor('long4', tables.cr3);
  const cases: Array<[bigint, number, string]> = [
    [0x80_0000_0000n, 4, 'PML4'],
    [0x4000_0000n, 3, 'PDPT'],
    [0x60_0000n, 2, 'PD'],
    [0x40_1000n, 1, 'PT'],
  ];
  for (const [gva, level, name] of cases) {
    const r = walk(toGva(gva), ctx, read);
    assert.deepEqual(r.fault, { kind: 'not-present', level, name }, `0x${gva.toString(16)}`);
    assert.equal(r.gpa, undefined);
    assert.equal(r.levels.length, 5 - level, 'levels down to the missing one');
    assert.equal(r.levels.at(-1)!.flags.present, false);
    assert.deepEqual(r.effective, { write: false, user: false, execute: false });
    assert.equal(translate(toGva(gva), ctx, read), undefined);
  }
  const pae = fakeMachine('pae');
  pae.tables.map(0x1000n, 0x1000n, KIB4);
  assert.deepEqual(walk(toGva(0x8000_0000n), ctxFor('pae', pae.tables.cr3), pae.read).fault, { kind: 'not-present', level: 3, name: 'PDPTE' });
  const leg = fakeMachine('legacy32');
  leg.tables.map(0x1000n, 0x1000n, KIB4);
  assert.deepEqual(walk(toGva(0x2000n), ctxFor('legacy32', leg.tables.cr3), leg.read).fault, { kind: 'not-present', level: 1, name: 'PT' });
});

test('reserved bits: address bits above MAXPHYADDR, NX without EFER.NXE, PS where it cannot be, large-page holes', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x1000n, 0x1000n, KIB4);
  tables.map(0x20_0000n, 0x20_0000n, MIB2);
  tables.map(0x4000_0000n, 0x4000_0000n, GIB1);
  const ctx = ctxFor('long4', tables.cr3);
  const rsvd = (gva: bigint, c: PagingContext = ctx) => walk(toGva(gva), c, read).fault;

  tables.update(0x1000n, 1, (e) => e | (1n << 51n));
  assert.deepEqual(rsvd(0x1000n, { ...ctx, maxPhysAddr: 48 }), { kind: 'reserved-bit', level: 1, name: 'PT', bits: 1n << 51n });
  assert.equal(translate(toGva(0x1000n), { ...ctx, maxPhysAddr: 48 }, read), undefined);
  assert.equal(rsvd(0x1000n), undefined, 'bit 51 is an address bit when MAXPHYADDR is 52');
  tables.update(0x1000n, 1, (e) => e & ~(1n << 51n));

  tables.update(0x1000n, 3, (e) => e | PTE.NX);
  assert.equal(rsvd(0x1000n), undefined);
  assert.deepEqual(rsvd(0x1000n, { ...ctx, efer: EFER_LME | EFER_LMA }), { kind: 'reserved-bit', level: 3, name: 'PDPT', bits: PTE.NX });
  tables.update(0x1000n, 3, (e) => e & ~PTE.NX);

  tables.update(0x1000n, 1, (e) => e | (0x7ffn << 52n));
  assert.equal(rsvd(0x1000n), undefined, 'bits 62:52 are ignored in long mode');
  tables.update(0x1000n, 1, (e) => e & ~(0x7ffn << 52n));

  tables.update(0x1000n, 4, (e) => e | PTE.PS);
  assert.deepEqual(rsvd(0x1000n), { kind: 'reserved-bit', level: 4, name: 'PML4', bits: PTE.PS });
  tables.update(0x1000n, 4, (e) => e & ~PTE.PS);

  tables.update(0x20_0000n, 2, (e) => e | (1n << 13n));
  assert.deepEqual(rsvd(0x20_0000n), { kind: 'reserved-bit', level: 2, name: 'PD', bits: 1n << 13n });
  assert.deepEqual(rsvd(0x4000_0000n, { ...ctx, gbPages: false }), { kind: 'reserved-bit', level: 3, name: 'PDPT', bits: PTE.PS }, 'no 1 GiB pages in CPUID');
  assert.equal(rsvd(0x4000_0000n), undefined);
  tables.update(0x4000_0000n, 3, (e) => e | (1n << 29n));
  assert.deepEqual(rsvd(0x4000_0000n), { kind: 'reserved-bit', level: 3, name: 'PDPT', bits: 1n << 29n });

  // PAE: PDPTE bits 2:1 and 8:5 are reserved; bits 62:M of a PTE too.
  const pae = fakeMachine('pae');
  pae.tables.map(0x1000n, 0x1000n, KIB4);
  const pctx = ctxFor('pae', pae.tables.cr3);
  pae.tables.update(0x1000n, 3, (e) => e | PTE.RW);
  assert.deepEqual(walk(toGva(0x1000n), pctx, pae.read).fault, { kind: 'reserved-bit', level: 3, name: 'PDPTE', bits: PTE.RW });
  pae.tables.update(0x1000n, 3, (e) => (e & ~PTE.RW) | PTE.NX);
  assert.deepEqual(walk(toGva(0x1000n), pctx, pae.read).fault, { kind: 'reserved-bit', level: 3, name: 'PDPTE', bits: PTE.NX }, 'bit 63 of a PDPTE, even with NXE');
  pae.tables.update(0x1000n, 3, (e) => e & ~PTE.NX);
  pae.tables.update(0x1000n, 1, (e) => e | (1n << 62n));
  assert.deepEqual(walk(toGva(0x1000n), pctx, pae.read).fault, { kind: 'reserved-bit', level: 1, name: 'PT', bits: 1n << 62n });
  pae.tables.map(0x4000_0000n, 0x20_0000n, MIB2, PTE.P | PTE.RW | PTE.PAT_LARGE);
  assert.equal(walk(toGva(0x4000_0000n), pctx, pae.read).gpa, 0x20_0000);
  pae.tables.update(0x4000_0000n, 2, (e) => e | (1n << 20n));
  assert.deepEqual(walk(toGva(0x4000_0000n), pctx, pae.read).fault, { kind: 'reserved-bit', level: 2, name: 'PD', bits: 1n << 20n }, 'a 2 MiB PDE uses no bits 20:13');

  // 32-bit paging: bit 21 of a 4 MiB PDE, and PSE-36 bits above MAXPHYADDR.
  const leg = fakeMachine('legacy32');
  leg.tables.map(0x40_0000n, 0x40_0000n, MIB4);
  const lctx = ctxFor('legacy32', leg.tables.cr3);
  leg.tables.update(0x40_0000n, 2, (e) => e | (1n << 21n));
  assert.deepEqual(walk(toGva(0x40_0000n), lctx, leg.read).fault, { kind: 'reserved-bit', level: 2, name: 'PD', bits: 1n << 21n });
  leg.tables.update(0x40_0000n, 2, (e) => (e & ~(1n << 21n)) | (0x10n << 13n)); // physical bit 36
  assert.equal(walk(toGva(0x40_0000n), lctx, leg.read).gpa, 0x10_0040_0000);
  assert.deepEqual(walk(toGva(0x40_0000n), { ...lctx, maxPhysAddr: 36 }, leg.read).fault, { kind: 'reserved-bit', level: 2, name: 'PD', bits: 0x10n << 13n });
});

test('permissions: the first level from the top that denies, as CR0.WP and EFER.NXE say', () => {
  const { tables, read } = fakeMachine('long4');
  const gva = 0x40_0000n;
  tables.map(gva, 0x9000n, KIB4, PTE.P | PTE.RW | PTE.US);
  const ctx = ctxFor('long4', tables.cr3);
  const check = (access: Access, c: PagingContext = ctx) => walk(toGva(gva), c, read, access);
  const denied = (access: Access, c?: PagingContext) => {
    const f = check(access, c).fault;
    return f?.kind === 'permission' ? [f.level, f.name, f.denied] : f;
  };

  assert.equal(denied({ user: true, write: true, execute: true }), undefined);
  assert.deepEqual(check({ user: true }).effective, { write: true, user: true, execute: true });

  tables.update(gva, 2, (e) => e & ~PTE.RW);
  assert.deepEqual(denied({ write: true }), [2, 'PD', 'write'], 'supervisor write with CR0.WP=1');
  assert.deepEqual(denied({ write: true, user: true }), [2, 'PD', 'write']);
  const noWp = { ...ctx, cr0: CR0_PE | CR0_PG };
  assert.equal(denied({ write: true }, noWp), undefined, 'CR0.WP=0 lets a supervisor write');
  assert.equal(check({}, noWp).effective.write, true);
  assert.deepEqual(denied({ write: true, user: true }, noWp), [2, 'PD', 'write'], 'but never a user write');
  assert.equal(check({ user: true }, noWp).effective.write, false);
  assert.equal(check({ write: true }).gpa, 0x9000, 'a denied access still shows the mapping');

  tables.update(gva, 3, (e) => e & ~PTE.US);
  assert.deepEqual(denied({ write: true, user: true }), [3, 'PDPT', 'user'], 'the PDPT denies before the PD');
  assert.deepEqual(denied({ user: true }), [3, 'PDPT', 'user']);
  assert.equal(denied({ write: false }), undefined, 'supervisor reads pass');
  assert.deepEqual(check({}).effective, { write: false, user: false, execute: true });

  tables.update(gva, 4, (e) => e & ~PTE.RW);
  assert.deepEqual(denied({ write: true, user: true }), [4, 'PML4', 'write'], 'the PML4 is above the PDPT');

  tables.update(gva, 1, (e) => e | PTE.NX);
  assert.deepEqual(denied({ execute: true }), [1, 'PT', 'execute']);
  assert.equal(check({}).effective.execute, false);
  tables.update(gva, 4, (e) => e | PTE.NX | PTE.RW);
  assert.deepEqual(denied({ execute: true }), [4, 'PML4', 'execute']);
  assert.equal(check({}, { ...ctx, efer: EFER_LME | EFER_LMA }).fault?.kind, 'reserved-bit', 'NX without NXE is reserved');

  // 32-bit paging has no NX: execute is always allowed by the tables.
  const leg = fakeMachine('legacy32');
  leg.tables.map(0x1000n, 0x1000n, KIB4, PTE.P);
  const lctx = ctxFor('legacy32', leg.tables.cr3);
  assert.equal(walk(toGva(0x1000n), lctx, leg.read, { execute: true }).fault, undefined);
  assert.deepEqual(walk(toGva(0x1000n), lctx, leg.read, { execute: true, user: true }).fault, { kind: 'permission', level: 1, name: 'PT', denied: 'user' });
  assert.deepEqual(walk(toGva(0x1000n), lctx, leg.read).effective, { write: false, user: false, execute: true });
});

test('SMEP and SMAP: supervisor fetches from and data accesses to user pages', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x1000n, 0x1000n, KIB4, PTE.P | PTE.RW | PTE.US);
  tables.map(0x20_0000n, 0x2000n, KIB4, PTE.P | PTE.RW);
  const ctx = ctxFor('long4', tables.cr3, { cr4: CR4_PAE | CR4_SMEP | CR4_SMAP });
  assert.deepEqual(walk(toGva(0x1000n), ctx, read, { execute: true }).fault, { kind: 'permission', level: 1, name: 'PT', denied: 'smep' });
  assert.equal(walk(toGva(0x1000n), ctx, read).effective.execute, false);
  assert.equal(walk(toGva(0x1000n), ctx, read, { execute: true, user: true }).fault, undefined, 'SMEP is for supervisor fetches only');
  assert.deepEqual(walk(toGva(0x1000n), ctx, read, { write: true }).fault, { kind: 'permission', level: 1, name: 'PT', denied: 'smap' });
  assert.equal(walk(toGva(0x1000n), ctx, read, { write: true, ac: true }).fault, undefined, 'RFLAGS.AC lifts SMAP');
  assert.equal(walk(toGva(0x20_0000n), ctx, read, { write: true, execute: false }).fault, undefined, 'a supervisor page is not affected');
  assert.equal(walk(toGva(0x20_0000n), ctx, read, { execute: true }).fault, undefined);
  assert.equal(walk(toGva(0x1000n), ctxFor('long4', tables.cr3), read, { execute: true }).fault, undefined, 'without CR4.SMEP');
});

test('effective permissions: AND of R/W and U/S, OR of NX along the walk', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x1000n, 0x1000n, KIB4, PTE.P | PTE.RW | PTE.US, PTE.P | PTE.RW | PTE.US);
  const ctx = ctxFor('long4', tables.cr3);
  const eff = () => walk(toGva(0x1000n), ctx, read, { user: true }).effective;
  assert.deepEqual(eff(), { write: true, user: true, execute: true });
  for (const level of [4, 3, 2, 1]) {
    tables.update(0x1000n, level, (e) => e & ~PTE.RW);
    assert.deepEqual(eff(), { write: false, user: true, execute: true }, `RW=0 at level ${level}`);
    tables.update(0x1000n, level, (e) => (e | PTE.RW) & ~PTE.US);
    assert.deepEqual(eff(), { write: true, user: false, execute: true }, `US=0 at level ${level}`);
    tables.update(0x1000n, level, (e) => e | PTE.US | PTE.NX);
    assert.deepEqual(eff(), { write: true, user: true, execute: false }, `NX at level ${level}`);
    tables.update(0x1000n, level, (e) => e & ~PTE.NX);
  }
});

test('table-not-in-memory: an entry that points outside guest memory', () => {
  const { tables, read } = fakeMachine('long4');
  tables.map(0x1000n, 0x1000n, KIB4);
  tables.update(0x1000n, 2, (e) => (e & 0xfffn) | 0x7000_0000n);
  const ctx = ctxFor('long4', tables.cr3);
  const r = walk(toGva(0x1000n), ctx, read);
  assert.deepEqual(r.fault, { kind: 'table-not-in-memory', level: 1, gpa: 0x7000_0000 });
  assert.equal(r.levels.length, 3, 'levels down to the PD that points away');
  assert.equal(translate(toGva(0x1000n), ctx, read), undefined);
  assert.deepEqual(walk(toGva(0x1000n), { ...ctx, cr3: 0x8000_0000n }, read).fault, { kind: 'table-not-in-memory', level: 4, gpa: 0x8000_0000 });
  // An entry that would straddle the end of memory is not readable either.
  assert.equal(physReader({ regions: [{ gpa: 0, bytes: new Uint8Array(12) }] })(8n, 8), undefined);
});

test('non-canonical addresses fault before any table is read', () => {
  const { tables, read, reads } = fakeMachine('long4');
  const ctx = ctxFor('long4', tables.cr3);
  for (const gva of [0x0000_8000_0000_0000n, 0xffff_7fff_ffff_ffffn, 0x8000_0000_0000_0000n, 0x0001_0000_0000_0000n]) {
    assert.deepEqual(walk(toGva(gva), ctx, read).fault, { kind: 'non-canonical' }, `0x${gva.toString(16)}`);
    assert.equal(translate(toGva(gva), ctx, read), undefined);
  }
  assert.equal(reads.length, 0);
  for (const gva of [0x0000_7fff_ffff_ffffn, 0xffff_8000_0000_0000n]) {
    assert.deepEqual(walk(toGva(gva), ctx, read).fault, { kind: 'not-present', level: 4, name: 'PML4' });
  }
});

test('translate agrees with walk on random mappings in every mode', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const modes: TableMode[] = ['legacy32', 'pae', 'long4', 'long5'];
  for (const mode of modes) {
    const { tables, read, fast } = fakeMachine(mode);
    const ctx = ctxFor(mode, tables.cr3);
    const sizes = mode === 'legacy32' ? [KIB4, MIB4] : mode === 'pae' ? [KIB4, MIB2] : [KIB4, MIB2, GIB1];
    const vaBits = mode === 'legacy32' || mode === 'pae' ? 32 : mode === 'long4' ? 48 : 57;
    const mapped: Array<[bigint, bigint, number]> = [];
    for (let i = 0; i < 40; i++) {
      const size = sizes[rnd(sizes.length)]!;
      let va = (BigInt(rnd(2 ** 30)) * BigInt(2 ** 27) + BigInt(rnd(2 ** 27))) & ((1n << BigInt(vaBits)) - 1n) & -BigInt(size);
      if (vaBits > 32 && (va >> BigInt(vaBits - 1)) & 1n) va |= ~((1n << BigInt(vaBits)) - 1n) & 0xffff_ffff_ffff_ffffn;
      const paMask = mode !== 'legacy32' ? 0xf_ffff_ffffn : size === MIB4 ? 0xff_ffff_ffffn : 0xffff_ffffn;
      const pa = (BigInt(rnd(2 ** 30)) * 4096n) & -BigInt(size) & paMask;
      try {
        tables.map(va, pa, size);
      } catch {
        continue; // a large page over an existing table (or the reverse)
      }
      mapped.push([va, pa, size]);
      const off = BigInt(rnd(size));
      const w = walk(toGva(va + off), ctx, read);
      assert.deepEqual([w.gpa, w.pageSize], [Number(pa + off), size], `${mode} 0x${va.toString(16)} just mapped`);
    }
    assert.ok(mapped.length > 20, `${mode}: ${mapped.length} mappings`);
    for (let i = 0; i < 400; i++) {
      const [va, , size] = mapped[rnd(mapped.length)]!;
      const gva = i % 4 === 0 ? BigInt(rnd(2 ** 31)) * 2n : va + BigInt(rnd(size));
      const w = walk(toGva(gva), ctx, read);
      assert.equal(translate(toGva(gva), ctx, read), w.gpa, `${mode} 0x${gva.toString(16)}`);
      assert.equal(translate(toGva(gva), ctx, fast), w.gpa, `${mode} 0x${gva.toString(16)} through u32 reads`);
      assert.deepEqual(walk(toGva(gva), ctx, fast, { user: true, write: true }), walk(toGva(gva), ctx, read, { user: true, write: true }), 'the same walk through u32 reads');
    }
  }
});

test('a context changed in place is seen: results follow CR3 and EFER, not a cached copy', () => {
  const a = fakeMachine('long4');
  a.tables.map(0x1000n, 0x5000n, KIB4);
  const other = new TableBuilder('long4', { read: (x, n) => a.bytes.slice(x, x + n), write: (x, d) => a.bytes.set(d, x) }, (() => {
    let next = 0x20_0000;
    return () => (next += KIB4) - KIB4;
  })());
  other.map(0x1000n, 0x7000n, KIB4, PTE.P | PTE.NX);
  const ctx = ctxFor('long4', a.tables.cr3);
  assert.equal(translate(toGva(0x1000n), ctx, a.read), 0x5000);
  ctx.cr3 = other.cr3;
  assert.equal(translate(toGva(0x1000n), ctx, a.read), 0x7000);
  ctx.efer = EFER_LME | EFER_LMA;
  assert.equal(translate(toGva(0x1000n), ctx, a.read), undefined, 'NX is reserved once NXE is off');
  ctx.maxPhysAddr = 60;
  assert.throws(() => translate(toGva(0x1000n), ctx, a.read), RangeError);
});

test('u32 reads and bigint reads give the same walks, faults included', () => {
  const cases: Array<[TableMode, (t: TableBuilder) => void, bigint[], Partial<PagingContext>]> = [
    ['long4', (t) => {
      t.map(0x1000n, 0x5000n, KIB4);
      t.map(0x2000n, 0x6000n, KIB4, PTE.P | PTE.NX);
      t.map(0x20_0000n, 0x40_0000n, MIB2);
      t.update(0x1000n, 1, (e) => e | (1n << 50n));
      t.update(0x20_0000n, 2, (e) => (e & 0xfffn) | 0x7000_0000n | PTE.PS);
      t.map(0x80_0000_0000n, 0x1000n, KIB4);
      t.update(0x80_0000_0000n, 2, (e) => (e & 0xfffn) | 0x7000_0000n);
    }, [0x1000n, 0x2000n, 0x20_0000n, 0x80_0000_0000n, 0x9000n], { maxPhysAddr: 48, efer: EFER_LME | EFER_LMA }],
    ['pae', (t) => {
      t.map(0x1000n, 0x5000n, KIB4);
      t.map(0x4000_0000n, 0x20_0000n, MIB2);
      t.update(0x4000_0000n, 3, (e) => e | PTE.NX);
    }, [0x1000n, 0x4000_0000n, 0x8000_0000n], {}],
    ['legacy32', (t) => {
      t.map(0x1000n, 0x5000n, KIB4);
      t.map(0x40_0000n, 0x40_0000n, MIB4);
      t.update(0x40_0000n, 2, (e) => e | (1n << 21n));
      t.map(0x80_0000n, 0x1000n, KIB4);
      t.update(0x80_0000n, 2, (e) => (e & 0xfffn) | 0x7000_0000n);
    }, [0x1000n, 0x40_0000n, 0x80_0000n], {}],
  ];
  const kinds = new Set<string>();
  for (const [mode, build, gvas, extra] of cases) {
    const { tables, read, fast } = fakeMachine(mode);
    build(tables);
    const ctx = ctxFor(mode, tables.cr3, extra);
    for (const gva of gvas) {
      const slow = walk(toGva(gva), ctx, read, { execute: true });
      assert.deepEqual(walk(toGva(gva), ctx, fast, { execute: true }), slow, `${mode} 0x${gva.toString(16)}`);
      assert.equal(translate(toGva(gva), ctx, fast), translate(toGva(gva), ctx, read));
      kinds.add(slow.fault?.kind ?? 'ok');
    }
  }
  assert.deepEqual([...kinds].sort(), ['not-present', 'ok', 'reserved-bit', 'table-not-in-memory']);
});
