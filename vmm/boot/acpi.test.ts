import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acpiTables, ACPI_TABLES_GPA, amlInteger, amlPkgLength, dsdtAml, eisaId, FADT, FADT_FLAGS, OEM_ID, pciRootAml } from './acpi';
import { ACPI_PM, S5_SLP_TYP, SCI_IRQ } from '../devices/acpi-pm';

const t = acpiTables();
const dv = new DataView(t.bytes.buffer);
const u8 = (gpa: number) => t.bytes[gpa - t.gpa]!;
const u16 = (gpa: number) => dv.getUint16(gpa - t.gpa, true);
const u32 = (gpa: number) => dv.getUint32(gpa - t.gpa, true);
const str = (gpa: number, n: number) => String.fromCharCode(...t.bytes.subarray(gpa - t.gpa, gpa - t.gpa + n));
const sum = (gpa: number, n: number) => t.bytes.subarray(gpa - t.gpa, gpa - t.gpa + n).reduce((a, b) => (a + b) & 0xff, 0);

test('acpi: the RSDP is an ACPI 1.0 one in the BIOS area, 16-byte aligned, checksummed, pointing at the RSDT', () => {
  assert.equal(t.rsdp, ACPI_TABLES_GPA);
  assert.ok(t.rsdp >= 0xe0000 && t.rsdp + 20 <= 0x100000 && t.rsdp % 16 === 0, 'where an OS scans for it');
  assert.equal(str(t.rsdp, 8), 'RSD PTR ');
  assert.equal(sum(t.rsdp, 20), 0);
  assert.equal(str(t.rsdp + 9, 6), OEM_ID);
  assert.equal(u8(t.rsdp + 15), 0, 'revision 0: no XSDT, no extended checksum');
  assert.equal(u32(t.rsdp + 16), t.rsdt);
});

test('acpi: every table has its signature, its length and a zero checksum; they do not overlap and all fit', () => {
  const tables = [
    { at: t.rsdt, sig: 'RSDT', rev: 1 },
    { at: t.fadt, sig: 'FACP', rev: 1 },
    { at: t.dsdt, sig: 'DSDT', rev: 1 },
  ];
  const spans: Array<[number, number]> = [[t.rsdp, t.rsdp + 20], [t.facs, t.facs + 64]];
  for (const { at, sig, rev } of tables) {
    assert.equal(str(at, 4), sig);
    const len = u32(at + 4);
    assert.equal(u8(at + 8), rev, `${sig} revision`);
    assert.equal(sum(at, len), 0, `${sig} checksum`);
    assert.equal(str(at + 10, 6), OEM_ID);
    spans.push([at, at + len]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], 'no overlap');
  assert.equal(t.gpa + t.bytes.length, spans.at(-1)![1]);
  assert.ok(t.gpa + t.bytes.length <= 0x100000, 'inside the BIOS area');
});

test('acpi: the RSDT has one entry, the FADT; the FADT is revision 1, 116 bytes', () => {
  assert.equal(u32(t.rsdt + 4), 36 + 4);
  assert.equal(u32(t.rsdt + 36), t.fadt);
  assert.equal(u32(t.fadt + 4), 116);
});

test('acpi: the FADT names the PM device\'s ports, the SCI on IRQ 9, no SMI_CMD, no GPE blocks, and the FACS and DSDT', () => {
  const f = (off: number) => t.fadt + off;
  assert.equal(u32(f(FADT.firmwareCtrl)), t.facs);
  assert.equal(u32(f(FADT.dsdt)), t.dsdt);
  assert.equal(u8(f(FADT.intModel)), 0);
  assert.equal(u16(f(FADT.sciInt)), SCI_IRQ);
  assert.equal(u16(f(FADT.sciInt)), 9);
  assert.equal(u32(f(FADT.smiCmd)), 0);
  assert.deepEqual([u32(f(FADT.pm1aEvtBlk)), u32(f(FADT.pm1aCntBlk)), u32(f(FADT.pmTmrBlk))], [0x600, 0x604, 0x608]);
  assert.deepEqual([u32(f(FADT.pm1aEvtBlk)), u32(f(FADT.pm1aCntBlk)), u32(f(FADT.pmTmrBlk))], [ACPI_PM.evtBlk, ACPI_PM.cntBlk, ACPI_PM.tmrBlk]);
  assert.deepEqual([u8(f(FADT.pm1EvtLen)), u8(f(FADT.pm1CntLen)), u8(f(FADT.pmTmrLen))], [4, 2, 4]);
  assert.deepEqual([u32(f(FADT.pm1bEvtBlk)), u32(f(FADT.pm1bCntBlk)), u32(f(FADT.pm2CntBlk)), u32(f(FADT.gpe0Blk)), u32(f(FADT.gpe1Blk))], [0, 0, 0, 0, 0]);
  assert.deepEqual([u8(f(FADT.pm2CntLen)), u8(f(FADT.gpe0BlkLen)), u8(f(FADT.gpe1BlkLen))], [0, 0, 0]);
  assert.ok(u16(f(FADT.pLvl2Lat)) > 100 && u16(f(FADT.pLvl3Lat)) > 1000, 'C2 and C3 not supported');
  const flags = u32(f(FADT.flags));
  assert.equal(flags & FADT_FLAGS.wbinvd, FADT_FLAGS.wbinvd);
  assert.equal(flags & FADT_FLAGS.tmrValExt, 0, '24-bit PM timer');
});

test('acpi: the FACS is 64-byte aligned, 64 bytes, with a free global lock', () => {
  assert.equal(t.facs % 64, 0);
  assert.equal(str(t.facs, 4), 'FACS');
  assert.equal(u32(t.facs + 4), 64);
  assert.equal(u32(t.facs + 16), 0, 'global lock');
});

test('acpi: the DSDT holds Name (_S5, Package (4) { 5, 5, 0, 0 }) and the PCI root bridge in AML', () => {
  const aml = [...t.bytes.subarray(t.dsdt + 36 - t.gpa, t.dsdt + u32(t.dsdt + 4) - t.gpa)];
  assert.deepEqual(aml, dsdtAml());
  assert.equal(S5_SLP_TYP, 5);
  assert.deepEqual(aml.slice(0, 14), [0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]);
  const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
  // Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03")); Name (_ADR, 0) } }
  assert.deepEqual(aml.slice(14), [
    0x10, 0x1d, 0x5c, ...ascii('_SB_'),
    0x5b, 0x82, 0x15, ...ascii('PCI0'),
    0x08, ...ascii('_HID'), 0x0c, 0x41, 0xd0, 0x0a, 0x03,
    0x08, ...ascii('_ADR'), 0x00,
  ]);
  assert.deepEqual(aml.slice(14), pciRootAml());
  assert.equal(eisaId('PNP0A03'), 0x030ad041);
});

test('acpi: AML PkgLength uses one byte up to 63 and the multi-byte form beyond', () => {
  assert.deepEqual(amlPkgLength(6), [7]);
  assert.deepEqual(amlPkgLength(62), [63]);
  // 63 bytes of content: 65 with a two-byte PkgLength = 0x41 -> lead 0x41 (1 follows, low nibble 1), then 0x04.
  assert.deepEqual(amlPkgLength(63), [0x41, 0x04]);
  const long = amlPkgLength(0x12345);
  assert.equal(long[0]! >> 6, 2);
  const total = (long[0]! & 0x0f) | (long[1]! << 4) | (long[2]! << 12);
  assert.equal(total, 0x12345 + 3);
  assert.deepEqual(amlInteger(0), [0x00]);
  assert.deepEqual(amlInteger(1), [0x01]);
  assert.deepEqual(amlInteger(0x1234), [0x0b, 0x34, 0x12]);
  assert.throws(() => amlInteger(-1), RangeError);
});

test('acpi: tables elsewhere keep their alignment rules', () => {
  const other = acpiTables(0xe0010);
  assert.equal(other.rsdp, 0xe0010);
  assert.equal(other.facs % 64, 0);
  assert.throws(() => acpiTables(0xe0008), RangeError);
});
