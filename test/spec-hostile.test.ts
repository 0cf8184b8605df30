// Reduced cases of what the spec fuzzer (fuzz/specs.ts) and the probe found, one test per class.

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseSpec } from '../vmspec/parse';
import { loadSpecFile, formatDiagnostic } from '../vmspec/load';
import { checkImage, imageFacts } from '../vmspec/image-checks';
import { checkHost } from '../vmspec/host-checks';
import { escapeText, quoteText, safeMessage, MAX_MESSAGE } from '../vmspec/message-text';
import { MAX_DIAGNOSTICS } from '../vmspec/schema-walk';
import { readRegularFile } from '../common/read-file';
import { schemaPaths, withEmptyKey } from '../fuzz/spec-cases';

const DIR = path.resolve(__dirname, '..', '..', 'examples', 'hello');
const FILE = path.join(DIR, 'fuzz.vmspec');

test('an empty value for any key (~, null, nothing) never throws and leaves no key without its value', () => {
  for (const p of schemaPaths()) {
    for (const empty of ['~', 'null', '']) {
      const text = withEmptyKey(p, empty);
      const r = parseSpec(text, FILE);
      const all = [...r.diagnostics, ...checkImage(r), ...checkHost(r)];
      for (const d of all) assert.ok(d.message.length > 0);
      if (r.spec) {
        // The probe's case: `boot.load: ~` left load undefined, and the builder died converting it.
        assert.equal(typeof r.spec.boot.load, 'number', `${p.join('.')}: ${empty}`);
      }
    }
  }
});

test('a special file as spec or image is refused without reading it: /dev/zero, /dev/urandom, a FIFO', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-special-'));
  try {
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const f of ['/dev/zero', '/dev/urandom', fifo]) {
      const spec = loadSpecFile(f);
      assert.equal(spec.diagnostics[0]?.code, 'unreadable-file');
      assert.match(spec.diagnostics[0]!.message, /not a regular file/);
      const facts = imageFacts(f);
      assert.ok('missing' in facts && /not a regular file/.test(facts.missing), JSON.stringify(facts));
      const r = readRegularFile(f, 1 << 20);
      assert.equal(r.ok, false);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('a spec over the size limit is refused before it is read or parsed', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-big-'));
  try {
    const big = path.join(tmp, 'big.vmspec');
    fs.writeFileSync(big, `name: a\n# ${'x'.repeat(300 * 1024)}\n`);
    const r = loadSpecFile(big);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['too-large']);
    assert.deepEqual(parseSpec(fs.readFileSync(big, 'utf8'), big).diagnostics.map((d) => d.code), ['too-large']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('10,000-level nesting is one too-large diagnostic at a stable position, not a stack overflow', () => {
  for (const body of ['['.repeat(10_000), '{a: '.repeat(10_000), `\n${'- '.repeat(10_000)}x`]) {
    const text = `name: a\nboot: { image: a }\nx: ${body}\n`;
    const a = parseSpec(text, FILE).diagnostics;
    const b = parseSpec(text, FILE).diagnostics;
    assert.deepEqual(a.map((d) => d.code), ['too-large']);
    assert.deepEqual(a, b);
    assert.doesNotMatch(a[0]!.message, /call stack/);
  }
});

test('50,000 unknown and duplicate keys: at most 200 problems described, the rest counted', () => {
  const text = `name: a\nboot: { image: a }\n${Array.from({ length: 50_000 }, (_, i) => `k${i % 10_000}: ${i}`).join('\n').slice(0, 200_000)}\n`;
  const r = parseSpec(text, FILE);
  assert.equal(r.diagnostics.length, MAX_DIAGNOSTICS + 1);
  assert.match(r.diagnostics.find((d) => d.code === 'too-large')!.message, /more problems are not shown/);
});

test('spec text in messages is escaped and cut: no escape sequence or 7.5 KB line reaches a terminal', () => {
  const r = parseSpec(`name: a\nboot: { image: a }\n"\u001b[2Jkey\u202e": 1\n"${'\u0001'.repeat(7_500)}": 2\n`, FILE);
  for (const d of r.diagnostics) {
    const line = formatDiagnostic('f.vmspec', d);
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e]/);
    assert.ok(line.length < 600, `${line.length} characters`);
  }
  assert.equal(quoteText('\u001b[2J'), '"\\e[2J"');
  assert.equal(escapeText('a'.repeat(100), 10), `${'a'.repeat(10)}…`);
  assert.equal(escapeText('😀'), '😀');
  assert.ok(safeMessage('x'.repeat(10_000)).length <= MAX_MESSAGE + 1);
  // A file name with control characters is escaped too.
  assert.match(formatDiagnostic('a\u001bb', r.diagnostics[0]!), /^a\\eb:/);
});

test('memory between 4 and 8 GiB is one reserved-overlap error on memory, with a fix', () => {
  for (const mem of ['4080MiB', '4GiB', '6GiB', '8GiB']) {
    const r = parseSpec(`name: a\nmemory: ${mem}\nboot: { image: a }\n`, FILE);
    const d = r.diagnostics.find((x) => x.code === 'reserved-overlap');
    assert.ok(d, mem);
    assert.deepEqual(d.range.start, { line: 1, character: 8 });
    assert.equal(d.suggestion, '4079MiB');
  }
  assert.equal(parseSpec('name: a\nmemory: 4079MiB\nboot: { image: a }\n', FILE).diagnostics.filter((d) => d.code === 'reserved-overlap').length, 0);
  const rom = parseSpec('name: a\nboot: { image: a }\nregions:\n  - { name: r, gpa: 0xfe000000, size: 32MiB, kind: rom }\n', FILE);
  assert.ok(rom.diagnostics.some((d) => d.code === 'reserved-overlap'));
});
