// The short seeded run of the fuzz harness's `guests` part (fuzz/guests.ts):
// random, mutated and device-hammering guests on the emulation backend, each
// must end with a reported end in time, leave no thread behind and print no
// stack trace; a sample also runs through the CLI. `npm run fuzz -- --part
// guests` runs the long version.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runGuests } from '../fuzz/guests';
import { EMU_PROBLEM } from './kvm';

test('[emu] fuzz guests: 60 seeded random guests end cleanly, 6 of them through the CLI', { skip: EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : false, timeout: 180_000 }, async () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-fuzz-guests-'));
  const before = process.env.VMSCOPE_ACCEL;
  process.env.VMSCOPE_ACCEL = 'emu';
  try {
    const r = await runGuests({ runs: 60, seed: 20261205, workDir, log: () => {} }, { deadlineMs: 300, cliEvery: 10 });
    // Each finding keeps its image and spec: replay it with `node dist/cli.js run <reproducer>`.
    assert.deepEqual(
      r.findings.map((f) => `#${f.index}: ${f.what} (${f.reproducer ?? 'no reproducer'})`),
      [],
      `figures: ${JSON.stringify(r.figures)}`,
    );
    assert.equal(r.runs, 60);
    fs.rmSync(workDir, { recursive: true, force: true });
  } finally {
    if (before === undefined) delete process.env.VMSCOPE_ACCEL;
    else process.env.VMSCOPE_ACCEL = before;
  }
});
