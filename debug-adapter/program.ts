// What the debugger knows about the guest's code: symbols and DWARF line
// tables from the boot image and any extra symbol files, and the executable
// address ranges. Answers "where is this address" and "where is this line".

import * as fs from 'node:fs';
import { isElf, parseElf } from '../formats/elf';
import type { ImageSymbol } from '../formats/elf';
import { LineTable, type SourceLocation } from '../formats/dwarf/line-table';
import { SymbolIndex } from './symbols';

export interface CodeRange {
  start: bigint;
  end: bigint;
}

export class ProgramInfo {
  readonly symbols: SymbolIndex;
  private readonly byName = new Map<string, ImageSymbol>();

  private constructor(
    symbols: ImageSymbol[],
    private readonly tables: LineTable[],
    private readonly code: CodeRange[],
    /** Problems loading extra symbol files, to tell the user. */
    readonly warnings: string[],
  ) {
    this.symbols = new SymbolIndex(symbols);
    for (const s of symbols) if (!this.byName.has(s.name) || s.global) this.byName.set(s.name, s);
  }

  /** Loads symbols and lines from ELF files; the first is the boot image (flat images contribute nothing). */
  static load(files: ReadonlyArray<{ path: string; bytes?: Uint8Array }>): ProgramInfo {
    const symbols: ImageSymbol[] = [];
    const tables: LineTable[] = [];
    const code: CodeRange[] = [];
    const warnings: string[] = [];
    for (const f of files) {
      let bytes: Uint8Array;
      try {
        bytes = f.bytes ?? fs.readFileSync(f.path);
      } catch (e) {
        warnings.push(`cannot read symbol file ${f.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        continue;
      }
      if (!isElf(bytes)) continue;
      try {
        const elf = parseElf(bytes);
        symbols.push(...elf.symbols);
        for (const p of elf.programHeaders) {
          if (p.type === 1 && p.flags & 1 && p.memsz > 0) code.push({ start: p.vaddr, end: p.vaddr + BigInt(p.memsz) });
        }
        tables.push(LineTable.fromElf(bytes));
      } catch (e) {
        warnings.push(`${f.path}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return new ProgramInfo(symbols, tables, code, warnings);
  }

  isCode(addr: bigint): boolean {
    return this.code.some((r) => addr >= r.start && addr < r.end);
  }

  symbolize(addr: bigint): string | undefined {
    return this.symbols.lookup(addr) ? this.symbols.describe(addr) : undefined;
  }

  functionStart(addr: bigint): bigint | undefined {
    return this.symbols.lookup(addr)?.symbol.value;
  }

  /**
   * Where a function breakpoint goes: past the prologue, at the start of the
   * function's second source line (as gdb and lldb do), when line info says
   * where that is; else the function's first byte.
   */
  afterPrologue(fn: ImageSymbol): bigint {
    const first = this.lineRange(fn.value);
    if (!first) return fn.value;
    const end = fn.size > 0 ? fn.value + BigInt(fn.size) : undefined;
    const next = first.end;
    if (end !== undefined && next >= end) return fn.value;
    const loc = this.location(next);
    return loc && loc.address === next ? next : fn.value;
  }

  symbol(name: string): ImageSymbol | undefined {
    return this.byName.get(name);
  }

  allSymbols(): ImageSymbol[] {
    return [...this.byName.values()];
  }

  location(addr: bigint): SourceLocation | undefined {
    for (const t of this.tables) {
      const l = t.lookup(addr);
      if (l) return l;
    }
    return undefined;
  }

  lineRange(addr: bigint): { start: bigint; end: bigint } | undefined {
    for (const t of this.tables) {
      const r = t.lineRange(addr);
      if (r) return r;
    }
    return undefined;
  }

  resolveLine(file: string, line: number): { file: string; line: number; addresses: bigint[] } | undefined {
    for (const t of this.tables) {
      const f = t.matchFile(file);
      if (!f) continue;
      const r = t.resolve(f, line);
      if (r) return r;
    }
    return undefined;
  }

  hasLineInfo(): boolean {
    return this.tables.some((t) => t.rows.length > 0);
  }
}
