// Source lines of a guest ELF from its DWARF line tables (.debug_line, v2–5):
// address -> file:line for stack frames, file:line -> addresses for source
// breakpoints, and the address range of a line for stepping. Pure data over
// the image bytes; the debug adapter decides what to do with it.

import * as path from 'node:path';
import { parseElf } from '../elf';
import { decodeLineSection, type LineRow } from './line-program';
import { debugSections, hasAllocatedZero } from './sections';
import { readCompileUnits, type CompileUnit } from './units';

export type { LineRow } from './line-program';
export { DwarfError } from './reader';

// Paths in DWARF are the build host's (POSIX) paths.
const posix = path.posix;

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  /** Address where this row starts. */
  address: bigint;
}

/** The bytes [start, end) that one row describes. */
interface Span {
  start: bigint;
  end: bigint;
  row: number;
  seq: number;
}

interface StmtRow {
  line: number;
  address: bigint;
  seq: number;
}

/**
 * The row an address belongs to when rows block..last all start at it
 * (gcc emits "views" there: a function's opening line, its first statement,
 * then the lines of code inlined into it). Without inline information, the
 * best guess at the line the user wrote: the last statement row in the file
 * of the first statement row with a line at or after that row's line
 * (inlined helpers usually sit above their
 * callers, or in headers). So `{` (45) then `outb(...)` (46) then the inlined
 * outb (31, 33) gives 46; `outb(...)` (59) then the inlined outb gives 59.
 * With no statement row, the last row.
 */
export function representativeRow(seq: readonly LineRow[], block: number, last: number): number {
  let first = -1;
  let pick = last;
  for (let b = block; b <= last; b++) {
    const r = seq[b]!;
    if (!r.isStmt) continue;
    if (first < 0) {
      first = b;
      pick = b;
    } else if (r.file === seq[first]!.file && r.line >= seq[first]!.line) {
      pick = b;
    }
  }
  return pick;
}

export class LineTable {
  /** Sorted by each sequence's first address; a sequence's rows stay together and in program order. */
  readonly rows: readonly LineRow[];
  /** Rows that cover at least one byte, by start address. Sequences do not overlap in a linked image. */
  private readonly spans: Span[] = [];
  private readonly fileSet: ReadonlySet<string>;
  private stmtByFile?: Map<string, StmtRow[]>;
  private readonly seqRanges: Array<{ first: number; last: number }> = [];

  /** An empty table (not an error) when the file has no .debug_line. Throws DwarfError on malformed DWARF. */
  static fromElf(bytes: Uint8Array): LineTable {
    const elf = parseElf(bytes);
    const sections = debugSections(bytes, elf);
    if (!sections.line || sections.line.length === 0) return new LineTable([]);
    let units: Map<number, CompileUnit> | undefined;
    const unitFor = (stmtList: number): CompileUnit | undefined => {
      // Read only when a DWARF 2–4 table needs its comp dir: DWARF 5 tables name it themselves.
      if (!units) {
        units = new Map();
        for (const u of readCompileUnits(sections.info, sections.abbrev, sections)) {
          if (u.stmtList !== undefined && !units.has(u.stmtList)) units.set(u.stmtList, u);
        }
      }
      return units.get(stmtList);
    };
    let sequences = decodeLineSection({ line: sections.line, unitFor, strings: sections, addressSize: elf.bits === 64 ? 8 : 4 });
    if (!hasAllocatedZero(elf)) sequences = sequences.filter((s) => s[0]!.address !== 0n);
    return new LineTable(sequences);
  }

  /** Prefer fromElf; this takes already decoded sequences (each ending with its end_sequence row). */
  constructor(sequences: ReadonlyArray<readonly LineRow[]>) {
    // Array.prototype.sort is stable, so sequences starting at one address keep section order.
    const sorted = sequences.filter((s) => s.length > 0).sort((a, b) => cmp(a[0]!.address, b[0]!.address));
    const rows: LineRow[] = [];
    const files = new Set<string>();
    sorted.forEach((seq, k) => {
      const first = rows.length;
      let block = 0; // index in seq of the first row at the current address
      for (let j = 0; j < seq.length; j++) {
        const row = seq[j]!;
        const next = seq[j + 1];
        if (j > 0 && row.address !== seq[j - 1]!.address) block = j;
        if (!row.endSequence) files.add(row.file);
        if (!row.endSequence && next && next.address > row.address) {
          const pick = representativeRow(seq, block, j);
          this.spans.push({ start: row.address, end: next.address, row: first + pick, seq: k });
        }
        rows.push(row);
      }
      this.seqRanges.push({ first, last: rows.length - 1 });
    });
    this.spans.sort((a, b) => cmp(a.start, b.start));
    this.rows = rows;
    this.fileSet = files;
  }

  private spanIndex(addr: bigint): number | undefined {
    let lo = 0;
    let hi = this.spans.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.spans[mid]!.start <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0 || addr >= this.spans[best]!.end) return undefined;
    return this.rows[this.spans[best]!.row]!.line === 0 ? undefined : best;
  }

  lookup(addr: bigint): SourceLocation | undefined {
    const i = this.spanIndex(addr);
    if (i === undefined) return undefined;
    const span = this.spans[i]!;
    const row = this.rows[span.row]!;
    return { file: row.file, line: row.line, column: row.column, address: span.start };
  }

  /**
   * The address range of the source line containing addr: the maximal run of
   * consecutive rows of one sequence with the same file and line. Rows that
   * cover no bytes do not break the run, so the range is exactly the addresses
   * around addr for which lookup() reports this file and line.
   */
  lineRange(addr: bigint): { start: bigint; end: bigint } | undefined {
    const i = this.spanIndex(addr);
    if (i === undefined) return undefined;
    const here = this.rows[this.spans[i]!.row]!;
    const same = (k: number): boolean => {
      const s = this.spans[k];
      if (!s || s.seq !== this.spans[i]!.seq) return false;
      const r = this.rows[s.row]!;
      return r.line === here.line && r.file === here.file;
    };
    let lo = i;
    while (same(lo - 1) && this.spans[lo - 1]!.end === this.spans[lo]!.start) lo--;
    let hi = i;
    while (same(hi + 1) && this.spans[hi]!.end === this.spans[hi + 1]!.start) hi++;
    return { start: this.spans[lo]!.start, end: this.spans[hi]!.end };
  }

  /**
   * Breakpoint addresses for file:line. `file` goes through matchFile first.
   * A line without is_stmt code moves to the next line in that file that has
   * some (as gdb and lldb do); the result reports the line actually used. One
   * address per sequence, its lowest, sorted.
   */
  resolve(file: string, line: number): { file: string; line: number; addresses: bigint[] } | undefined {
    const f = this.matchFile(file);
    if (f === undefined) return undefined;
    const candidates = this.stmtRows().get(f) ?? [];
    let best = Infinity;
    for (const c of candidates) if (c.line >= line && c.line < best) best = c.line;
    if (best === Infinity) return undefined;
    const lowest = new Map<number, bigint>();
    for (const c of candidates) {
      if (c.line !== best) continue;
      const cur = lowest.get(c.seq);
      if (cur === undefined || c.address < cur) lowest.set(c.seq, c.address);
    }
    const addresses = [...new Set(lowest.values())].sort(cmp);
    return { file: f, line: best, addresses };
  }

  /** is_stmt rows by file, built on first use; rows that start at or past their sequence's end hold no instruction. */
  private stmtRows(): Map<string, StmtRow[]> {
    if (this.stmtByFile) return this.stmtByFile;
    const byFile = new Map<string, StmtRow[]>();
    this.seqRanges.forEach(({ first, last }, seq) => {
      const endRow = this.rows[last]!;
      const end = endRow.endSequence ? endRow.address : undefined;
      for (let j = first; j <= last; j++) {
        const r = this.rows[j]!;
        if (r.endSequence || !r.isStmt || r.line === 0) continue;
        if (end !== undefined && r.address >= end) continue;
        let list = byFile.get(r.file);
        if (!list) byFile.set(r.file, (list = []));
        list.push({ line: r.line, address: r.address, seq });
      }
    });
    this.stmtByFile = byFile;
    return byFile;
  }

  /**
   * The table's name for a path an editor gives: the exact (normalized) path if
   * the table has it, else the one file sharing the longest run of trailing
   * path components with it (a checkout moved to another directory). Undefined
   * when nothing shares even the base name, or when the best match is a tie.
   */
  matchFile(file: string): string | undefined {
    const want = posix.normalize(file);
    if (this.fileSet.has(want)) return want;
    const wantParts = want.split('/').filter((p) => p !== '' && p !== '.');
    let best: string | undefined;
    let bestScore = 0;
    let tie = false;
    for (const f of this.fileSet) {
      const parts = f.split('/').filter((p) => p !== '' && p !== '.');
      let n = 0;
      while (n < parts.length && n < wantParts.length && parts[parts.length - 1 - n] === wantParts[wantParts.length - 1 - n]) n++;
      if (n > bestScore) {
        best = f;
        bestScore = n;
        tie = false;
      } else if (n === bestScore && n > 0) {
        tie = true;
      }
    }
    return tie ? undefined : best;
  }

  /** Files that have at least one row, sorted. */
  files(): string[] {
    return [...this.fileSet].sort();
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
