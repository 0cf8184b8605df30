// The short lifecycle run (fuzz/lifecycle.ts): sessions in one long-lived
// adapter process leave no thread behind, and `vmscope run` stopped by SIGINT
// or SIGTERM exits with 130 or 143 and one line, leaving no process.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lifecyclePart } from '../fuzz/lifecycle';
import { ADAPTER } from '../fuzz/dap';
import { connectWire, spawnAdapter, within } from '../fuzz/dap-wire';
import { sample, threadsSettle } from '../fuzz/proc-stats';
import { EMU_PROBLEM, ROOT } from './kvm';

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

test('an adapter serving a port stops the VM of a client that closes its connection without disconnect', { skip: EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : false, timeout: 60_000 }, async () => {
  const net = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as import('node:net').AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const server = spawnAdapter(ADAPTER, [`--server=${port}`]);
  const pid = server.child.pid!;
  try {
    for (let i = 0; i < 250 && !server.stderr().includes('waiting for debug protocol'); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const before = sample(pid)!.threads;
    const { wire, socket } = await connectWire(port);
    const init = await within(wire.request('initialize', { adapterID: 'vmscope', pathFormat: 'path' }), 10_000);
    assert.ok(init?.success, JSON.stringify(init) + server.stderr());
    assert.ok((await within(wire.request('launch', { spec: path.join(ROOT, 'test/guests/spin.vmspec'), stopOnEntry: false }), 10_000))?.success);
    assert.ok((await within(wire.request('configurationDone'), 10_000))?.success);
    // The vCPU's thread appears once the machine runs.
    const deadline = Date.now() + 10_000;
    while (sample(pid)!.threads <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(sample(pid)!.threads > before, 'the VM never started');
    socket.destroy();
    assert.equal(await threadsSettle(pid, before, 5000), before);
  } finally {
    server.child.kill('SIGKILL');
  }
});
