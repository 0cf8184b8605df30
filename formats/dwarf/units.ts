// Just enough of .debug_info and .debug_abbrev to name each compilation unit's
// line table and its directory: DW_AT_stmt_list, DW_AT_comp_dir and DW_AT_name
// of the first DIE of every unit. DWARF 2–4 line tables hold paths relative to
// DW_AT_comp_dir, which only .debug_info records. Only the unit DIE is read, so
// the rest of the tree (and its forms) never needs decoding.

import * as C from './constants';
import { readForm, type FormValue, type StringSections, type UnitEncoding } from './forms';
import { ByteReader, DwarfError, readUnitLength } from './reader';

export interface CompileUnit {
  /** Offset of the unit header in .debug_info. */
  offset: number;
  version: number;
  /** Offset of the unit's line table in .debug_line. */
  stmtList?: number;
  name?: string;
  compDir?: string;
}

interface AttrSpec {
  name: number;
  form: number;
}

interface Abbrev {
  tag: number;
  attrs: AttrSpec[];
}

function readAbbrevTable(section: Uint8Array, offset: number): Map<number, Abbrev> {
  if (offset >= section.length) throw new DwarfError(`.debug_abbrev: abbreviation table offset 0x${offset.toString(16)} is past the end of the section (${section.length} bytes)`);
  const r = new ByteReader(section, '.debug_abbrev', offset);
  const table = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb('abbreviation code');
    if (code === 0) return table;
    const tag = r.uleb('abbreviation tag');
    r.u8('children flag');
    const attrs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb('attribute name');
      const form = r.uleb('attribute form');
      if (name === 0 && form === 0) break;
      if (form === C.DW_FORM_implicit_const) r.skipLeb('implicit constant');
      attrs.push({ name, form });
    }
    table.set(code, { tag, attrs });
  }
}

function asString(v: FormValue): string | undefined {
  return v.kind === 'string' ? v.value : undefined;
}

/**
 * Every compilation unit in .debug_info, in section order. Units of a version
 * or type this reader does not know are skipped by their length: they cannot
 * own a line table that this reader would then fail to place.
 */
export function readCompileUnits(info: Uint8Array | undefined, abbrev: Uint8Array | undefined, strings: StringSections): CompileUnit[] {
  if (!info || info.length === 0) return [];
  if (!abbrev) throw new DwarfError('.debug_info is present but .debug_abbrev is missing');
  const tables = new Map<number, Map<number, Abbrev>>();
  const units: CompileUnit[] = [];
  const section = new ByteReader(info, '.debug_info');
  while (section.remaining > 0) {
    const offset = section.pos;
    const { end, offsetSize } = readUnitLength(section);
    const r: ByteReader = new ByteReader(info, `.debug_info unit at 0x${offset.toString(16)}`, section.pos, end);
    section.pos = end;
    const version = r.u16('unit version');
    if (version < 2 || version > 5) continue;
    let abbrevOffset: number;
    let addressSize: number;
    if (version >= 5) {
      const unitType = r.u8('unit type');
      addressSize = r.u8('address size');
      abbrevOffset = r.offset(offsetSize, 'abbreviation offset');
      if (unitType === C.DW_UT_skeleton || unitType === C.DW_UT_split_compile) r.skip(8, 'DWO id');
      // Type units (and unit types after DWARF 5) own no line table of their own.
      else if (unitType !== C.DW_UT_compile && unitType !== C.DW_UT_partial) continue;
    } else {
      abbrevOffset = r.offset(offsetSize, 'abbreviation offset');
      addressSize = r.u8('address size');
    }
    if (addressSize < 1 || addressSize > 8) r.fail(`unsupported address size ${addressSize}`);
    const code = r.uleb('abbreviation code');
    if (code === 0) continue;
    let table = tables.get(abbrevOffset);
    if (!table) {
      table = readAbbrevTable(abbrev, abbrevOffset);
      tables.set(abbrevOffset, table);
    }
    const entry = table.get(code);
    if (!entry) r.fail(`abbreviation code ${code} is not in the table at .debug_abbrev offset 0x${abbrevOffset.toString(16)}`);
    if (entry.tag !== C.DW_TAG_compile_unit && entry.tag !== C.DW_TAG_partial_unit && entry.tag !== C.DW_TAG_skeleton_unit) continue;
    const enc: UnitEncoding = { version, offsetSize, addressSize };
    const unit: CompileUnit = { offset, version };
    for (const a of entry.attrs) {
      const at = r.pos;
      const v = readForm(r, a.form, enc, strings);
      if (a.name === C.DW_AT_stmt_list) {
        if (v.kind !== 'uint') r.fail(`DW_AT_stmt_list has form 0x${a.form.toString(16)}, which is not a section offset`, at);
        if (v.value > BigInt(Number.MAX_SAFE_INTEGER)) r.fail('DW_AT_stmt_list is too large', at);
        unit.stmtList = Number(v.value);
      } else if (a.name === C.DW_AT_comp_dir) {
        unit.compDir = asString(v);
      } else if (a.name === C.DW_AT_name) {
        unit.name = asString(v);
      }
    }
    units.push(unit);
  }
  return units;
}
