// readelf as the reference for the DWARF line-table tests: its decoded rows for a build, and lookups, line ranges
// and breakpoint resolution written over those rows by brute force, independently of line-table.ts, so no
// expected number is typed into a test. Shared by the line-table tests (not itself a test).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { parseElf } from '../elf';
import { run, type Fixture } from './fixture-builds';

export interface RefRow {
  /** Absolute path: from readelf's file headers and the known comp dir, or by base name (see Fixture.checkPaths). */
  file: string;
  base: string;
  line: number;
  address: bigint;
  stmt: boolean;
  end: boolean;
}

/**
 * readelf's decoded rows, grouped into sequences, in section order. readelf
 * prints a row's base name, and the path (relative to the comp dir) only when
 * DW_LNS_set_file changes file. Rows before the first set_file of a unit are
 * in file 1, which readelf does not name (its "CU:" line is file 0 in DWARF 5):
 * those take the build's one source file with that base name.
 */
export function readelfSequences(fx: Fixture): RefRow[][] {
  const out = run('readelf', ['-W', '--debug-dump=decodedline', fx.elf]);
  const sequences: RefRow[][] = [];
  let current: RefRow[] = [];
  let cu = '';
  let header: string | undefined;
  for (const raw of out.split('\n')) {
    const text = raw.trimEnd();
    const row = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+|\d+)(?:\s+\d+)?(\s+x)?$/.exec(text);
    if (row) {
      const end = row[2] === '-';
      const base = row[1]!;
      let file: string;
      if (fx.checkPaths && header !== undefined) {
        file = path.resolve(fx.compDirFor(cu), header);
      } else {
        const named = fx.sources.filter((f) => path.basename(f) === base);
        assert.equal(named.length, 1, `${fx.name}: readelf does not name the file of a ${base} row and the base name is ambiguous; put the unit's own code first`);
        file = named[0]!;
      }
      current.push({
        file,
        base,
        line: end ? -1 : Number(row[2]),
        address: BigInt(row[3]!),
        stmt: row[4] !== undefined,
        end,
      });
      if (end) {
        sequences.push(current);
        current = [];
      }
      continue;
    }
    // File headers: "CU: ./main.c:", "lib/util.h:", "./main.c:[++]".
    const h = /^(CU: )?(\S.*?):(\[\+\+\])?$/.exec(text);
    if (h && !text.startsWith('Contents of')) {
      if (h[1]) {
        cu = h[2]!;
        header = undefined;
      } else {
        header = h[2]!;
      }
    }
  }
  assert.equal(current.length, 0, `${fx.name}: readelf output ends inside a sequence`);
  return sequences;
}

export function allocatedAtZero(bytes: Uint8Array): boolean {
  return parseElf(bytes).sections.some((s) => (s.flags & 2n) !== 0n && s.addr === 0n && s.size > 0);
}

/** What the table should hold: readelf's sequences minus discarded ones (at 0 with nothing loaded there), sorted stably. */
export function expectedSequences(fx: Fixture): RefRow[][] {
  let seqs = readelfSequences(fx);
  if (!allocatedAtZero(fx.bytes)) seqs = seqs.filter((s) => s[0]!.address !== 0n);
  return seqs.map((s, i) => ({ s, i })).sort((a, b) => (a.s[0]!.address < b.s[0]!.address ? -1 : a.s[0]!.address > b.s[0]!.address ? 1 : a.i - b.i)).map((x) => x.s);
}

/** The row covering addr, by a linear scan of readelf's rows. */
export function refLookup(seqs: RefRow[][], addr: bigint): { row: RefRow; seq: number } | undefined {
  for (let k = 0; k < seqs.length; k++) {
    const s = seqs[k]!;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = s[i]!;
      if (!r.end && r.address <= addr && addr < s[i + 1]!.address) {
        const pick = refPick(s, i);
        return pick.line === 0 ? undefined : { row: pick, seq: k };
      }
    }
  }
  return undefined;
}

/**
 * The row an address belongs to when several rows share it (inlined code's
 * views), written independently of representativeRow: of the statement rows
 * at that address in the first statement row's file and at or after its
 * line, the last; with no statement row, the last row.
 */
export function refPick(s: RefRow[], i: number): RefRow {
  let b = i;
  while (b > 0 && s[b - 1]!.address === s[i]!.address) b--;
  const stmts = s.slice(b, i + 1).filter((r) => r.stmt);
  if (stmts.length === 0) return s[i]!;
  const first = stmts[0]!;
  return stmts.filter((r) => r.file === first.file && r.line >= first.line).pop()!;
}

/** Walks byte by byte while the reference lookup stays on the same file, line and sequence. */
export function refLineRange(seqs: RefRow[][], addr: bigint): { start: bigint; end: bigint } | undefined {
  const here = refLookup(seqs, addr);
  if (!here) return undefined;
  const same = (a: bigint): boolean => {
    const x = refLookup(seqs, a);
    return x !== undefined && x.seq === here.seq && x.row.line === here.row.line && x.row.file === here.row.file && x.row.base === here.row.base;
  };
  let start = addr;
  while (same(start - 1n)) start--;
  let end = addr + 1n;
  while (same(end)) end++;
  return { start, end };
}

/** Every row start, the bytes either side of it, and the middle of its extent. */
export function probeAddresses(seqs: RefRow[][]): bigint[] {
  const out = new Set<bigint>([0n]);
  for (const s of seqs) {
    for (let i = 0; i < s.length; i++) {
      const a = s[i]!.address;
      for (const d of [-1n, 0n, 1n]) if (a + d >= 0n) out.add(a + d);
      const next = s[i + 1];
      if (next && next.address > a + 1n) out.add((a + next.address) / 2n);
    }
  }
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** gdb's rule over readelf's rows: the first line >= `line` with is_stmt code, lowest address per sequence. */
export function refResolve(seqs: RefRow[][], file: string, line: number): { line: number; addresses: bigint[] } | undefined {
  const cands: Array<{ line: number; address: bigint; seq: number }> = [];
  seqs.forEach((s, k) => {
    const end = s[s.length - 1]!.address;
    for (const r of s) if (!r.end && r.stmt && r.file === file && r.line >= line && r.line > 0 && r.address < end) cands.push({ line: r.line, address: r.address, seq: k });
  });
  if (cands.length === 0) return undefined;
  const best = Math.min(...cands.map((c) => c.line));
  const lowest = new Map<number, bigint>();
  for (const c of cands) if (c.line === best && (lowest.get(c.seq) ?? c.address + 1n) > c.address) lowest.set(c.seq, c.address);
  return { line: best, addresses: [...new Set(lowest.values())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
}
