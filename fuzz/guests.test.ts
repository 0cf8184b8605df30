// The guests part's own logic: what counts as a stack trace on stderr, and the seed guests it mutates.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STACK_TRACE, loadSeeds } from './guests';

test('a stack trace, a native crash or an internal error on stderr is caught; the CLI\'s ordinary reports are not', () => {
  for (const bad of [
    'TypeError: Cannot read properties of undefined\n    at EmuVcpu.raise (/x/out/vmm/emu/vcpu.js:12:7)\n',
    '    at new Promise (<anonymous>)\n',
    'node:internal/process/task_queues:95\n',
    'FATAL ERROR: Reached heap limit Allocation failed\n',
    'Segmentation fault (core dumped)\n',
    'vmscope: internal error: x is not a function (please report it; VMSCOPE_DEBUG=1 shows the stack)\n',
  ]) {
    assert.ok(STACK_TRACE.test(bad), bad);
  }
  for (const ok of [
    'vmscope: vCPU 0 triple-faulted (shutdown) at rip 0x100004 (long mode)\n  rax 0000000000000000  rbx 0000000000000000\n  cs 0x0008 base 0x0 l=1 db=0  ss 0x0010  ds 0x0010\n',
    'vmscope: timed out after 0.3 s; the guest was stopped\nvmscope: the guest touched 3 unclaimed I/O addresses:\n  port 0x80: 1 write, last 0x5a\n',
    'vmscope: vCPU 0 halted at rip 0x0000:0x7c10 (real mode) with no interrupt source to wake it\n',
  ]) {
    assert.ok(!STACK_TRACE.test(ok), ok);
  }
});

test('the seed guests are the repo\'s flat test guests and the real-mode example, each with its mode', () => {
  const seeds = loadSeeds();
  if (seeds.length === 0) return; // guests not built: the part then runs blobs and streams only
  assert.equal(seeds.find((s) => s.name === 'protected-exit')?.mode, 'protected');
  assert.equal(seeds.find((s) => s.name === 'modeswitch')?.mode, 'real');
  assert.equal(seeds.find((s) => s.name === 'pit-timer')?.platform, 'pc');
  assert.ok(seeds.every((s) => s.bytes.length > 0));
});
