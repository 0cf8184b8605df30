// The short, seeded version of the spec fuzzer (fuzz/specs.ts): every hostile spec (alias bombs, 10,000-level
// nesting, a 50 MB file, binary garbage, special-file images, empty values for every key, memory between 4 and
// 8 GiB) and 40 mutated examples, through the real language server and `vmscope check` in process; the real
// CLI process on a sample. Any finding (a crash, an unanswered request, a version without diagnostics, a line
// check prints that is not file:line:col, check and the server disagreeing) fails it.

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runSpecs } from '../fuzz/specs';
import { hostileCases, loadCorpus } from '../fuzz/spec-cases';

test('spec fuzzing: hostile specs and 40 mutated examples give no findings', { timeout: 240_000 }, async () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-fuzz-specs-'));
  try {
    const hostile = hostileCases(loadCorpus(path.resolve(__dirname, '..', '..')), '/nonexistent', 7).length;
    const r = await runSpecs({ runs: hostile + 40, seed: 7, workDir, log: () => undefined, cliEvery: 10, cliHostileEvery: 8 });
    assert.deepEqual(r.findings.map((f) => `#${f.index}: ${f.what}`), []);
    assert.equal(r.figures['server crashes'], '0');
    assert.equal(r.figures.unanswered, '0');
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
});
