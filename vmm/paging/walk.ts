// Software page walker: guest-virtual → guest-physical through the guest's own
// page tables, for every x86 paging mode (SDM Vol. 3A, ch. 4). Pure logic over
// a physical-memory reader, so it is tested without KVM and cross-checked
// against KVM_TRANSLATE in test/paging.test.ts.
//
// Two entry points share one walk per mode: `translate` (fast path: no objects
// per level, number arithmetic, no bigint per level with a reader that has
// `u32`) for bulk reads and
// `walk` (every level, flags, effective permissions, the fault) for display.
// The walker only reads: it never sets Accessed/Dirty bits as the CPU would.
// Outside long mode a linear address is 32 bits wide: the walker ignores the
// GVA's upper half there (KVM_TRANSLATE passes it through without paging).
// In long mode a non-canonical GVA is a fault here; KVM_TRANSLATE walks it.

import type { Gpa, Gva } from '../../common/address';

/**
 * The walk's own addresses as Gpa without gpa()'s range check, which the hot
 * path cannot afford: run() only yields table and page addresses masked from
 * entries (bits 51:12 at most) or CR3, so each is below 2^52.
 */
const walkedGpa = (n: number): Gpa => n as Gpa;

export type PagingMode = 'none' | 'legacy32' | 'pae' | 'long4' | 'long5';

export interface PagingContext {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /**
   * The guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0]), 32..52; default 52.
   * Entry bits from here to 51 (62 in PAE) are reserved.
   */
  maxPhysAddr?: number;
  /**
   * Whether the guest has 1 GiB pages (CPUID 0x80000001 EDX bit 26); default
   * true. Without them PS is reserved in a PDPTE, as KVM checks it.
   */
  gbPages?: boolean;
}

/**
 * Reads `size` bytes of guest-physical memory, little-endian; undefined when
 * the address is not backed (the walk then reports `table-not-in-memory`).
 * A reader may also carry `u32`, the same read of 4 bytes at a GPA given as a
 * number: the walker then uses it and makes no bigint per entry (physReader
 * does; it triples `translate`'s rate).
 */
export type ReadPhys = ((gpa: bigint, size: 4 | 8) => bigint | undefined) & {
  u32?: (gpa: number) => number | undefined;
};

/**
 * The access a walk is checked for. Omitted fields are false: a supervisor
 * data read. `ac` is RFLAGS.AC, which lets explicit supervisor accesses pass
 * SMAP.
 */
export type Access = { write?: boolean; user?: boolean; execute?: boolean; ac?: boolean };

export interface WalkFlags {
  present: boolean;
  /** For PAE PDPTEs, which carry no access rights, write and user are true: they do not restrict. */
  write: boolean;
  user: boolean;
  pwt: boolean;
  pcd: boolean;
  accessed: boolean;
  /** Leaf entries only. */
  dirty?: boolean;
  /** Entries where bit 7 means PS (PD, PDPT, PML4/PML5 where PS is reserved); the raw bit. */
  pageSize?: boolean;
  /** Leaf entries only. */
  global?: boolean;
  /** PAE and long mode, except PAE PDPTEs; the raw bit 63 (reserved unless EFER.NXE). */
  nx?: boolean;
  /** Leaf entries only: bit 7 of a 4 KiB PTE, bit 12 of a large-page entry. */
  pat?: boolean;
}

export interface WalkLevel {
  /** 5..1 (PML5=5, PML4=4, PDPT=3, PD=2, PT=1) in long mode; 2..1 in legacy32; 3..1 in PAE (PDPTE=3). */
  level: number;
  name: string;
  /** Guest-physical address of the table. */
  tableGpa: Gpa;
  index: number;
  /** tableGpa + index * entry size. */
  entryGpa: Gpa;
  /** The raw entry (u32 in legacy32, u64 otherwise). */
  entry: bigint;
  flags: WalkFlags;
  /** Maps a page (PS honoured, or level 1). */
  leaf: boolean;
  /** Bytes at the leaf: 4 KiB, 2 MiB, 4 MiB or 1 GiB. */
  pageSize?: number;
}

export type WalkFault =
  | { kind: 'not-present'; level: number; name: string }
  | { kind: 'reserved-bit'; level: number; name: string; bits: bigint }
  /**
   * The first level from the top whose bit denies the access (at one level:
   * user before write before execute). 'smep' and 'smap' are a supervisor
   * fetch from / data access to a user page; they name the leaf.
   */
  | { kind: 'permission'; level: number; name: string; denied: 'write' | 'user' | 'execute' | 'smep' | 'smap' }
  /** The table at `gpa` (the level's table) is not in guest memory. */
  | { kind: 'table-not-in-memory'; level: number; gpa: Gpa }
  | { kind: 'non-canonical' };

export interface WalkResult {
  mode: PagingMode;
  gva: Gva;
  /** From the top down, as far as the walk got. */
  levels: WalkLevel[];
  /**
   * Set whenever the tables map gva, even when `fault` is a permission fault
   * for the access asked about (the mapping exists; that access is denied).
   */
  gpa?: Gpa;
  pageSize?: number;
  /**
   * Permissions combined along the walk for the access's privilege (supervisor
   * unless access.user): user = AND of U/S; write = AND of R/W, except that a
   * supervisor may write anywhere when CR0.WP=0; execute = no NX on the way
   * (with EFER.NXE), and for a supervisor not a user page under CR4.SMEP.
   * An access is allowed iff (!user || effective.user) && (!write ||
   * effective.write) && (!execute || effective.execute), and SMAP allows it.
   * All true without paging; all false when the walk does not translate.
   */
  effective: { write: boolean; user: boolean; execute: boolean };
  fault?: WalkFault;
}

// Control-register bits, as numbers (every one of them is below bit 32).
const CR0_PG = 0x8000_0000;
const CR0_WP = 1 << 16;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_LA57 = 1 << 12;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

// Entry bits.
const P = 1;
const RW = 1 << 1;
const US = 1 << 2;
const PWT = 1 << 3;
const PCD = 1 << 4;
const A = 1 << 5;
const D = 1 << 6;
const PS = 1 << 7;
const G = 1 << 8;
const PAT_LARGE = 1 << 12;

const TWO32 = 4294967296;
const KIB4 = 0x1000;
const MIB2 = 0x20_0000;
const MIB4 = 0x40_0000;
const GIB1 = 0x4000_0000;

const MODE_NONE = 0;
const MODE_LEGACY = 1;
const MODE_PAE = 2;
const MODE_LONG4 = 3;
const MODE_LONG5 = 4;
const MODE_NAMES: readonly PagingMode[] = ['none', 'legacy32', 'pae', 'long4', 'long5'];

// Walk outcomes below zero; a result >= 0 is the guest-physical address.
const F_NOT_PRESENT = -1;
const F_RESERVED = -2;
const F_NO_TABLE = -3;
const F_NON_CANONICAL = -4;

export function pagingModeOf(ctx: PagingContext): PagingMode {
  return MODE_NAMES[modeOf(low32(ctx.cr0), low32(ctx.cr4), low32(ctx.efer))]!;
}

function low32(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}

function modeOf(cr0: number, cr4: number, efer: number): number {
  if ((cr0 & CR0_PG) === 0) return MODE_NONE;
  if (efer & EFER_LMA) return cr4 & CR4_LA57 ? MODE_LONG5 : MODE_LONG4;
  return cr4 & CR4_PAE ? MODE_PAE : MODE_LEGACY;
}

/** What a walk needs from the context, as numbers; cached for the last context seen. */
interface Prepared {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  maxPhysAddr: number;
  gbPages: boolean;
  mode: number;
  /** Guest-physical address of the top table. */
  root: number;
  pse: boolean;
  nxe: boolean;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  /** Mask of address bits 51:32 an entry may use (M-1:32). */
  addrHi: number;
  /** Reserved bits in the upper half of a 64-bit PDE/PTE (and PML4E/PML5E/PDPTE in long mode). */
  rsvdHi: number;
  /** Reserved bits in the upper half of a PAE PDPTE. */
  pdpteRsvdHi: number;
  /** Legacy 4 MiB pages: PSE-36 address bits (entry bits 20:13) must be below this. */
  pse36Limit: number;
}

let lastPrepared: Prepared | undefined;

function prepare(ctx: PagingContext): Prepared {
  const m = ctx.maxPhysAddr ?? 52;
  const gbPages = ctx.gbPages ?? true;
  const c = lastPrepared;
  if (c && c.cr3 === ctx.cr3 && c.cr0 === ctx.cr0 && c.cr4 === ctx.cr4 && c.efer === ctx.efer && c.maxPhysAddr === m && c.gbPages === gbPages) return c;
  if (!Number.isInteger(m) || m < 32 || m > 52) throw new RangeError(`MAXPHYADDR must be 32..52, not ${m}`);
  const cr0 = low32(ctx.cr0);
  const cr4 = low32(ctx.cr4);
  const efer = low32(ctx.efer);
  const mode = modeOf(cr0, cr4, efer);
  const nxe = (efer & EFER_NXE) !== 0;
  const addrHi = 2 ** (m - 32) - 1;
  const nxRsvd = nxe ? 0 : 0x8000_0000;
  let root = 0;
  if (mode === MODE_LEGACY) root = (low32(ctx.cr3) & 0xffff_f000) >>> 0;
  else if (mode === MODE_PAE) root = (low32(ctx.cr3) & 0xffff_ffe0) >>> 0;
  else if (mode !== MODE_NONE) root = Number(ctx.cr3 & ((1n << BigInt(m)) - 1n) & ~0xfffn);
  const p: Prepared = {
    cr0: ctx.cr0,
    cr3: ctx.cr3,
    cr4: ctx.cr4,
    efer: ctx.efer,
    maxPhysAddr: m,
    gbPages,
    mode,
    root,
    pse: (cr4 & CR4_PSE) !== 0,
    nxe,
    wp: (cr0 & CR0_WP) !== 0,
    smep: (cr4 & CR4_SMEP) !== 0,
    smap: (cr4 & CR4_SMAP) !== 0,
    addrHi,
    // Long mode: bits 51:M reserved, 62:52 ignored. PAE: bits 62:M reserved.
    rsvdHi: ((mode === MODE_PAE ? 0x7fff_ffff : 0xf_ffff) & ~addrHi) | nxRsvd,
    // PAE PDPTE: bits 63:M reserved whatever EFER.NXE says.
    pdpteRsvdHi: (0x7fff_ffff & ~addrHi) | 0x8000_0000,
    pse36Limit: 2 ** (Math.min(m, 40) - 32),
  };
  lastPrepared = p;
  return p;
}

/** What a detailed walk records; the fast path passes none. */
interface Trace {
  levels: number[];
  tables: number[];
  indexes: number[];
  entries: bigint[];
  pageSize: number;
  faultLevel: number;
  faultTable: number;
  rsvd: bigint;
}

/** The high half of the entry `load64` read last: a second return value without an allocation. */
let loadedHi = 0;
/** That entry as a bigint, when `load64` was asked for it (a detailed walk). */
let loadedEntry = 0n;

/**
 * Reads the 64-bit entry at `at`; returns its low half, or -1 when it is not
 * in memory. The high half is in `loadedHi` (read it before the next call).
 */
function load64(read: ReadPhys, at: number, wantEntry: boolean): number {
  const u32 = read.u32;
  if (u32 !== undefined) {
    const lo = u32(at);
    const hi = lo === undefined ? undefined : u32(at + 4);
    if (lo === undefined || hi === undefined) return -1;
    loadedHi = hi;
    if (wantEntry) loadedEntry = (BigInt(hi) << 32n) | BigInt(lo);
    return lo;
  }
  const e = read(BigInt(at), 8);
  if (e === undefined) return -1;
  loadedHi = Number(e >> 32n);
  if (wantEntry) loadedEntry = e;
  return Number(BigInt.asUintN(32, e));
}

function record(t: Trace, level: number, table: number, index: number, entry: bigint): void {
  t.levels.push(level);
  t.tables.push(table);
  t.indexes.push(index);
  t.entries.push(entry);
}

/** The reserved bits of a 64-bit entry that are set, from its two halves and the masks. */
function rsvdBits(hi: number, hiMask: number, lo: number, loMask: number): bigint {
  return (BigInt((hi & hiMask) >>> 0) << 32n) | BigInt((lo & loMask) >>> 0);
}

/**
 * The walk itself, for every mode. `lo`/`hi` are the two halves of the GVA.
 * Returns the GPA (a number: at most 52 bits) or a negative F_* code.
 */
function run(lo: number, hi: number, p: Prepared, read: ReadPhys, t: Trace | undefined): number {
  switch (p.mode) {
    case MODE_NONE:
      // No paging: the linear address (32 bits wide outside long mode) is physical.
      return lo;
    case MODE_LEGACY:
      return runLegacy(lo, p, read, t);
    case MODE_PAE:
      return runPae(lo, p, read, t);
    default:
      return runLong(lo, hi, p, read, t);
  }
}

function runLegacy(lo: number, p: Prepared, read: ReadPhys, t: Trace | undefined): number {
  let table = p.root;
  for (let level = 2; level >= 1; level--) {
    const index = level === 2 ? lo >>> 22 : (lo >>> 12) & 0x3ff;
    const at = table + index * 4;
    let e: number | undefined;
    if (read.u32 !== undefined) e = read.u32(at);
    else {
      const raw = read(BigInt(at), 4);
      e = raw === undefined ? undefined : Number(raw);
    }
    if (e === undefined) return noTable(t, level, table);
    if (t) record(t, level, table, index, BigInt(e));
    if ((e & P) === 0) return notPresent(t, level);
    if (level === 1) {
      if (t) t.pageSize = KIB4;
      return ((e & 0xffff_f000) >>> 0) + (lo & 0xfff);
    }
    if (e & PS && p.pse) {
      // 4 MiB page; PSE-36 puts physical-address bits 39:32 in entry bits 20:13, bit 21 is reserved.
      const high = (e >>> 13) & 0xff;
      if (e & (1 << 21) || high >= p.pse36Limit) {
        if (t) {
          t.faultLevel = level;
          t.rsvd = BigInt((e & (1 << 21)) | ((high & ~(p.pse36Limit - 1)) << 13));
        }
        return F_RESERVED;
      }
      if (t) t.pageSize = MIB4;
      return high * TWO32 + ((e & 0xffc0_0000) >>> 0) + (lo & 0x3f_ffff);
    }
    table = (e & 0xffff_f000) >>> 0;
  }
  return F_NOT_PRESENT;
}

function runPae(lo: number, p: Prepared, read: ReadPhys, t: Trace | undefined): number {
  let table = p.root;
  for (let level = 3; level >= 1; level--) {
    const index = level === 3 ? lo >>> 30 : level === 2 ? (lo >>> 21) & 0x1ff : (lo >>> 12) & 0x1ff;
    const elo = load64(read, table + index * 8, t !== undefined);
    if (elo < 0) return noTable(t, level, table);
    const ehi = loadedHi;
    if (t) record(t, level, table, index, loadedEntry);
    if ((elo & P) === 0) return notPresent(t, level);
    const base = (ehi & p.addrHi) * TWO32;
    if (level === 3) {
      // PDPTE: bits 2:1 and 8:5 reserved, no access rights, no large pages.
      if ((ehi & p.pdpteRsvdHi) !== 0 || (elo & 0x1e6) !== 0) return reserved(t, level, rsvdBits(ehi, p.pdpteRsvdHi, elo, 0x1e6));
      table = base + ((elo & 0xffff_f000) >>> 0);
      continue;
    }
    const large = level === 2 && (elo & PS) !== 0;
    const rsvdLo = large ? 0x1f_e000 : 0;
    if ((ehi & p.rsvdHi) !== 0 || (elo & rsvdLo) !== 0) return reserved(t, level, rsvdBits(ehi, p.rsvdHi, elo, rsvdLo));
    if (large) {
      if (t) t.pageSize = MIB2;
      return base + ((elo & 0xffe0_0000) >>> 0) + (lo & 0x1f_ffff);
    }
    if (level === 1) {
      if (t) t.pageSize = KIB4;
      return base + ((elo & 0xffff_f000) >>> 0) + (lo & 0xfff);
    }
    table = base + ((elo & 0xffff_f000) >>> 0);
  }
  return F_NOT_PRESENT;
}

function runLong(lo: number, hi: number, p: Prepared, read: ReadPhys, t: Trace | undefined): number {
  let level: number;
  if (p.mode === MODE_LONG5) {
    // Bits 63:57 must copy bit 56.
    const top = hi >>> 24;
    if (top !== 0 && top !== 0xff) return F_NON_CANONICAL;
    level = 5;
  } else {
    // Bits 63:48 must copy bit 47.
    const top = hi >>> 15;
    if (top !== 0 && top !== 0x1_ffff) return F_NON_CANONICAL;
    level = 4;
  }
  let table = p.root;
  for (; level >= 1; level--) {
    const index =
      level === 1 ? (lo >>> 12) & 0x1ff
      : level === 2 ? (lo >>> 21) & 0x1ff
      : level === 3 ? (lo >>> 30) | ((hi & 0x7f) << 2)
      : level === 4 ? (hi >>> 7) & 0x1ff
      : (hi >>> 16) & 0x1ff;
    const elo = load64(read, table + index * 8, t !== undefined);
    if (elo < 0) return noTable(t, level, table);
    const ehi = loadedHi;
    if (t) record(t, level, table, index, loadedEntry);
    if ((elo & P) === 0) return notPresent(t, level);
    // PS is reserved in PML4Es and PML5Es (and PDPTEs without 1 GiB pages);
    // in a large-page entry the address bits below the page size (except
    // PAT, bit 12) are reserved.
    const large = (level === 2 || (level === 3 && p.gbPages)) && (elo & PS) !== 0;
    const rsvdLo = level >= 4 || (level === 3 && !p.gbPages) ? PS : !large ? 0 : level === 3 ? 0x3fff_e000 : 0x1f_e000;
    if ((ehi & p.rsvdHi) !== 0 || (elo & rsvdLo) !== 0) return reserved(t, level, rsvdBits(ehi, p.rsvdHi, elo, rsvdLo));
    const base = (ehi & p.addrHi) * TWO32;
    if (large) {
      if (level === 3) {
        if (t) t.pageSize = GIB1;
        return base + ((elo & 0xc000_0000) >>> 0) + (lo & 0x3fff_ffff);
      }
      if (t) t.pageSize = MIB2;
      return base + ((elo & 0xffe0_0000) >>> 0) + (lo & 0x1f_ffff);
    }
    if (level === 1) {
      if (t) t.pageSize = KIB4;
      return base + ((elo & 0xffff_f000) >>> 0) + (lo & 0xfff);
    }
    table = base + ((elo & 0xffff_f000) >>> 0);
  }
  return F_NOT_PRESENT;
}

function noTable(t: Trace | undefined, level: number, table: number): number {
  if (t) {
    t.faultLevel = level;
    t.faultTable = table;
  }
  return F_NO_TABLE;
}

function notPresent(t: Trace | undefined, level: number): number {
  if (t) t.faultLevel = level;
  return F_NOT_PRESENT;
}

function reserved(t: Trace | undefined, level: number, bits: bigint): number {
  if (t) {
    t.faultLevel = level;
    t.rsvd = bits;
  }
  return F_RESERVED;
}

/**
 * GVA → GPA with no level objects and no permission checks (the debugger reads
 * what the tables map, whatever the rights). Undefined when the walk faults.
 */
export function translate(gva: Gva, ctx: PagingContext, readPhys: ReadPhys): Gpa | undefined {
  const p = prepare(ctx);
  const r = run(Number(BigInt.asUintN(32, gva)), Number(BigInt.asUintN(32, gva >> 32n)), p, readPhys, undefined);
  return r >= 0 ? walkedGpa(r) : undefined;
}

const LONG_NAMES = ['', 'PT', 'PD', 'PDPT', 'PML4', 'PML5'];
const PAE_NAMES = ['', 'PT', 'PD', 'PDPTE'];
const LEGACY_NAMES = ['', 'PT', 'PD'];

function levelName(mode: number, level: number): string {
  return (mode === MODE_LEGACY ? LEGACY_NAMES : mode === MODE_PAE ? PAE_NAMES : LONG_NAMES)[level]!;
}

/** The detailed walk: every level, flags, effective permissions and the fault, if any, for `access`. */
export function walk(gva: Gva, ctx: PagingContext, readPhys: ReadPhys, access?: Access): WalkResult {
  const p = prepare(ctx);
  const mode = MODE_NAMES[p.mode]!;
  const t: Trace = { levels: [], tables: [], indexes: [], entries: [], pageSize: 0, faultLevel: 0, faultTable: 0, rsvd: 0n };
  const r = run(Number(BigInt.asUintN(32, gva)), Number(BigInt.asUintN(32, gva >> 32n)), p, readPhys, t);
  const entrySize = p.mode === MODE_LEGACY ? 4 : 8;
  const levels: WalkLevel[] = [];
  // Permissions accumulated top-down, and the first level that denies `access`.
  let allRw = true;
  let allUs = true;
  let anyNx = false;
  const user = access?.user === true;
  let denied: { level: number; what: 'write' | 'user' | 'execute' } | undefined;
  for (let i = 0; i < t.levels.length; i++) {
    const level = t.levels[i]!;
    const entry = t.entries[i]!;
    const e = Number(BigInt.asUintN(32, entry));
    const leaf = r >= 0 && i === t.levels.length - 1;
    const pdpte = p.mode === MODE_PAE && level === 3;
    const flags: WalkFlags = {
      present: (e & P) !== 0,
      write: pdpte || (e & RW) !== 0,
      user: pdpte || (e & US) !== 0,
      pwt: (e & PWT) !== 0,
      pcd: (e & PCD) !== 0,
      accessed: !pdpte && (e & A) !== 0,
    };
    if (p.mode !== MODE_LEGACY && !pdpte) flags.nx = entry >> 63n === 1n;
    if (level >= 2 && !pdpte) flags.pageSize = (e & PS) !== 0;
    if (leaf) {
      flags.dirty = (e & D) !== 0;
      flags.global = (e & G) !== 0;
      flags.pat = level === 1 ? (e & PS) !== 0 : (e & PAT_LARGE) !== 0;
    }
    const wl: WalkLevel = {
      level,
      name: levelName(p.mode, level),
      tableGpa: walkedGpa(t.tables[i]!),
      index: t.indexes[i]!,
      entryGpa: walkedGpa(t.tables[i]! + t.indexes[i]! * entrySize),
      entry,
      flags,
      leaf,
    };
    if (leaf) wl.pageSize = t.pageSize;
    levels.push(wl);
    if (!flags.present) continue;
    allRw &&= flags.write;
    allUs &&= flags.user;
    const nx = p.nxe && flags.nx === true;
    anyNx ||= nx;
    if (access && !denied) {
      if (user && !flags.user) denied = { level, what: 'user' };
      else if (access.write && !flags.write && (user || p.wp)) denied = { level, what: 'write' };
      else if (access.execute && nx) denied = { level, what: 'execute' };
    }
  }
  const effective = {
    write: allRw || (!user && !p.wp),
    user: allUs,
    execute: !anyNx && !(!user && p.smep && allUs),
  };
  // Without paging everything is allowed; a walk that does not translate allows nothing.
  if (p.mode === MODE_NONE) effective.write = effective.user = effective.execute = true;
  else if (r < 0) effective.write = effective.user = effective.execute = false;
  const result: WalkResult = { mode, gva, levels, effective };
  if (r >= 0) {
    result.gpa = walkedGpa(r);
    if (p.mode !== MODE_NONE) result.pageSize = t.pageSize;
    if (denied) {
      result.fault = { kind: 'permission', level: denied.level, name: levelName(p.mode, denied.level), denied: denied.what };
    } else if (access && !user && allUs && p.mode !== MODE_NONE) {
      const leafLevel = t.levels[t.levels.length - 1]!;
      const name = levelName(p.mode, leafLevel);
      if (access.execute && p.smep) result.fault = { kind: 'permission', level: leafLevel, name, denied: 'smep' };
      else if (!access.execute && p.smap && !access.ac) result.fault = { kind: 'permission', level: leafLevel, name, denied: 'smap' };
    }
    return result;
  }
  switch (r) {
    case F_NON_CANONICAL:
      result.fault = { kind: 'non-canonical' };
      break;
    case F_NO_TABLE:
      result.fault = { kind: 'table-not-in-memory', level: t.faultLevel, gpa: walkedGpa(t.faultTable) };
      break;
    case F_RESERVED:
      result.fault = { kind: 'reserved-bit', level: t.faultLevel, name: levelName(p.mode, t.faultLevel), bits: t.rsvd };
      break;
    default:
      result.fault = { kind: 'not-present', level: t.faultLevel, name: levelName(p.mode, t.faultLevel) };
  }
  return result;
}
