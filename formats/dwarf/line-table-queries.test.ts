// The line table's queries (lookup, lineRange, resolve, matchFile) on real
// builds of fixtures/ (fixture-builds.ts), each answer checked against readelf's
// rows (readelf-reference.ts) or the fixtures' marked lines.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { hex } from '../../common/address';
import { parseElf } from '../elf';
import { FIXTURES, buildC, buildRaw, cv, lineOf } from './fixture-builds';
import { LineTable } from './line-table';
import { expectedSequences, refPick, refResolve, type RefRow } from './readelf-reference';

test('lookup in the middle of a row gives the row and its start address', () => {
  for (const name of ['gcc-dwarf4-O0', 'gcc-dwarf5-O0', 'gcc-dwarf5-O1-m32']) {
    const fx = buildC(cv(name));
    const table = LineTable.fromElf(fx.bytes);
    const seqs = expectedSequences(fx);
    let checked = 0;
    for (const s of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        const r = s[i]!;
        if (r.end || r.line === 0 || s[i + 1]!.address - r.address < 3n) continue;
        const mid = r.address + 1n;
        const got = table.lookup(mid);
        const want = refPick(s, i);
        if (want.line === 0) continue;
        assert.ok(got, `${name}: nothing at ${hex(mid)}`);
        assert.equal(got.file, want.file);
        assert.equal(got.line, want.line);
        assert.equal(got.address, r.address);
        checked++;
      }
    }
    assert.ok(checked > 5, `${name}: only ${checked} rows span 3+ bytes`);
  }
});

test('lookup of main gives the line of main in main.c; outside all code, undefined', () => {
  for (const name of ['gcc-dwarf4-O0', 'gcc-dwarf5-O0', 'gcc-dwarf4-O1-m32']) {
    const fx = buildC(cv(name));
    const table = LineTable.fromElf(fx.bytes);
    const main = parseElf(fx.bytes).symbols.find((s) => s.name === 'main')!;
    const at = table.lookup(main.value);
    const sig = lineOf(fx, 'main.c', 'int main(void)');
    assert.equal(at?.file, path.join(fx.src, 'main.c'));
    assert.ok(at.line === sig || at.line === sig + 1, `${name}: main is at line ${at.line}, expected ${sig} or its brace`);
    assert.equal(at.address, main.value);
    const last = table.rows[table.rows.length - 1]!;
    assert.equal(last.endSequence, true);
    assert.equal(table.lookup(last.address), undefined);
    assert.equal(table.lookup(table.rows[0]!.address - 1n), undefined);
    assert.equal(table.lookup(0xffff_ffff_ffff_ffffn), undefined);
  }
});

test('lineRange merges consecutive rows of one line and stops at the next line', () => {
  // raw.S's second sequence has two rows for one line, then another line.
  const fx = buildRaw();
  const table = LineTable.fromElf(fx.bytes);
  const seq = expectedSequences(fx)[0]!;
  assert.equal(seq[0]!.line, seq[1]!.line, 'raw.S no longer starts with a two-row line');
  assert.notEqual(seq[2]!.line, seq[0]!.line);
  assert.deepEqual(table.lineRange(seq[1]!.address + 1n), { start: seq[0]!.address, end: seq[2]!.address });
  // ...and a C build has lines split over several rows too.
  const c = buildC(cv('gcc-dwarf4-O0'));
  const ct = LineTable.fromElf(c.bytes);
  const merged = expectedSequences(c).some((s) =>
    s.some((r, i) => {
      const range = ct.lineRange(r.address);
      return !r.end && range !== undefined && s[i + 1] !== undefined && range.end > s[i + 1]!.address && range.start <= r.address;
    }),
  );
  assert.ok(merged, 'no line in the -O0 build spans two rows');
});

test('lookup and lineRange are undefined on line 0 rows', () => {
  const fx = buildRaw();
  const table = LineTable.fromElf(fx.bytes);
  const zero = expectedSequences(fx)
    .flat()
    .find((r) => r.line === 0 && !r.end);
  assert.ok(zero, 'raw.S has no line-0 row');
  assert.equal(table.lookup(zero.address), undefined);
  assert.equal(table.lookup(zero.address + 1n), undefined);
  assert.equal(table.lineRange(zero.address), undefined);
});

test('resolve on a comment or blank line moves to the next line with code', () => {
  for (const name of ['gcc-dwarf4-O0', 'gcc-dwarf5-O0', 'gcc-dwarf5-O1', 'gcc-dwarf4-O1-m32']) {
    const fx = buildC(cv(name));
    const table = LineTable.fromElf(fx.bytes);
    const mainC = path.join(fx.src, 'main.c');
    const comment = lineOf(fx, 'main.c', '@comment-line');
    const target = lineOf(fx, 'main.c', '@after-comment');
    assert.ok(target > comment + 1, 'the fixture lost its blank line');
    const expected = refResolve(expectedSequences(fx), mainC, target);
    assert.ok(expected && expected.line === target && expected.addresses.length > 0);
    for (const line of [comment, comment + 1, target]) {
      assert.deepEqual(table.resolve(mainC, line), { file: mainC, line: target, addresses: expected.addresses }, `${name}: line ${line}`);
    }
    assert.equal(table.resolve(mainC, 100000), undefined);
    assert.equal(table.resolve(path.join(fx.src, 'nothere.c'), 1), undefined);
  }
});

test('resolve gives one address per sequence (an inline in two units), and agrees with readelf for every line', () => {
  for (const name of ['gcc-dwarf4-O1', 'gcc-dwarf5-O0', 'gcc-dwarf5-O1', 'gcc-dwarf5-O1-m32']) {
    const fx = buildC(cv(name));
    const table = LineTable.fromElf(fx.bytes);
    const seqs = expectedSequences(fx);
    const utilH = path.join(fx.src, 'lib/util.h');
    const body = lineOf(fx, 'lib/util.h', '@twice-body');
    const got = table.resolve(utilH, body);
    assert.ok(got && got.line === body, `${name}: twice() body did not resolve`);
    assert.ok(got.addresses.length >= 2, `${name}: twice() should be in both units, got ${got.addresses.map((a) => hex(a))}`);
    resolvesLikeReference(table, seqs, name);
  }
});

test('resolve agrees with readelf on raw.S, where a row at a sequence end holds no instruction', () => {
  const fx = buildRaw();
  const table = LineTable.fromElf(fx.bytes);
  const seqs = expectedSequences(fx);
  const atEnd = seqs.find((s) => s.length >= 2 && s[s.length - 2]!.stmt && s[s.length - 2]!.address === s[s.length - 1]!.address);
  assert.ok(atEnd, 'raw.S has no is_stmt row at a sequence end');
  const r = atEnd[atEnd.length - 2]!;
  assert.notDeepEqual(table.resolve(r.file, r.line)?.addresses, [r.address]);
  resolvesLikeReference(table, seqs, 'raw');
});

function resolvesLikeReference(table: LineTable, seqs: RefRow[][], name: string): void {
  const maxLine = Math.max(...table.rows.map((r) => r.line));
  for (const file of table.files()) {
    for (let line = 0; line <= maxLine + 1; line++) {
      const want = refResolve(seqs, file, line);
      assert.deepEqual(table.resolve(file, line), want && { file, ...want }, `${name}: ${file}:${line}`);
    }
  }
}

test('matchFile: exact path, a checkout in another directory, ambiguity, no match', () => {
  const fx = buildC(cv('gcc-dwarf5-O0'));
  const table = LineTable.fromElf(fx.bytes);
  const src = fx.src;
  assert.equal(table.matchFile(path.join(src, 'main.c')), path.join(src, 'main.c'));
  assert.equal(table.matchFile(`${src}/lib/../main.c`), path.join(src, 'main.c'));
  assert.equal(table.matchFile(`${src}/lib/x/../util.h`), path.join(src, 'lib/util.h'));
  // The repository's own fixtures/ is the same tree checked out elsewhere.
  assert.equal(table.matchFile(path.join(FIXTURES, 'main.c')), path.join(src, 'main.c'));
  assert.equal(table.matchFile(path.join(FIXTURES, 'lib/util.h')), path.join(src, 'lib/util.h'));
  assert.equal(table.matchFile('/home/someone/checkout/other/util.h'), path.join(src, 'other/util.h'));
  assert.equal(table.matchFile('lib/util.c'), path.join(src, 'lib/util.c'));
  assert.equal(table.matchFile('/elsewhere/util.h'), undefined, 'two util.h: ambiguous');
  assert.equal(table.matchFile('/elsewhere/nothere.c'), undefined);
  assert.equal(table.matchFile('/elsewhere/main.c.orig'), undefined);
  const moved = table.resolve(path.join(FIXTURES, 'main.c'), lineOf(fx, 'main.c', '@after-comment'));
  assert.equal(moved?.file, path.join(src, 'main.c'));
});

test('an ELF without debug info gives an empty table', () => {
  const fx = buildC({ name: 'gcc-nodebug', cflags: ['-g0', '-O1'] });
  assert.equal(
    parseElf(fx.bytes).sections.some((s) => s.name.startsWith('.debug_')),
    false,
  );
  const table = LineTable.fromElf(fx.bytes);
  assert.equal(table.rows.length, 0);
  assert.deepEqual(table.files(), []);
  assert.equal(table.lookup(0x100000n), undefined);
  assert.equal(table.lineRange(0x100000n), undefined);
  assert.equal(table.resolve('main.c', 1), undefined);
  assert.equal(table.matchFile('main.c'), undefined);
});
