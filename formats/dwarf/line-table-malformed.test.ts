// Malformed DWARF: hand-made corruptions of real builds (fixture-builds.ts)
// must throw a DwarfError that says what is wrong, and every truncation or
// random corruption must end in a DwarfError or a table, never a crash or a hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElf } from '../elf';
import { buildC, cv } from './fixture-builds';
import { DwarfError, LineTable } from './line-table';

function sectionOf(bytes: Uint8Array, name: string): { index: number; offset: number; size: number } {
  const sections = parseElf(bytes).sections;
  const index = sections.findIndex((s) => s.name === name);
  assert.ok(index >= 0, `no ${name}`);
  return { index, offset: sections[index]!.offset, size: sections[index]!.size };
}

function patched(bytes: Uint8Array, edit: (dv: DataView, copy: Uint8Array) => void): Uint8Array {
  const copy = Uint8Array.from(bytes);
  edit(new DataView(copy.buffer), copy);
  return copy;
}

function throwsDwarf(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => LineTable.fromElf(bytes),
    (e: unknown) => {
      assert.ok(e instanceof DwarfError, `expected a DwarfError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('corrupt sections throw a DwarfError that says what is wrong', () => {
  const v4 = buildC(cv('gcc-dwarf4-O0')).bytes;
  const v5 = buildC(cv('gcc-dwarf5-O1')).bytes;
  const line4 = sectionOf(v4, '.debug_line');
  const line5 = sectionOf(v5, '.debug_line');

  // A section header that points past the end of the file (ELF64: sh_size at +32).
  throwsDwarf(
    patched(v4, (dv) => {
      const shoff = Number(dv.getBigUint64(40, true));
      dv.setBigUint64(shoff + line4.index * dv.getUint16(58, true) + 32, BigInt(v4.length), true);
    }),
    /\.debug_line .*past the end of the file/,
  );
  throwsDwarf(
    patched(v4, (dv) => dv.setUint32(line4.offset, line4.size + 100, true)),
    /\.debug_line: unit length 0x[0-9a-f]+ runs past the end/,
  );
  throwsDwarf(
    patched(v5, (dv) => dv.setUint32(line5.offset, 0xfffffff3, true)),
    /reserved unit length/,
  );
  throwsDwarf(
    patched(v5, (dv) => dv.setUint16(line5.offset + 4, 9, true)),
    /\.debug_line unit at 0x0: unsupported line table version 9/,
  );
  // DWARF 4 header: length(4) version(2) header_length(4) min_inst max_ops default_is_stmt line_base line_range.
  throwsDwarf(
    patched(v4, (dv) => dv.setUint8(line4.offset + 14, 0)),
    /line range is 0/,
  );
  throwsDwarf(
    patched(v4, (dv) => dv.setUint32(line4.offset, 8, true)),
    /truncated line table header/,
  );
  // End the first unit three bytes into its first DW_LNE_set_address.
  throwsDwarf(
    patched(v4, (dv, b) => {
      const unit = b.subarray(line4.offset, line4.offset + line4.size);
      const at = unit.findIndex((x, i) => x === 0 && unit[i + 1] === 9 && unit[i + 2] === 2);
      assert.ok(at > 0);
      dv.setUint32(line4.offset, at + 3 - 4, true);
    }),
    /truncated extended opcode/,
  );
  // A file index past the table (DW_LNS_set_file 200 right after the header).
  throwsDwarf(
    patched(v4, (dv) => {
      const headerEnd = line4.offset + 10 + dv.getUint32(line4.offset + 6, true);
      dv.setUint8(headerEnd, 4);
      dv.setUint8(headerEnd + 1, 100);
      dv.setUint8(headerEnd + 2, 1);
    }),
    /row uses file 100, but the table has files 1\.\./,
  );
  // A DWARF 5 directory count larger than the header could hold (main.c's unit, 1-byte ULEBs).
  throwsDwarf(
    patched(v5, (dv, b) => {
      const fmtCount = line5.offset + 18 + b[line5.offset + 17]! - 1;
      assert.equal(b[fmtCount], 1, 'gcc changed its directory entry format');
      dv.setUint8(fmtCount + 3, 0x7f);
    }),
    /directory count 127 exceeds the \d+ bytes left in the header/,
  );
  // DWARF 4 paths need .debug_info: an abbreviation offset past .debug_abbrev.
  const info4 = sectionOf(v4, '.debug_info');
  throwsDwarf(
    patched(v4, (dv) => dv.setUint32(info4.offset + 6, 0x7fffffff, true)),
    /\.debug_abbrev: abbreviation table offset 0x7fffffff is past the end/,
  );
});

/** Fixed-seed xorshift, so a failure replays. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function decodesOrThrowsDwarfError(bytes: Uint8Array, what: string): 'ok' | 'error' {
  try {
    const t = LineTable.fromElf(bytes);
    // Exercise the queries too: they must cope with whatever rows came out.
    for (const r of t.rows.slice(0, 50)) {
      t.lookup(r.address);
      t.lineRange(r.address);
    }
    for (const f of t.files().slice(0, 3)) t.resolve(f, 1);
    return 'ok';
  } catch (e) {
    if (e instanceof DwarfError) return 'error';
    throw new Error(`${what}: ${String(e)} is not a DwarfError`);
  }
}

test('every truncation of a line table unit ends in a DwarfError or a table, never a crash', () => {
  for (const name of ['gcc-dwarf4-O0', 'gcc-dwarf5-O1', 'gcc-dwarf5-O1-dwarf64']) {
    const bytes = buildC(cv(name)).bytes;
    const line = sectionOf(bytes, '.debug_line');
    const is64 = new DataView(bytes.buffer, bytes.byteOffset).getUint32(line.offset, true) === 0xffffffff;
    const dv0 = new DataView(bytes.buffer, bytes.byteOffset);
    const unitLen = is64 ? Number(dv0.getBigUint64(line.offset + 4, true)) : dv0.getUint32(line.offset, true);
    let errors = 0;
    for (let n = 0; n <= unitLen; n++) {
      const b = patched(bytes, (dv) => (is64 ? dv.setBigUint64(line.offset + 4, BigInt(n), true) : dv.setUint32(line.offset, n, true)));
      if (decodesOrThrowsDwarfError(b, `${name} unit length ${n}`) === 'error') errors++;
    }
    assert.ok(errors > unitLen / 2, `${name}: only ${errors} of ${unitLen} truncations were rejected`);
  }
});

test('random corruption of the DWARF sections ends in a DwarfError or a table, never a crash or a hang', { timeout: 120_000 }, () => {
  const rand = prng(0x5eed);
  for (const name of ['gcc-dwarf4-O0', 'gcc-dwarf5-O1', 'gcc-dwarf4-O1-m32']) {
    const bytes = buildC(cv(name)).bytes;
    const targets = ['.debug_line', '.debug_info', '.debug_abbrev', '.debug_line_str', '.debug_str']
      .filter((n) => parseElf(bytes).sections.some((s) => s.name === n))
      .map((n) => sectionOf(bytes, n));
    let errors = 0;
    for (let i = 0; i < 400; i++) {
      const s = targets[Math.floor(rand() * targets.length)]!;
      const flips = 1 + Math.floor(rand() * 4);
      const b = patched(bytes, (_dv, copy) => {
        for (let k = 0; k < flips; k++) copy[s.offset + Math.floor(rand() * s.size)] = Math.floor(rand() * 256);
      });
      if (decodesOrThrowsDwarfError(b, `${name} corruption #${i}`) === 'error') errors++;
    }
    assert.ok(errors > 0, `${name}: no corruption was ever detected`);
  }
});
