// Unit tests for size and address parsing and formatting (vmspec/units.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHex, formatRange, formatSize, looksNumeric, parseAddress, parseIntegerLiteral, parseSize } from './units';

function ok<T>(r: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!r.ok) assert.fail(`expected success, got: ${r.message}`);
  return r.value;
}

function err(r: { ok: boolean; message?: string; suggestion?: string }): { message: string; suggestion?: string } {
  if (r.ok) assert.fail('expected a parse failure');
  return { message: r.message ?? '', ...(r.suggestion !== undefined ? { suggestion: r.suggestion } : {}) };
}

test('integer literals in every base, with underscores between digits', () => {
  assert.equal(ok(parseIntegerLiteral('4096')), 4096n);
  assert.equal(ok(parseIntegerLiteral('0x3F8')), 0x3f8n);
  assert.equal(ok(parseIntegerLiteral('0o17')), 15n);
  assert.equal(ok(parseIntegerLiteral('0b1010')), 10n);
  assert.equal(ok(parseIntegerLiteral('1_000_000')), 1000000n);
  assert.equal(ok(parseIntegerLiteral(' 0xffff_ffff_8100_0000 ')), 0xffffffff81000000n);
  assert.equal(ok(parseIntegerLiteral('-0x10')), -16n);
});

test('malformed integer literals are rejected', () => {
  for (const bad of ['', '_1', '1_', '1__0', '0x', '0x_10', '0b102', '0o8', '12abc', '1.5', 'ten']) {
    assert.equal(parseIntegerLiteral(bad).ok, false, `"${bad}" should not parse`);
  }
});

test('sizes with binary suffixes, spaces, hex and exact fractions', () => {
  assert.equal(ok(parseSize('16MiB')), 16n * 1024n * 1024n);
  assert.equal(ok(parseSize('4 KiB')), 4096n);
  assert.equal(ok(parseSize('1GiB')), 1n << 30n);
  assert.equal(ok(parseSize('2TiB')), 2n << 40n);
  assert.equal(ok(parseSize('16 mib')), 16n << 20n);
  assert.equal(ok(parseSize('0x10 MiB')), 16n << 20n);
  assert.equal(ok(parseSize('1.5GiB')), 3n << 29n);
  assert.equal(ok(parseSize('512 bytes')), 512n);
  assert.equal(ok(parseSize('1_024')), 1024n);
  assert.equal(ok(parseSize(12345n)), 12345n);
});

test('fractions that are not a whole number of bytes are rejected', () => {
  assert.match(err(parseSize('1.3KiB')).message, /whole number of bytes/);
});

test('SI and ambiguous suffixes are rejected with the binary spelling as the fix', () => {
  const cases: [string, string][] = [
    ['16MB', '16MiB'],
    ['16M', '16MiB'],
    ['16mb', '16MiB'],
    ['4k', '4KiB'],
    ['4KB', '4KiB'],
    ['1G', '1GiB'],
    ['2Mi', '2MiB'],
    ['1 TB', '1TiB'],
  ];
  for (const [input, fix] of cases) {
    const e = err(parseSize(input));
    assert.equal(e.suggestion, fix, input);
    assert.match(e.message, /binary/, input);
    assert.ok(e.message.includes(fix), `message for ${input} names ${fix}: ${e.message}`);
  }
});

test('unknown suffixes and garbage are rejected without a suggestion', () => {
  const e = err(parseSize('3 furlongs'));
  assert.match(e.message, /unknown size suffix "furlongs"/);
  assert.equal(e.suggestion, undefined);
  assert.equal(parseSize('lots').ok, false);
  assert.equal(parseSize('').ok, false);
});

test('addresses: integers and binary sizes, exact to 64 bits', () => {
  assert.equal(ok(parseAddress('0xffffffff81000000')), 0xffffffff81000000n);
  assert.equal(ok(parseAddress('0xffff_ffff_ffff_ffff')), (1n << 64n) - 1n);
  assert.equal(ok(parseAddress('3GiB')), 0xc0000000n);
  assert.equal(ok(parseAddress(0x7c00n)), 0x7c00n);
  assert.match(err(parseAddress('main')).message, /not an address/);
  assert.equal(err(parseAddress('1M')).suggestion, '1MiB');
});

test('looksNumeric separates numbers from symbol names', () => {
  assert.equal(looksNumeric('0x100'), true);
  assert.equal(looksNumeric('1MiB'), true);
  assert.equal(looksNumeric('_start'), false);
  assert.equal(looksNumeric('kernel_main'), false);
});

test('formatSize picks the largest exact unit', () => {
  assert.equal(formatSize(16 * 1024 * 1024), '16 MiB');
  assert.equal(formatSize(4096), '4 KiB');
  assert.equal(formatSize(1536), '1.5 KiB');
  assert.equal(formatSize(3n << 29n), '1.5 GiB');
  assert.equal(formatSize(16 * 1024 * 1024 + 1), '16777217 bytes');
  assert.equal(formatSize(1000), '1000 bytes');
  assert.equal(formatSize(1), '1 byte');
  assert.equal(formatSize(0), '0 bytes');
  assert.equal(formatSize(2 ** 52), '4096 TiB');
});

test('formatSize output parses back to the same number', () => {
  for (const n of [0n, 1n, 999n, 1024n, 1536n, 4095n, 1n << 20n, (1n << 20n) + 512n, (1n << 30n) * 3n, 1n << 44n, 12345678n]) {
    assert.equal(ok(parseSize(formatSize(n))), n, formatSize(n));
  }
});

test('formatHex pads, groups and keeps the sign', () => {
  assert.equal(formatHex(0x3f8), '0x3f8');
  assert.equal(formatHex(0), '0x0');
  assert.equal(formatHex(0xf4, { pad: 4 }), '0x00f4');
  assert.equal(formatHex(0xffffffff81000000n, { group: true }), '0xffff_ffff_8100_0000');
  assert.equal(formatHex(0x12345, { group: true }), '0x1_2345');
  assert.equal(formatHex(-16), '-0x10');
  assert.equal(ok(parseIntegerLiteral(formatHex(0xffffffff81000000n, { group: true }))), 0xffffffff81000000n);
  assert.equal(formatRange(0xd0000000, 0xd0001000), '[0xd0000000, 0xd0001000)');
});
