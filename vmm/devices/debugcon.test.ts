import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEBUGCON_READBACK } from './debugcon';
import { testBus } from './test-bus';

test('debugcon: byte writes come out as debug-console events; reads give the readback byte', () => {
  const t = testBus([{ kind: 'debugcon', name: 'seabios-log', port: 0x402 }]);
  assert.equal(t.bus.pioRead(0x402, 1), DEBUGCON_READBACK);
  assert.equal(t.devices.get('seabios-log')!.inspect!().active, false);
  for (const c of new TextEncoder().encode('ok\n')) t.bus.pioWrite(0x402, 1, c | 0x100);
  assert.deepEqual(
    t.events.map((e) => (e.kind === 'debug-console' ? [e.device, ...e.bytes] : [e.kind])),
    [
      ['seabios-log', 0x6f],
      ['seabios-log', 0x6b],
      ['seabios-log', 0x0a],
    ],
  );
  t.bus.pioWrite(0x402, 2, 0x6968);
  const last = t.events.at(-1)!;
  assert.ok(last.kind === 'debug-console');
  assert.deepEqual([...last.bytes], [0x68, 0x69], 'a word write sends its low byte first');
  const other = t.twin().devices.get('seabios-log')!.inspect!();
  assert.equal(other.active, true);
  assert.equal(other.fields.find((f) => f.name === 'bytes written')!.value, '5', 'the count lives in the shared state');
});
