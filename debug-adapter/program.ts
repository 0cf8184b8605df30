// What the debugger knows about the guest's code: symbols and DWARF line
// tables from the boot image and any extra symbol files (ELF or System.map:
// boot.symbols and the launch's `symbols`), and the executable address ranges. Answers "where is this address" and "where is this line".

import * as fs from 'node:fs';
import { isElf, parseElf } from '../formats/elf';
import type { ImageSymbol } from '../formats/elf';
import { LineTable, type SourceLocation } from '../formats/dwarf/line-table';
import { readSymbolFile } from '../vmm/loaders/symbols';
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

  /**
   * Loads symbols and lines from the boot image (an ELF; other formats contribute nothing) and from symbol files:
   * ELF files, or System.map files (symbols only, no lines). A placeholder System.map (Debian's) adds nothing.
   * Problems with a file whose role is 'boot-symbols' are not repeated as warnings: the machine's builder reads
   * and reports on boot.symbols itself.
   */
  static load(files: ReadonlyArray<{ path: string; bytes?: Uint8Array; role?: 'image' | 'symbols' | 'boot-symbols' }>): ProgramInfo {
    const symbols: ImageSymbol[] = [];
    const tables: LineTable[] = [];
    const code: CodeRange[] = [];
    const warnings: string[] = [];
    for (const f of files) {
      const warn = (text: string): void => {
        if (f.role !== 'boot-symbols') warnings.push(text);
      };
      let bytes: Uint8Array;
      try {
        bytes = f.bytes ?? fs.readFileSync(f.path);
      } catch (e) {
        warn(`cannot read symbol file ${f.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        continue;
      }
      if (!isElf(bytes)) {
        if ((f.role ?? 'image') === 'image') continue;
        try {
          const file = readSymbolFile(bytes);
          if (file.placeholder !== undefined) warn(`${f.path} is a placeholder System.map ("${file.placeholder}"): no symbols from it`);
          symbols.push(...file.symbols);
        } catch (e) {
          warn(`${f.path}: ${e instanceof Error ? e.message : String(e)}`);
        }
        continue;
      }
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

  /** In an executable segment of an ELF, or in a function a symbol file sizes (a System.map's text symbols, for images with no program headers such as a bzImage). */
  isCode(addr: bigint): boolean {
    return this.code.some((r) => addr >= r.start && addr < r.end) || this.symbols.lookup(addr)?.symbol.kind === 'func';
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
