// The ACPI tables vmscope gives guests on the pc platform (for every boot
// format but firmware, which builds its own): just enough for an OS to find
// the PM registers of vmm/devices/acpi-pm.ts and to power the machine off.
// RSDP (ACPI 1.0, revision 0) -> RSDT -> FADT (revision 1) -> FACS and a
// DSDT holding \_S5 and the PCI root bridge. No MADT: vmscope has no local APIC, so the guest
// stays on the 8259A PICs. Layouts from the ACPI specification (6.5): 5.2.5.3
// RSDP, 5.2.6 table header, 5.2.7 RSDT, 5.2.9 FADT (the 1.0 fields, 116
// bytes), 5.2.10 FACS; AML encoding from chapter 20.

import { ACPI_PM, S5_SLP_TYP, SCI_IRQ } from '../devices/acpi-pm';
import { RTC_CENTURY } from '../devices/cmos';

/** Where the tables go: the BIOS area, which e820 reports reserved and where an OS scans for the RSDP (16-byte aligned, 0xE0000-0xFFFFF). */
export const ACPI_TABLES_GPA = 0xf0000;

export const OEM_ID = 'VMSCOP';
const OEM_TABLE_ID = 'VMSCOPE ';
const CREATOR_ID = 'VMSC';

const HEADER_LEN = 36;
const RSDP_LEN = 20;
const FADT_REV1_LEN = 116;
const FACS_LEN = 64;

/** FADT byte offsets (ACPI spec table 5.9; the fields ACPI 1.0 defines). */
export const FADT = {
  firmwareCtrl: 36,
  dsdt: 40,
  intModel: 44,
  sciInt: 46,
  smiCmd: 48,
  pm1aEvtBlk: 56,
  pm1bEvtBlk: 60,
  pm1aCntBlk: 64,
  pm1bCntBlk: 68,
  pm2CntBlk: 72,
  pmTmrBlk: 76,
  gpe0Blk: 80,
  gpe1Blk: 84,
  pm1EvtLen: 88,
  pm1CntLen: 89,
  pm2CntLen: 90,
  pmTmrLen: 91,
  gpe0BlkLen: 92,
  gpe1BlkLen: 93,
  pLvl2Lat: 96,
  pLvl3Lat: 98,
  century: 108,
  flags: 112,
} as const;

/** FADT flags (ACPI spec table 5.10). */
export const FADT_FLAGS = {
  wbinvd: 1 << 0,
  procC1: 1 << 2,
  pwrButton: 1 << 4,
  slpButton: 1 << 5,
  fixRtc: 1 << 6,
  tmrValExt: 1 << 8,
} as const;

/**
 * WBINVD works; C1 (HLT) works on every CPU; no fixed power or sleep button
 * and no RTC wake status (the PM device has none); TMR_VAL_EXT clear: the PM
 * timer is 24 bits.
 */
const FLAGS = FADT_FLAGS.wbinvd | FADT_FLAGS.procC1 | FADT_FLAGS.pwrButton | FADT_FLAGS.slpButton | FADT_FLAGS.fixRtc;
/** Worst-case C2/C3 latencies above 100 and 1000 µs: the spec's way of saying the states are not supported. */
const NO_C2_LATENCY = 101;
const NO_C3_LATENCY = 1001;

/** AML opcodes and prefixes (ACPI spec 20.2). */
const AML = {
  zero: 0x00,
  one: 0x01,
  name: 0x08,
  bytePrefix: 0x0a,
  wordPrefix: 0x0b,
  dwordPrefix: 0x0c,
  package: 0x12,
  scope: 0x10,
  /** ExtOpPrefix 0x5B, then DeviceOp's second byte 0x82. */
  extPrefix: 0x5b,
  device: 0x82,
  rootChar: 0x5c,
} as const;

/**
 * PkgLength (ACPI spec 20.2.4): the length of what follows the opcode,
 * counting the PkgLength bytes themselves. Up to 63 it is one byte; longer,
 * bits 7-6 of the lead byte say how many bytes follow (1-3), its low nibble
 * holds bits 0-3 and each following byte the next 8 bits.
 */
export function amlPkgLength(contentLen: number): number[] {
  for (let extra = 0; extra <= 3; extra++) {
    const total = contentLen + 1 + extra;
    if (extra === 0 && total <= 0x3f) return [total];
    if (extra > 0 && total < 2 ** (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) out.push((total >> (4 + 8 * i)) & 0xff);
      return out;
    }
  }
  throw new RangeError(`an AML package of ${contentLen} bytes is too long for PkgLength`);
}

/** An integer as the smallest AML data object: ZeroOp, OneOp, or a Byte/Word/DWord constant. */
export function amlInteger(v: number): number[] {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${v} is not a 32-bit AML integer`);
  if (v === 0) return [AML.zero];
  if (v === 1) return [AML.one];
  if (v <= 0xff) return [AML.bytePrefix, v];
  if (v <= 0xffff) return [AML.wordPrefix, v & 0xff, v >> 8];
  return [AML.dwordPrefix, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

/** DefPackage of integers: PackageOp PkgLength NumElements PackageElementList. */
export function amlPackage(values: readonly number[]): number[] {
  const body = [values.length, ...values.flatMap(amlInteger)];
  return [AML.package, ...amlPkgLength(body.length), ...body];
}

/** DefName: NameOp NameString DataRefObject. A NameSeg is 4 characters, padded with '_'. */
export function amlName(seg: string, object: number[]): number[] {
  return [AML.name, ...amlNameString(seg), ...object];
}

/** A NameString: an optional root prefix '\\' then one NameSeg (4 characters, padded with '_'). */
function amlNameString(name: string): number[] {
  const root = name.startsWith('\\');
  const seg = root ? name.slice(1) : name;
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new RangeError(`"${seg}" is not an AML NameSeg`);
  return [...(root ? [AML.rootChar] : []), ...[...seg.padEnd(4, '_')].map((c) => c.charCodeAt(0))];
}

/** DefScope: ScopeOp PkgLength NameString TermList. */
export function amlScope(name: string, terms: number[]): number[] {
  const body = [...amlNameString(name), ...terms];
  return [AML.scope, ...amlPkgLength(body.length), ...body];
}

/** DefDevice: ExtOpPrefix DeviceOp PkgLength NameString TermList. */
export function amlDevice(name: string, terms: number[]): number[] {
  const body = [...amlNameString(name), ...terms];
  return [AML.extPrefix, AML.device, ...amlPkgLength(body.length), ...body];
}

/**
 * A compressed EISA ID ("PNP0A03") as the 32-bit integer ASL's EisaId()
 * gives: the three letters as 5-bit codes ('A' = 1) packed big-endian into
 * the first two bytes, then the four hex digits as two bytes, in that order
 * in memory.
 */
export function eisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`"${id}" is not an EISA ID`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  const bytes = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

/**
 * The DSDT's AML: Name (_S5, Package (4) { S5, S5, 0, 0 }), which encodes
 * as 08 '_S5_' 12 08 04 0A 05 0A 05 00 00 — NameOp, the NameSeg, PackageOp,
 * PkgLength 8 (itself, NumElements and six bytes of elements), NumElements 4,
 * then the elements: BytePrefix 5 twice (SLP_TYPa, SLP_TYPb) and ZeroOp twice
 * (reserved). An OS reads SLP_TYP for soft-off from here.
 */
export function dsdtAml(): number[] {
  return [...amlName('_S5', amlPackage([S5_SLP_TYP, S5_SLP_TYP, 0, 0])), ...pciRootAml()];
}

/**
 * Scope (\\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03")); Name (_ADR, 0) } }:
 * the PCI root bridge (vmm/devices/pci-host.ts). An OS in ACPI mode finds PCI
 * buses only through root bridges in the namespace (Linux stops probing bus 0
 * by itself once ACPI is on), so without this one the host bridge and the
 * ISA bridge would vanish. No _CRS: the OS falls back to its own windows.
 */
export function pciRootAml(): number[] {
  return amlScope('\\_SB', amlDevice('PCI0', [...amlName('_HID', amlInteger(eisaId('PNP0A03'))), ...amlName('_ADR', amlInteger(0))]));
}

/** The byte that makes a range sum to 0 mod 256. */
function checksumOf(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function ascii(buf: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
}

/** A system description table: the 36-byte header (ACPI spec 5.2.6) then `body`, checksummed. */
function sdt(signature: string, revision: number, body: Uint8Array | number[]): Uint8Array {
  const t = new Uint8Array(HEADER_LEN + body.length);
  const dv = new DataView(t.buffer);
  ascii(t, 0, signature);
  dv.setUint32(4, t.length, true);
  t[8] = revision;
  ascii(t, 10, OEM_ID);
  ascii(t, 16, OEM_TABLE_ID);
  dv.setUint32(24, 1, true); // OEM revision
  ascii(t, 28, CREATOR_ID);
  dv.setUint32(32, 1, true); // creator revision
  t.set(body, HEADER_LEN);
  t[9] = checksumOf(t);
  return t;
}

export interface AcpiTables {
  /** Guest-physical address of the first byte (the RSDP). */
  gpa: number;
  bytes: Uint8Array;
  /** Addresses of each table. */
  rsdp: number;
  rsdt: number;
  fadt: number;
  facs: number;
  dsdt: number;
}

const align = (v: number, a: number) => Math.ceil(v / a) * a;

/** The tables laid out from `base` (16-byte aligned, below 4 GiB: RSDT and FADT hold 32-bit pointers). */
export function acpiTables(base = ACPI_TABLES_GPA): AcpiTables {
  if (base % 16 !== 0 || base < 0 || base >= 2 ** 32) throw new RangeError(`ACPI tables at ${base}: the RSDP needs a 16-byte aligned address below 4 GiB`);
  const rsdp = base;
  const rsdt = align(rsdp + RSDP_LEN, 16);
  const facs = align(rsdt + HEADER_LEN + 4, 64); // the FACS must be 64-byte aligned
  const fadt = align(facs + FACS_LEN, 16);
  const dsdt = align(fadt + FADT_REV1_LEN, 16);

  const dsdtTable = sdt('DSDT', 1, dsdtAml()); // revision 1: AML integers are 32 bits

  const fadtBody = new Uint8Array(FADT_REV1_LEN - HEADER_LEN);
  const f = new DataView(fadtBody.buffer);
  const at = (off: number) => off - HEADER_LEN;
  f.setUint32(at(FADT.firmwareCtrl), facs, true);
  f.setUint32(at(FADT.dsdt), dsdt, true);
  f.setUint8(at(FADT.intModel), 0); // dual 8259A PIC
  f.setUint16(at(FADT.sciInt), SCI_IRQ, true);
  f.setUint32(at(FADT.smiCmd), 0, true); // no SMI command port: the machine is in ACPI mode from power-on
  f.setUint32(at(FADT.pm1aEvtBlk), ACPI_PM.evtBlk, true);
  f.setUint32(at(FADT.pm1aCntBlk), ACPI_PM.cntBlk, true);
  f.setUint32(at(FADT.pmTmrBlk), ACPI_PM.tmrBlk, true);
  f.setUint8(at(FADT.pm1EvtLen), ACPI_PM.evtLen);
  f.setUint8(at(FADT.pm1CntLen), ACPI_PM.cntLen);
  f.setUint8(at(FADT.pmTmrLen), ACPI_PM.tmrLen);
  f.setUint16(at(FADT.pLvl2Lat), NO_C2_LATENCY, true);
  f.setUint16(at(FADT.pLvl3Lat), NO_C3_LATENCY, true);
  f.setUint8(at(FADT.century), RTC_CENTURY);
  f.setUint32(at(FADT.flags), FLAGS, true);
  const fadtTable = sdt('FACP', 1, fadtBody);

  const rsdtBody = new Uint8Array(4);
  new DataView(rsdtBody.buffer).setUint32(0, fadt, true);
  const rsdtTable = sdt('RSDT', 1, rsdtBody);

  // FACS (ACPI spec 5.2.10, 1.0 layout): no checksum; waking vector, global lock and flags all 0.
  const facsTable = new Uint8Array(FACS_LEN);
  ascii(facsTable, 0, 'FACS');
  new DataView(facsTable.buffer).setUint32(4, FACS_LEN, true);

  // RSDP (ACPI 1.0): signature, checksum over its 20 bytes, OEM ID, revision 0, RSDT address.
  const rsdpTable = new Uint8Array(RSDP_LEN);
  ascii(rsdpTable, 0, 'RSD PTR ');
  ascii(rsdpTable, 9, OEM_ID);
  rsdpTable[15] = 0;
  new DataView(rsdpTable.buffer).setUint32(16, rsdt, true);
  rsdpTable[8] = checksumOf(rsdpTable);

  const bytes = new Uint8Array(dsdt + dsdtTable.length - base);
  bytes.set(rsdpTable, rsdp - base);
  bytes.set(rsdtTable, rsdt - base);
  bytes.set(facsTable, facs - base);
  bytes.set(fadtTable, fadt - base);
  bytes.set(dsdtTable, dsdt - base);
  return { gpa: base, bytes, rsdp, rsdt, fadt, facs, dsdt };
}
