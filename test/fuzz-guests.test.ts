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
import { caseSpec, type GuestCase } from '../fuzz/guest-gen';
import { parseSpec } from '../vmspec/parse';
import { buildMachine } from '../vmm/builder';
import { describeRunEnd, type RunResult } from '../vmm/exits';
import { EMU_PROBLEM } from './kvm';

const skip = EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : false;

/** Runs a flat image given as bytes, with the spec the fuzzer writes for its cases. */
async function runBytes(bytes: number[], mode: GuestCase['mode'], extra: Partial<GuestCase> = {}, timeoutMs = 2000): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-fuzz-case-'));
  try {
    const c: GuestCase = { kind: 'stream', label: 'regression', mode, platform: 'pc', vcpus: 1, memoryMiB: 16, load: mode === 'real' ? 0x7c00 : 0x100000, image: Uint8Array.from(bytes), ...extra };
    fs.writeFileSync(path.join(dir, 'case.bin'), c.image);
    const parsed = parseSpec(caseSpec(c, 'case.bin'), path.join(dir, 'case.vmspec'));
    assert.ok(parsed.spec, JSON.stringify(parsed.diagnostics));
    const { machine } = buildMachine(parsed.spec, { accel: 'emu' });
    return await machine.start({ timeoutMs });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('[emu] fuzz guests: 60 seeded random guests end cleanly, 6 of them through the CLI', { skip, timeout: 180_000 }, async () => {
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

test('[emu] a guest that jumps into MMIO or unbacked memory is told so, not blamed on page protection (fuzz guests, seed 3 #137)', { skip }, async () => {
  // mov eax, 0xd0000000 (the spec's mmio0); jmp eax — and the same to 0x80000000, which nothing backs.
  for (const target of [0xd0000000, 0x80000000]) {
    const r = await runBytes([0xb8, ...[0, 8, 16, 24].map((s) => (target >>> s) & 0xff), 0xff, 0xe0], 'protected');
    assert.ok(r.end.kind === 'vcpu' && r.end.end.kind === 'emulation-error', JSON.stringify(r.end.kind));
    assert.equal(describeRunEnd(r.end), `vCPU 0: the emulator stopped: an instruction fetch outside RAM and ROM (from MMIO, or guest-physical memory nothing backs) at rip 0x${target.toString(16)} (protected mode)`);
  }
});
