// A machine that is stopping stays stopping: a pause or resume that arrives
// after stop() (a DAP pause pipelined behind a disconnect, found by the DAP
// sequences fuzz) must not replace the vCPUs' STOP, or stop() never resolves.
// And a machine stopped before it started never starts.

import assert from 'node:assert/strict';
import { buildMachine } from '../vmm/builder';
import { SPINNING_PAYS } from '../vmm/machine';
import { specAt, vmTest } from './kvm';

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(t));
}

vmTest('a pause or resume after stop() does not keep the machine from stopping', async () => {
  for (let i = 0; i < 5; i++) {
    const { machine } = buildMachine(specAt('test/guests/spin.vmspec'));
    void machine.start();
    await new Promise((r) => setTimeout(r, 50 + 20 * i));
    const stopped = machine.stop();
    machine.pause();
    await machine.resume(0, { kind: 'step-instruction' });
    machine.pause(0);
    const r = await within(stopped, 5000);
    assert.notEqual(r, 'timeout', `run ${i}: stop() never resolved`);
  }
});

vmTest('a machine stopped before it started never starts', async () => {
  const { machine } = buildMachine(specAt('test/guests/spin.vmspec'));
  const r = await machine.stop();
  assert.equal(r.end.kind, 'stopped');
  assert.equal(machine.started, true);
  const again = await within(machine.start(), 2000);
  assert.notEqual(again, 'timeout');
  assert.equal((again as typeof r).end.kind, 'stopped');
});

vmTest('pollReports takes a step\'s stop as soon as the vCPU posts it, without a turn of the event loop', async (t) => {
  if (!SPINNING_PAYS) return t.skip('one CPU: pollReports does not spin');
  const { machine } = buildMachine(specAt('test/guests/spin.vmspec'));
  const stops: string[] = [];
  machine.on('stopped', (_v, stop) => stops.push(stop.kind));
  void machine.start({ paused: true });
  await machine.whenAllPaused(5000);
  try {
    for (let i = 0; i < 20; i++) {
      stops.length = 0;
      await machine.resume(0, { kind: 'step-instruction' });
      // A budget of seconds: the poll must end on the stop, not on its budget.
      const t0 = performance.now();
      assert.equal(machine.pollReports(() => stops.length > 0, 5_000_000), true, `step ${i}: no stop taken`);
      assert.deepEqual(stops, ['step'], `step ${i}`);
      assert.ok(performance.now() - t0 < 2000, `step ${i}: the poll took ${performance.now() - t0} ms`);
    }
  } finally {
    await machine.stop();
  }
});
