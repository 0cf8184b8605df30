// The debug adapter bundle (dist/debug-adapter.js) driven over DAP by a real
// DAP client, as VS Code would: launch a spec, stop on entry, look at the
// vCPU, continue, see serial output and the guest's exit code.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { ROOT, vmTest } from './kvm';

const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');

async function withClient(fn: (dc: DebugClient) => Promise<void>): Promise<void> {
  const dc = new DebugClient('node', ADAPTER, 'vmscope');
  await dc.start();
  try {
    await fn(dc);
  } finally {
    await dc.stop();
  }
}

vmTest('DAP: launch hello, stop on entry at _start in vCPU 0, continue to the exit code', async () => {
  await withClient(async (dc) => {
    const output: string[] = [];
    dc.on('output', (e) => {
      if (e.body.category === 'stdout') output.push(e.body.output);
    });
    await dc.initializeRequest();
    const stopped = dc.waitForEvent('stopped', 10_000);
    await dc.launch({ spec: path.join(ROOT, 'examples/hello/hello.vmspec'), stopOnEntry: true });
    await dc.configurationDoneRequest();
    const stop = await stopped;
    assert.equal(stop.body.reason, 'entry');
    assert.equal(stop.body.threadId, 0);

    const threads = await dc.threadsRequest();
    assert.deepEqual(threads.body.threads, [{ id: 0, name: 'vCPU 0' }]);
    const trace = await dc.stackTraceRequest({ threadId: 0 });
    assert.equal(trace.body.stackFrames[0]!.name, '_start');
    assert.equal(trace.body.stackFrames[0]!.instructionPointerReference, '0x100000');
    const scopes = await dc.scopesRequest({ frameId: trace.body.stackFrames[0]!.id });
    const vars = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0]!.variablesReference });
    const rip = vars.body.variables.find((v) => v.name === 'rip');
    assert.equal(rip?.value, '0x0000000000100000');

    const exited = dc.waitForEvent('exited', 10_000);
    const terminated = dc.waitForEvent('terminated', 10_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
    await terminated;
    assert.equal(output.join(''), 'Hello from the guest\n');
  });
});

vmTest('DAP: pause stops a spinning vCPU and reports reason pause', async () => {
  await withClient(async (dc) => {
    await dc.initializeRequest();
    const spinning = new Promise<void>((resolve) => {
      let seen = '';
      dc.on('output', (e) => {
        seen += e.body.output;
        if (seen.includes('spinning\n')) resolve();
      });
    });
    await dc.launch({ spec: path.join(ROOT, 'test/guests/spin.vmspec'), stopOnEntry: false });
    await dc.configurationDoneRequest();
    await spinning;
    // The line reaches the client while the guest may still be returning from serial_puts: let it reach its loop.
    await new Promise((r) => setTimeout(r, 100));
    const stopped = dc.waitForEvent('stopped', 5_000);
    await dc.pauseRequest({ threadId: 0 });
    const stop = await stopped;
    assert.equal(stop.body.reason, 'pause');
    const trace = await dc.stackTraceRequest({ threadId: 0 });
    assert.match(trace.body.stackFrames[0]!.name, /^spin_loop/);
    const terminated = dc.waitForEvent('terminated', 5_000);
    await dc.terminateRequest();
    await terminated;
  });
});

vmTest('DAP: a bad spec fails the launch with the diagnostics, not a stack', async () => {
  await withClient(async (dc) => {
    await dc.initializeRequest();
    await assert.rejects(
      dc.launch({ spec: path.join(ROOT, 'test/guests/missing.vmspec') }),
      (e: Error) => /missing\.vmspec/.test(e.message) && !/\n\s+at /.test(e.message),
    );
  });
});
