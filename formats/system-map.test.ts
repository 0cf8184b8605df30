import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeSystemMap, parseSystemMap } from './system-map';

test('System.map lines become symbols with kinds, binding and sizes to the next symbol', () => {
  const m = parseSystemMap('ffffffff81000000 T _text\nffffffff81000040 t secondary\nffffffff81000100 D some_data\nnot a line\n');
  assert.equal(m.placeholder, undefined);
  assert.equal(m.malformed, 1);
  assert.deepEqual(m.symbols.map((s) => [s.name, s.value, s.kind, s.global, s.size]), [
    ['_text', 0xffffffff81000000n, 'func', true, 0x40],
    ['secondary', 0xffffffff81000040n, 'func', false, 0xc0],
    ['some_data', 0xffffffff81000100n, 'object', true, 0],
  ]);
  assert.ok(looksLikeSystemMap('\nffffffff81000000 T _text\n'));
  assert.ok(!looksLikeSystemMap('\x7fELF'));
});

test("Debian's placeholder System.map is reported as a placeholder with no symbols", () => {
  const m = parseSystemMap('ffffffffffffffff B The real System.map is in the linux-image-6.1.0-18-cloud-amd64-dbg package\n');
  assert.deepEqual(m.symbols, []);
  assert.match(m.placeholder ?? '', /linux-image-6\.1\.0-18-cloud-amd64-dbg/);
});
