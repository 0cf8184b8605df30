// The piecewise parse (yaml-chunks.ts) must give exactly what the whole parse gives: the same diagnostics, ranges,
// source map and spec, on real specs and on hundreds of mutations of them, edited one after another through one
// cache as the language server does.

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSpec } from './parse';
import { NOT_PIECEWISE, YamlChunkCache } from './yaml-chunks';

const ROOT = path.resolve(__dirname, '..', '..');
const FILE = path.join(ROOT, 'examples', 'hello', 'hello.vmspec');

/** Everything a parse result says, as comparable text (bigints spelled out, the source map's entries included). */
function snapshot(text: string, pieces?: YamlChunkCache): string {
  const r = parseSpec(text, FILE, pieces ? { pieces } : {});
  const entries = (r.ranges as unknown as { entries: Map<string, unknown> }).entries;
  return JSON.stringify({ d: r.diagnostics, m: [...entries], s: r.spec }, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** Equal snapshots, or a failure that shows where they part (the snapshots themselves are long). */
function same(text: string, pieces: YamlChunkCache, what: string): void {
  const a = snapshot(text, pieces);
  const b = snapshot(text);
  if (a === b) return;
  let i = 0;
  while (a[i] === b[i]) i++;
  assert.fail(`${what}: piecewise ...${a.slice(Math.max(0, i - 80), i + 80)}\nwhole     ...${b.slice(Math.max(0, i - 80), i + 80)}\ntext:\n${text}`);
}

/** A small deterministic generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORPUS: string[] = [
  ...['examples/hello/hello.vmspec', 'examples/real-mode/real.vmspec', 'test/guests/smp.vmspec', 'test/guests/msr.vmspec'].map((f) =>
    fs.readFileSync(path.join(ROOT, f), 'utf8'),
  ),
  ...fs.readdirSync(path.join(ROOT, 'syntaxes', 'tests')).map((f) => fs.readFileSync(path.join(ROOT, 'syntaxes', 'tests', f), 'utf8')),
  [
    '# leading comment',
    'name: pieces',
    'memory: 16MiB',
    'boot:',
    '  image: build/hello.elf',
    '  entry: _start',
    'regions:',
    '  # a comment before the first item',
    '  - name: a',
    '    gpa: 0x100000000',
    '    size: 4KiB',
    '    kind: mmio',
    '',
    '  - name: b',
    '    gpa: 0x100001000',
    '    size: 4KiB',
    '    kind: mmio',
    '  # trailing',
    'devices:',
    '- kind: uart',
    '  port: 0x3f8',
    'debug:',
    '  break-on-exit: [io, hlt]',
    '',
  ].join('\n'),
  'name: crlf\r\nmemory: 1MiB\r\nregions:\r\n  - name: x\r\n    gpa: 0x200000\r\n    size: 4KiB\r\n',
];

const LINES = ['  - name: dup', '    gpa: 0x100000000', 'memory: 2MiB', 'regions:', '- x', '  -', 'name: again', '    size: 3KiB', '  kind: rom', '&a 1', '*a', '---', '"open', '[1,', '  # c', ''];

function mutate(text: string, next: () => number): string {
  const lines = text.split('\n');
  const at = Math.floor(next() * lines.length);
  switch (Math.floor(next() * 6)) {
    case 0:
      lines.splice(at, 1);
      return lines.join('\n');
    case 1:
      lines.splice(at, 0, LINES[Math.floor(next() * LINES.length)]!);
      return lines.join('\n');
    case 2:
      return text.slice(0, Math.floor(next() * text.length));
    case 3: {
      const i = Math.floor(next() * text.length);
      return text.slice(0, i) + String.fromCharCode(32 + Math.floor(next() * 95)) + text.slice(i + 1);
    }
    case 4:
      lines.splice(at, 0, lines[at] ?? '');
      return lines.join('\n');
    default:
      lines[at] = ' ' + (lines[at] ?? '');
      return lines.join('\n');
  }
}

test('the piecewise parse equals the whole parse on the corpus and 1,500 mutations edited in sequence', () => {
  const next = rng(20261122);
  let compared = 0;
  let joined = 0;
  const missed: string[] = [];
  for (const base of CORPUS) {
    const pieces = new YamlChunkCache();
    same(base, pieces, 'original');
    let text = base;
    for (let i = 0; i < 150; i++) {
      // Mostly small edits of the previous version (the cache's case), sometimes a fresh mutation of the original.
      text = mutate(i % 3 === 2 ? base : text, next);
      same(text, pieces, `mutation ${i} of corpus entry ${CORPUS.indexOf(base)}`);
      compared++;
      if (pieces.joinedLast) joined++;
      else if (!NOT_PIECEWISE.test(text) && !parseSpec(text, FILE).diagnostics.some((d) => d.code.startsWith('yaml') || d.code === 'duplicate-key')) {
        if (/^[A-Za-z]/.test(text) && text.includes(":")) missed.push(text);
      }
    }
  }
  assert.ok(compared >= 1500);
  // Most mutations must take the piecewise path, or this test would compare the whole parse with itself.
  assert.deepEqual(missed.slice(0, 3), [], `${missed.length} clean texts were parsed whole`);
  assert.ok(joined > compared / 5, `${joined} of ${compared} joined from pieces`);
});

test('an edit inside one region re-parses that region only', () => {
  const regions = Array.from({ length: 50 }, (_, i) => `  - name: r${i}\n    gpa: 0x${(0x100000000 + i * 0x1000).toString(16)}\n    size: 4KiB\n    kind: mmio`);
  const text = `name: big\nmemory: 16MiB\nboot:\n  image: build/hello.elf\nregions:\n${regions.join('\n')}\n`;
  const pieces = new YamlChunkCache();
  parseSpec(text, FILE, { pieces });
  assert.equal(pieces.parsedLast, 54); // name, memory, boot, the `regions:` line and 50 items
  const edited = text.replace('name: r17\n', 'name: r17x\n');
  const r = parseSpec(edited, FILE, { pieces });
  assert.equal(pieces.parsedLast, 1);
  assert.equal(r.spec?.regions[17]?.name, 'r17x');
  same(edited, pieces, 'edited');
});

test('anchors, document markers and duplicate keys fall back to the whole parse', () => {
  for (const text of ['a: &x 1\nb: *x\n', '---\nname: x\n', 'name: a\nname: b\n']) {
    const pieces = new YamlChunkCache();
    same(text, pieces, 'fallback');
  }
});
