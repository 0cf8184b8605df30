// The short seeded DAP sequences (fuzz/dap.ts) and the reduced cases the
// full run found, each against a fresh adapter process: every request
// answered with a message fit for a user, the adapter alive until
// disconnect and gone soon after it, and its threads back to their count
// before launch once the VM is terminated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { runOps, runSequence, type Op } from '../fuzz/dap';
import { EMU_PROBLEM, ROOT } from './kvm';

const skip = EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : false;
const SPIN = path.join(ROOT, 'test/guests/spin.vmspec');
const HELLO = path.join(ROOT, 'examples/hello/hello.vmspec');

const req = (command: string, args?: unknown, wait = true): Op => ({ command, args, wait });
const start = (spec: string, stopOnEntry: boolean): Op[] => [req('initialize', { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true }), req('launch', { spec, stopOnEntry }), req('configurationDone')];

test('DAP fuzz: 8 seeded sequences of 50 requests find nothing', { skip, timeout: 120_000 }, async () => {
  for (let i = 0; i < 8; i++) {
    const out = await runSequence(20261205, i);
    assert.deepEqual(out.findings, [], `sequence ${i}`);
  }
});

test('DAP: a second launch is refused, and leaves no vCPU thread behind', { skip, timeout: 60_000 }, async () => {
  const out = await runOps([...start(SPIN, true), req('launch', { spec: SPIN, stopOnEntry: true }), req('threads')]);
  assert.deepEqual(out.findings, []);
});

test('DAP: restarts sent together build one machine at a time and leave no thread behind', { skip, timeout: 60_000 }, async () => {
  const out = await runOps([...start(SPIN, false), req('restart', undefined, false), req('restart', undefined, false), req('terminate', undefined, false), req('restart', undefined, false), req('threads')]);
  assert.deepEqual(out.findings, []);
});

test('DAP: a pause sent after disconnect does not keep the VM from stopping; the adapter answers and exits', { skip, timeout: 60_000 }, async () => {
  const out = await runOps([...start(HELLO, true), req('continue', { threadId: 0 }, false), req('disconnect', { terminateDebuggee: false }, false), req('pause', { threadId: 1 }, false), req('stepIn', { threadId: 0 }, false)]);
  assert.deepEqual(out.findings, []);
  assert.ok(out.exitMs !== undefined && out.exitMs < 5000);
});

test('DAP: terminate before configurationDone, then configurationDone, starts no VM', { skip, timeout: 60_000 }, async () => {
  const out = await runOps([req('initialize', { adapterID: 'vmscope' }), req('launch', { spec: SPIN, stopOnEntry: false }), req('terminate'), req('configurationDone'), req('threads')]);
  assert.deepEqual(out.findings, []);
});

test('DAP: malformed arguments get one line naming the field; messages that are not requests do not end the session', { skip, timeout: 60_000 }, async () => {
  const raw = (body: string): Op => ({ command: '(raw)', args: undefined, wait: false, raw: body });
  const out = await runOps([
    ...start(HELLO, true),
    req('setBreakpoints', { source: { path: '/x.c' }, breakpoints: 'x' }),
    req('scopes', { frameId: 'x' }),
    req('scopes', { frameId: -1 }),
    req('setExceptionBreakpoints', { filters: 'x' }),
    req('serialInput', { bytes: [300] }),
    raw('{not json'),
    raw('null'),
    req('initialize'),
    req('threads'),
  ]);
  assert.deepEqual(out.findings, []);
});

test('DAP: breakpoints set after the VM ended are kept, not an internal error', { skip, timeout: 60_000 }, async () => {
  const out = await runOps([
    ...start(HELLO, true),
    req('terminate'),
    req('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x100000' }] }),
    req('setFunctionBreakpoints', { breakpoints: [{ name: 'main' }] }),
    req('setBreakpoints', { source: { path: path.join(ROOT, 'examples/hello/hello.c') }, breakpoints: [{ line: 72 }] }),
    req('restart'),
    req('threads'),
  ]);
  assert.deepEqual(out.findings, []);
});
