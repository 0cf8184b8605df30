import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { specReferenceMarkdown, REFERENCE_BEGIN, REFERENCE_END } from './reference';

test('the reference lists every key with its default', () => {
  const md = specReferenceMarkdown();
  assert.match(md, /^\| `memory` \| size \| `16MiB` \|/m);
  assert.match(md, /^\| `boot.image` \| path \| required \|/m);
  assert.match(md, /^\| `regions\[\].kind` \| `ram` \\\| `rom` \\\| `mmio` \| required \|/m);
  assert.match(md, /^\| `devices.debug-exit.port` \| integer 0x0–0xffff \| `0xf4` \|/m);
});

test('docs/spec.md carries the current reference (run `npm run docs` after changing the schema)', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'spec.md'), 'utf8');
  const start = doc.indexOf(REFERENCE_BEGIN);
  const end = doc.indexOf(REFERENCE_END);
  assert.ok(start >= 0 && end > start, 'reference markers present');
  assert.equal(doc.slice(start + REFERENCE_BEGIN.length, end).trim(), specReferenceMarkdown().trim());
});
