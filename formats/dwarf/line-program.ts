// Decodes .debug_line (DWARF 2–5, 32- and 64-bit DWARF): each unit's header
// (directory and file tables, in the v2–4 string lists or the v5 entry
// formats) and its line-number program, run through the state machine of
// DWARF 5 section 6.2.2 into rows grouped by sequence. Every read is bounded by
// the unit, and every opcode consumes at least one byte, so a malformed unit
// ends in a DwarfError rather than a crash or a loop.

import * as path from 'node:path';
import * as C from './constants';
import { readForm, type StringSections, type UnitEncoding } from './forms';
import { ByteReader, readUnitLength } from './reader';
import type { CompileUnit } from './units';

// DWARF paths come from the (Linux) build host, whatever the debugger runs on.
const posix = path.posix;

export interface LineRow {
  readonly address: bigint;
  /** Absolute when the unit records an absolute directory (compilers do), path.normalize'd. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly isStmt: boolean;
  /** The first address after the sequence; the row's file and line mean nothing. */
  readonly endSequence: boolean;
}

export interface LineSectionInput {
  line: Uint8Array;
  /**
   * The unit whose DW_AT_stmt_list is this offset, for the comp dir that DWARF
   * 2–4 paths are relative to. Asked only for DWARF 2–4 tables.
   */
  unitFor(stmtList: number): CompileUnit | undefined;
  strings: StringSections;
  /** Addresses wrap at this width (the ELF class), as they do on the target. */
  addressSize: 4 | 8;
}

interface FileEntry {
  name: string;
  dir: number;
}

interface Header {
  version: number;
  minInstLength: number;
  maxOps: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  standardLengths: number[];
  /** Index 0 is the comp dir in every version (implicit in v2–4, explicit in v5). */
  dirs: Array<string | undefined>;
  files: FileEntry[];
  /** 1 in DWARF 2–4 (file 0 does not exist), 0 in DWARF 5. */
  firstFile: number;
  /** The owning unit (DWARF 2–4 only), for its comp dir and for error messages. */
  unit: CompileUnit | undefined;
}

function under(base: string | undefined, p: string): string {
  return base !== undefined && base !== '' && !posix.isAbsolute(p) ? posix.join(base, p) : p;
}

/** Every sequence of every unit, in section order; each sequence's last row is its end_sequence row (when present). */
export function decodeLineSection(input: LineSectionInput): LineRow[][] {
  const sequences: LineRow[][] = [];
  const section = new ByteReader(input.line, '.debug_line');
  while (section.remaining > 0) {
    const offset = section.pos;
    const { end, offsetSize } = readUnitLength(section);
    const r = new ByteReader(input.line, `.debug_line unit at 0x${offset.toString(16)}`, section.pos, end);
    section.pos = end;
    const header = readHeader(r, offsetSize, offset, input);
    runProgram(r, header, input.addressSize, sequences);
  }
  return sequences;
}

function readHeader(r: ByteReader, offsetSize: 4 | 8, offset: number, input: LineSectionInput): Header {
  const version = r.u16('version');
  if (version < 2 || version > 5) r.fail(`unsupported line table version ${version} (this reader handles DWARF 2–5)`, r.pos - 2);
  const unit = version <= 4 ? input.unitFor(offset) : undefined;
  let addressSize: number = input.addressSize;
  if (version >= 5) {
    addressSize = r.u8('address size');
    r.u8('segment selector size');
  }
  const headerLength = r.offset(offsetSize, 'header length');
  const hr = r.sub(headerLength, 'line table header');
  const minInstLength = hr.u8('minimum instruction length');
  const maxOps = version >= 4 ? hr.u8('maximum operations per instruction') : 1;
  if (maxOps === 0) hr.fail('maximum operations per instruction is 0', hr.pos - 1);
  const defaultIsStmt = hr.u8('default_is_stmt') !== 0;
  const lineBase = hr.i8('line base');
  const lineRange = hr.u8('line range');
  if (lineRange === 0) hr.fail('line range is 0', hr.pos - 1);
  const opcodeBase = hr.u8('opcode base');
  if (opcodeBase === 0) hr.fail('opcode base is 0', hr.pos - 1);
  const standardLengths = [0];
  for (let i = 1; i < opcodeBase; i++) standardLengths.push(hr.u8('standard opcode lengths'));

  const dirs: Array<string | undefined> = [];
  const files: FileEntry[] = [];
  if (version >= 5) {
    const enc: UnitEncoding = { version, offsetSize, addressSize };
    const rawDirs = readEntryTable(hr, enc, input.strings, 'directory');
    for (const d of rawDirs) dirs.push(d.name);
    // Directory 0 is the comp dir itself.
    for (let i = 1; i < dirs.length; i++) dirs[i] = under(dirs[0], dirs[i]!);
    files.push(...readEntryTable(hr, enc, input.strings, 'file name'));
  } else {
    dirs.push(unit?.compDir);
    for (;;) {
      const d = hr.cstr('include directory');
      if (d === '') break;
      dirs.push(under(unit?.compDir, d));
    }
    for (;;) {
      const name = hr.cstr('file name');
      if (name === '') break;
      files.push(readV4FileRest(hr, name));
    }
  }
  // Producers may pad the header (header_length is authoritative); hr is discarded here.
  return { version, minInstLength, maxOps, defaultIsStmt, lineBase, lineRange, opcodeBase, standardLengths, dirs, files, firstFile: version >= 5 ? 0 : 1, unit };
}

function readV4FileRest(r: ByteReader, name: string): FileEntry {
  const dir = r.uleb('file directory index');
  r.skipLeb('file modification time');
  r.skipLeb('file length');
  return { name, dir };
}

/** A DWARF 5 directory or file table: entry formats, then entries. */
function readEntryTable(r: ByteReader, enc: UnitEncoding, strings: StringSections, what: string): FileEntry[] {
  const formatCount = r.u8(`${what} entry format count`);
  const format: Array<{ type: number; form: number }> = [];
  for (let i = 0; i < formatCount; i++) format.push({ type: r.uleb(`${what} content type`), form: r.uleb(`${what} form`) });
  const countAt = r.pos;
  const count = r.uleb(`${what} count`);
  if (count > 0 && !format.some((f) => f.type === C.DW_LNCT_path)) r.fail(`${what} entries have no DW_LNCT_path`, countAt);
  // Each entry holds a path, so at least a byte: a larger count cannot be real, and bounds the loop.
  if (count > r.remaining) r.fail(`${what} count ${count} exceeds the ${r.remaining} bytes left in the header`, countAt);
  const entries: FileEntry[] = [];
  for (let i = 0; i < count; i++) {
    let name: string | undefined;
    let dir = 0;
    for (const f of format) {
      const at = r.pos;
      const v = readForm(r, f.form, enc, strings);
      if (f.type === C.DW_LNCT_path) {
        if (v.kind !== 'string') r.fail(`${what} ${i} has a path of form 0x${f.form.toString(16)}, which this reader cannot resolve`, at);
        name = v.value;
      } else if (f.type === C.DW_LNCT_directory_index) {
        if (v.kind !== 'uint' || v.value > BigInt(Number.MAX_SAFE_INTEGER)) r.fail(`${what} ${i} has a directory index of form 0x${f.form.toString(16)}`, at);
        dir = Number(v.value);
      }
    }
    entries.push({ name: name!, dir });
  }
  return entries;
}

function runProgram(r: ByteReader, h: Header, addressSize: 4 | 8, sequences: LineRow[][]): void {
  const unit = h.unit;
  const mask = (1n << BigInt(addressSize * 8)) - 1n;
  const minInst = BigInt(h.minInstLength);
  const resolved = new Map<number, string>();
  const fileName = (index: number, at: number): string => {
    const hit = resolved.get(index);
    if (hit !== undefined) return hit;
    const f = h.files[index - h.firstFile];
    if (!f) {
      const range = h.files.length === 0 ? 'no files' : `files ${h.firstFile}..${h.files.length - 1 + h.firstFile}`;
      r.fail(`row uses file ${index}, but the table has ${range}${unit?.name ? ` (unit ${unit.name})` : ''}`, at);
    }
    if (f.dir >= h.dirs.length) r.fail(`file ${index} (${f.name}) uses directory ${f.dir}, but the table has ${h.dirs.length}`, at);
    const p = posix.normalize(under(h.dirs[f.dir], f.name));
    resolved.set(index, p);
    return p;
  };

  let address = 0n;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = h.defaultIsStmt;
  let seq: LineRow[] = [];
  const reset = (): void => {
    address = 0n;
    opIndex = 0;
    file = 1;
    line = 1;
    column = 0;
    isStmt = h.defaultIsStmt;
  };
  const emit = (endSequence: boolean, at: number): void => {
    if (line < 0 || line > 0xffffffff) r.fail(`line number ${line} is out of range`, at);
    seq.push({ address, file: fileName(file, at), line, column, isStmt, endSequence });
  };
  const advance = (operationAdvance: number): void => {
    if (h.maxOps === 1) {
      address = (address + minInst * BigInt(operationAdvance)) & mask;
    } else {
      const total = opIndex + operationAdvance;
      address = (address + minInst * BigInt(Math.floor(total / h.maxOps))) & mask;
      opIndex = total % h.maxOps;
    }
  };

  while (r.remaining > 0) {
    const at = r.pos;
    const op = r.u8('opcode');
    if (op >= h.opcodeBase) {
      const adjusted = op - h.opcodeBase;
      advance(Math.floor(adjusted / h.lineRange));
      line += h.lineBase + (adjusted % h.lineRange);
      emit(false, at);
    } else if (op === 0) {
      const len = r.uleb('extended opcode length');
      const x = r.sub(len, 'extended opcode');
      const sub = x.u8('extended opcode');
      switch (sub) {
        case C.DW_LNE_end_sequence:
          emit(true, at);
          sequences.push(seq);
          seq = [];
          reset();
          break;
        case C.DW_LNE_set_address:
          address = x.uintN(len - 1, 'DW_LNE_set_address operand') & mask;
          opIndex = 0;
          break;
        case C.DW_LNE_define_file:
          // Reserved in DWARF 5; there it is skipped like any unknown extended opcode.
          if (h.version <= 4) h.files.push(readV4FileRest(x, x.cstr('DW_LNE_define_file name')));
          break;
        case C.DW_LNE_set_discriminator:
        default:
          // Discriminators only tell blocks on one line apart; unknown opcodes carry their length.
          break;
      }
    } else if (op <= C.DW_LNS_set_isa) {
      switch (op) {
        case C.DW_LNS_copy:
          emit(false, at);
          break;
        case C.DW_LNS_advance_pc:
          advance(r.uleb('DW_LNS_advance_pc operand'));
          break;
        case C.DW_LNS_advance_line:
          line += r.sleb('DW_LNS_advance_line operand');
          break;
        case C.DW_LNS_set_file:
          file = r.uleb('DW_LNS_set_file operand');
          break;
        case C.DW_LNS_set_column:
          column = r.uleb('DW_LNS_set_column operand');
          break;
        case C.DW_LNS_negate_stmt:
          isStmt = !isStmt;
          break;
        case C.DW_LNS_const_add_pc:
          advance(Math.floor((255 - h.opcodeBase) / h.lineRange));
          break;
        case C.DW_LNS_fixed_advance_pc:
          address = (address + BigInt(r.u16('DW_LNS_fixed_advance_pc operand'))) & mask;
          opIndex = 0;
          break;
        case C.DW_LNS_set_isa:
          r.skipLeb('DW_LNS_set_isa operand');
          break;
        default:
          // set_basic_block, set_prologue_end, set_epilogue_begin: flags this table does not keep.
          break;
      }
    } else {
      // A standard opcode newer than this reader: the header says how many ULEB operands it takes.
      for (let i = 0; i < h.standardLengths[op]!; i++) r.skipLeb(`operand of standard opcode ${op}`);
    }
  }
  // A unit that stops without DW_LNE_end_sequence: keep its rows, which simply cover nothing past the last.
  if (seq.length > 0) sequences.push(seq);
}
