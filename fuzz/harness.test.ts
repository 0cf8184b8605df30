import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable, percentile } from './harness';

test('formatTable lines the columns up and lists the figures', () => {
  const t = formatTable([
    { part: 'guests', runs: 10000, findings: [], figures: { 'wall': '512 s' } },
    { part: 'dap', runs: 5, findings: [{ index: 3, what: 'no response to next' }], figures: {} },
  ]);
  const lines = t.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^part\s+runs\s+findings\s+figures$/);
  assert.match(lines[2]!, /^guests\s+10000\s+0\s+wall 512 s$/);
  assert.match(lines[3]!, /^dap\s+5\s+1$/);
  assert.equal(lines[2]!.indexOf('10000'), lines[0]!.indexOf('runs'));
});

test('percentile is nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([5], 99), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
});
