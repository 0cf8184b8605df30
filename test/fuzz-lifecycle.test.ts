// The short lifecycle run (fuzz/lifecycle.ts): sessions in one long-lived
// adapter process leave no thread behind, and `vmscope run` stopped by SIGINT
// or SIGTERM exits with 130 or 143 and one line, leaving no process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lifecyclePart } from '../fuzz/lifecycle';
import { EMU_PROBLEM } from './kvm';

test('lifecycle fuzz: 6+6 adapter sessions and 6 signalled CLI runs find nothing', { skip: EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : false, timeout: 120_000 }, async () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-lifecycle-'));
  try {
    const r = await lifecyclePart.run({ runs: 6, seed: 20261205, workDir, log: () => {} });
    assert.deepEqual(r.findings, []);
    assert.equal(r.figures['cli runs'], '6');
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
});
