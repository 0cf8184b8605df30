// Checks the DWARF line-table reader against binutils. Guests are built at
// test time from fixtures/ (fixture-builds.ts) over a matrix of DWARF versions,
// -O levels, ELF classes, 64-bit DWARF and compressed sections; every decoded
// row is compared with `readelf --debug-dump=decodedline` (readelf-reference.ts),
// columns with llvm-dwarfdump, and lookups with a brute-force search over
// readelf's rows, so no expected number is typed here. The queries on real
// builds are in line-table-queries.test.ts, malformed input in
// line-table-malformed.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { hex } from '../../common/address';
import { parseElf } from '../elf';
import { ASM_VARIANTS, C_VARIANTS, RAW_FILES, buildC, buildRaw, cv, gas, hasTool, lineOf, run, type Fixture } from './fixture-builds';
import { LineTable } from './line-table';
import { allocatedAtZero, expectedSequences, probeAddresses, readelfSequences, refLineRange, refLookup, refResolve } from './readelf-reference';

// ---- rows against readelf, every build ------------------------------------

function checkAgainstReadelf(fx: Fixture): void {
  const table = LineTable.fromElf(fx.bytes);
  const expected = expectedSequences(fx);
  const fmt = (base: string, line: number, addr: bigint, stmt: boolean, end: boolean): string => `${base}:${end ? '-' : line} ${hex(addr)}${!end && stmt ? ' stmt' : ''}`;
  assert.deepEqual(
    table.rows.map((r) => fmt(path.basename(r.file), r.line, r.address, r.isStmt, r.endSequence)),
    expected.flat().map((r) => fmt(r.base, r.line, r.address, r.stmt, r.end)),
  );
  assert.ok(table.rows.length >= 8, `${fx.name}: too few rows for a meaningful comparison`);
  assert.deepEqual(
    table.rows.map((r) => r.file),
    expected.flat().map((r) => r.file),
  );
  for (const r of table.rows) assert.equal(r.file, path.posix.normalize(r.file));

  for (const a of probeAddresses(expected)) {
    const ref = refLookup(expected, a);
    const got = table.lookup(a);
    assert.deepEqual(
      got && { base: path.basename(got.file), line: got.line, address: got.address },
      ref && { base: ref.row.base, line: ref.row.line, address: ref.row.address },
      `${fx.name}: lookup(${hex(a)})`,
    );
    if (got) assert.equal(got.file, ref!.row.file);
    assert.deepEqual(table.lineRange(a), refLineRange(expected, a), `${fx.name}: lineRange(${hex(a)})`);
  }
}

/** Columns are not in readelf's decoded dump; llvm-dwarfdump prints them. */
function checkColumns(fx: Fixture): void {
  const out = run('llvm-dwarfdump', ['--debug-line', fx.elf]);
  const seqs: Array<Array<{ address: bigint; line: number; column: number; stmt: boolean; end: boolean }>> = [];
  let cur: (typeof seqs)[number] = [];
  for (const text of out.split('\n')) {
    const m = /^0x([0-9a-f]+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s*(.*)$/.exec(text.trimEnd());
    if (!m) continue;
    const end = m[4]!.includes('end_sequence');
    cur.push({ address: BigInt('0x' + m[1]), line: Number(m[2]), column: Number(m[3]), stmt: m[4]!.includes('is_stmt'), end });
    if (end) {
      seqs.push(cur);
      cur = [];
    }
  }
  const kept = allocatedAtZero(fx.bytes) ? seqs : seqs.filter((s) => s[0]!.address !== 0n);
  kept.sort((a, b) => (a[0]!.address < b[0]!.address ? -1 : a[0]!.address > b[0]!.address ? 1 : 0));
  const table = LineTable.fromElf(fx.bytes);
  // End rows: llvm-dwarfdump repeats the last line there; only their address means anything.
  const fmt = (a: bigint, line: number, col: number, stmt: boolean, end: boolean): string => (end ? `${hex(a)} end` : `${hex(a)} ${line}:${col}${stmt ? ' stmt' : ''}`);
  assert.deepEqual(
    table.rows.map((r) => fmt(r.address, r.line, r.column, r.isStmt, r.endSequence)),
    kept.flat().map((r) => fmt(r.address, r.line, r.column, r.stmt, r.end)),
  );
  assert.ok(table.rows.some((r) => r.column > 0), `${fx.name}: no columns at all`);
}

for (const v of C_VARIANTS) {
  test(`rows, lookup and lineRange match readelf: ${v.name}`, () => checkAgainstReadelf(buildC(v)));
  test(`columns match llvm-dwarfdump: ${v.name}`, { skip: hasTool('llvm-dwarfdump') ? false : 'llvm-dwarfdump not installed' }, () => checkColumns(buildC(v)));
}
for (const v of ASM_VARIANTS) {
  test(`rows, lookup and lineRange match readelf: ${v.name}`, { skip: v.needs && !hasTool(v.needs) ? `${v.needs} not installed` : false }, () => checkAgainstReadelf(v.build()));
}
test('rows, lookup and lineRange match readelf: hand-written raw.S', () => checkAgainstReadelf(buildRaw()));

// ---- the builds exercise what they claim to --------------------------------

test('the fixture matrix covers ELF32, 64-bit DWARF, compressed sections and every DWARF version', () => {
  const section = (fx: Fixture, name: string) => parseElf(fx.bytes).sections.find((s) => s.name === name)!;
  const lineVersions = (fx: Fixture): number[] => {
    const out = run('readelf', ['--debug-dump=rawline', fx.elf]);
    return [...out.matchAll(/DWARF Version:\s+(\d+)/g)].map((m) => Number(m[1]));
  };
  const unitVersions = (fx: Fixture): number[] => {
    const out = run('readelf', ['--debug-dump=info', fx.elf]);
    return [...out.matchAll(/^\s+Version:\s+(\d+)/gm)].map((m) => Number(m[1]));
  };
  assert.equal(parseElf(buildC(cv('gcc-dwarf5-O1-m32')).bytes).bits, 32);
  assert.equal(parseElf(gas('gas-dwarf2-32', ['--gdwarf-2'], 32)().bytes).bits, 32);
  const d64 = buildC(cv('gcc-dwarf5-O1-dwarf64'));
  const line64 = section(d64, '.debug_line');
  assert.equal(new DataView(d64.bytes.buffer, d64.bytes.byteOffset + line64.offset, 4).getUint32(0, true), 0xffffffff);
  assert.notEqual(section(buildC(cv('gcc-dwarf5-O1-gz')), '.debug_line').flags & 0x800n, 0n, 'the -gz build has no SHF_COMPRESSED .debug_line');
  assert.ok(lineVersions(buildC(cv('gcc-dwarf4-O0'))).includes(4));
  assert.ok(lineVersions(buildC(cv('gcc-dwarf5-O0'))).every((v) => v === 5));
  // gas writes no line table older than version 3; -gdwarf-2 shows in the .debug_info unit (and raw.S has a version 2 table).
  assert.ok(unitVersions(buildC(cv('gcc-dwarf2-O1'))).includes(2));
  assert.deepEqual(unitVersions(gas('gas-dwarf2-32', ['--gdwarf-2'], 32)()), [2]);
  assert.ok(lineVersions(buildC(cv('gcc-dwarf3-O0'))).includes(3));
  assert.deepEqual(lineVersions(gas('gas-dwarf3', ['--gdwarf-3'], 64)()), [3]);
  assert.deepEqual(lineVersions(gas('gas-dwarf5', ['--gdwarf-5'], 64)()), [5]);
  assert.deepEqual(lineVersions(buildRaw()), [3, 2, 5, 5, 4]);
});

test('every C build names the same absolute, normalized files', () => {
  for (const v of C_VARIANTS) {
    const fx = buildC(v);
    const src = fx.src;
    assert.deepEqual(
      LineTable.fromElf(fx.bytes).files(),
      [path.join(src, 'lib/util.c'), path.join(src, 'lib/util.h'), path.join(src, 'main.c'), path.join(src, 'other/util.h'), path.join(src, 'start.S')].sort(),
      v.name,
    );
  }
});

test('paths resolve against DW_AT_comp_dir, include directories and define_file (raw.S)', () => {
  assert.deepEqual(LineTable.fromElf(buildRaw().bytes).files(), RAW_FILES);
});

test('sequences discarded by --gc-sections (at address 0) are dropped', () => {
  const fx = buildC(cv('gcc-dwarf4-O1-gc'));
  assert.ok(
    readelfSequences(fx).some((s) => s[0]!.address === 0n),
    'the --gc-sections build has no discarded sequence, so this test checks nothing',
  );
  const table = LineTable.fromElf(fx.bytes);
  assert.ok(table.rows.every((r) => r.address !== 0n));
  assert.equal(table.lookup(0n), undefined);
  assert.equal(table.lookup(1n), undefined);
  // unused() exists only in the discarded sequence, so a breakpoint in it moves on to helper().
  const utilC = path.join(fx.src, 'lib/util.c');
  const unusedBody = lineOf(fx, 'lib/util.c', 'return a - 1;');
  assert.ok(readelfSequences(fx).some((s) => s[0]!.address === 0n && s.some((r) => r.file === utilC && r.line === unusedBody && r.stmt)));
  const got = table.resolve(utilC, unusedBody);
  assert.ok(got && got.line > unusedBody && got.addresses.every((a) => a !== 0n), `unused() resolved to ${JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v))}`);
  assert.deepEqual(got, { file: utilC, ...refResolve(expectedSequences(fx), utilC, unusedBody)! });
});
