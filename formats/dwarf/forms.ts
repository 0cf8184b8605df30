// Attribute values by form, shared by .debug_info DIEs and the DWARF 5 line
// table header (whose entry formats reuse DW_FORM_*). Every form is either
// decoded or stepped over by its exact size: one wrong size would misalign
// every attribute after it, so an unknown form is an error, not a guess.

import * as C from './constants';
import { ByteReader, stringAt } from './reader';

export interface UnitEncoding {
  version: number;
  offsetSize: 4 | 8;
  /** Size of DW_FORM_addr, and of DW_FORM_ref_addr in DWARF 2. */
  addressSize: number;
}

export interface StringSections {
  str?: Uint8Array;
  lineStr?: Uint8Array;
}

export type FormValue =
  | { kind: 'uint'; value: bigint }
  | { kind: 'string'; value: string }
  /** A string in .debug_str_offsets-indexed form, which needs DW_AT_str_offsets_base (not read here). */
  | { kind: 'strx'; index: number }
  /** Addresses, references, blocks, flags, signed data: read past, never needed here. */
  | { kind: 'other' };

const OTHER: FormValue = { kind: 'other' };

function uint(value: number | bigint): FormValue {
  return { kind: 'uint', value: BigInt(value) };
}

/** Reads one attribute value and leaves `r` after it. */
export function readForm(r: ByteReader, formIn: number, enc: UnitEncoding, strings: StringSections): FormValue {
  let form = formIn;
  // A loop rather than recursion: a run of DW_FORM_indirect bytes must not grow the stack.
  while (form === C.DW_FORM_indirect) form = r.uleb('DW_FORM_indirect form');
  switch (form) {
    case C.DW_FORM_addr:
      r.skip(enc.addressSize, 'DW_FORM_addr');
      return OTHER;
    case C.DW_FORM_data1:
      return uint(r.u8('DW_FORM_data1'));
    case C.DW_FORM_data2:
      return uint(r.u16('DW_FORM_data2'));
    case C.DW_FORM_data4:
      return uint(r.u32('DW_FORM_data4'));
    case C.DW_FORM_data8:
      return uint(r.u64('DW_FORM_data8'));
    case C.DW_FORM_udata:
      return uint(r.uleb('DW_FORM_udata'));
    case C.DW_FORM_sec_offset:
      return uint(r.offset(enc.offsetSize, 'DW_FORM_sec_offset'));
    case C.DW_FORM_string:
      return { kind: 'string', value: r.cstr('DW_FORM_string') };
    case C.DW_FORM_strp:
      return { kind: 'string', value: stringAt(strings.str, '.debug_str', r.offset(enc.offsetSize, 'DW_FORM_strp')) };
    case C.DW_FORM_line_strp:
      return { kind: 'string', value: stringAt(strings.lineStr, '.debug_line_str', r.offset(enc.offsetSize, 'DW_FORM_line_strp')) };
    case C.DW_FORM_strx:
    case C.DW_FORM_GNU_str_index:
      return { kind: 'strx', index: r.uleb('DW_FORM_strx') };
    case C.DW_FORM_strx1:
      return { kind: 'strx', index: r.u8('DW_FORM_strx1') };
    case C.DW_FORM_strx2:
      return { kind: 'strx', index: r.u16('DW_FORM_strx2') };
    case C.DW_FORM_strx3:
      return { kind: 'strx', index: Number(r.uintN(3, 'DW_FORM_strx3')) };
    case C.DW_FORM_strx4:
      return { kind: 'strx', index: r.u32('DW_FORM_strx4') };
    case C.DW_FORM_flag:
    case C.DW_FORM_ref1:
    case C.DW_FORM_addrx1:
      r.skip(1, 'attribute');
      return OTHER;
    case C.DW_FORM_ref2:
    case C.DW_FORM_addrx2:
      r.skip(2, 'attribute');
      return OTHER;
    case C.DW_FORM_addrx3:
      r.skip(3, 'attribute');
      return OTHER;
    case C.DW_FORM_ref4:
    case C.DW_FORM_ref_sup4:
    case C.DW_FORM_addrx4:
      r.skip(4, 'attribute');
      return OTHER;
    case C.DW_FORM_ref8:
    case C.DW_FORM_ref_sig8:
    case C.DW_FORM_ref_sup8:
      r.skip(8, 'attribute');
      return OTHER;
    case C.DW_FORM_data16:
      r.skip(16, 'DW_FORM_data16');
      return OTHER;
    case C.DW_FORM_ref_addr:
      // DWARF 2 sized DW_FORM_ref_addr like an address; DWARF 3 made it an offset.
      r.skip(enc.version <= 2 ? enc.addressSize : enc.offsetSize, 'DW_FORM_ref_addr');
      return OTHER;
    case C.DW_FORM_strp_sup:
    case C.DW_FORM_GNU_ref_alt:
    case C.DW_FORM_GNU_strp_alt:
      r.skip(enc.offsetSize, 'attribute');
      return OTHER;
    case C.DW_FORM_sdata:
    case C.DW_FORM_ref_udata:
    case C.DW_FORM_addrx:
    case C.DW_FORM_loclistx:
    case C.DW_FORM_rnglistx:
    case C.DW_FORM_GNU_addr_index:
      r.skipLeb('attribute');
      return OTHER;
    case C.DW_FORM_block1:
      r.skip(r.u8('DW_FORM_block1 length'), 'DW_FORM_block1');
      return OTHER;
    case C.DW_FORM_block2:
      r.skip(r.u16('DW_FORM_block2 length'), 'DW_FORM_block2');
      return OTHER;
    case C.DW_FORM_block4:
      r.skip(r.u32('DW_FORM_block4 length'), 'DW_FORM_block4');
      return OTHER;
    case C.DW_FORM_block:
    case C.DW_FORM_exprloc:
      r.skip(r.uleb('block length'), 'block');
      return OTHER;
    case C.DW_FORM_flag_present:
    case C.DW_FORM_implicit_const:
      // The value lives in the abbreviation (implicit_const) or is the form itself.
      return OTHER;
    default:
      return r.fail(`unknown attribute form 0x${form.toString(16)}`);
  }
}
