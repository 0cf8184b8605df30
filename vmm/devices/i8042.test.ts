import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CTR_AUX_DISABLE, CTR_AUX_INT, CTR_KBD_INT, CTR_SYS, STATUS_AUX_OBF, STATUS_CMD, STATUS_OBF, STATUS_SYS, STATUS_TIMEOUT } from './i8042';
import { testBus, type TestBus } from './test-bus';
import type { DeviceConfig } from './types';

const KBC: DeviceConfig = { kind: 'i8042', name: 'kbc', onReset: 'exit' };

/** Reads every byte waiting in the output buffer, as Linux's i8042_flush does. */
function drain(t: TestBus): number[] {
  const out = [];
  while (t.bus.pioRead(0x64, 1) & STATUS_OBF) out.push(t.bus.pioRead(0x60, 1));
  return out;
}

function ctrlCommand(t: TestBus, cmd: number, arg?: number): number[] {
  t.bus.pioWrite(0x64, 1, cmd);
  if (arg !== undefined) t.bus.pioWrite(0x60, 1, arg);
  return drain(t);
}

test("i8042: Linux's controller probe — self test, CTR read/write, interface test", () => {
  const t = testBus([KBC]);
  assert.deepEqual(drain(t), [], 'nothing waiting at power-on');
  assert.deepEqual(ctrlCommand(t, 0xaa), [0x55]);
  assert.equal(t.bus.pioRead(0x64, 1) & (STATUS_SYS | STATUS_CMD), STATUS_SYS | STATUS_CMD);
  const [ctr] = ctrlCommand(t, 0x20);
  assert.equal(ctr! & CTR_KBD_INT, CTR_KBD_INT);
  ctrlCommand(t, 0x60, 0x00);
  assert.equal(t.bus.pioRead(0x64, 1) & (STATUS_SYS | STATUS_CMD), 0, 'SYS follows the CTR; A2 follows the last port written');
  assert.deepEqual(ctrlCommand(t, 0x20), [0x00]);
  ctrlCommand(t, 0x60, ctr!);
  assert.deepEqual(ctrlCommand(t, 0xab), [0x00]);
  ctrlCommand(t, 0xad);
  assert.equal(ctrlCommand(t, 0x20)[0]! & 0x10, 0x10, 'keyboard disabled');
  ctrlCommand(t, 0xae);
  assert.equal(ctrlCommand(t, 0x20)[0]! & 0x10, 0);
});

test("i8042: Linux's AUX check passes quickly: loopback, toggles, and an IRQ 12 for the looped byte", () => {
  const t = testBus([KBC]);
  t.bus.pioWrite(0x64, 1, 0xd3);
  t.bus.pioWrite(0x60, 1, 0x5a);
  assert.equal(t.bus.pioRead(0x64, 1) & (STATUS_OBF | STATUS_AUX_OBF), STATUS_OBF | STATUS_AUX_OBF, 'AUX data, or Linux reports auxerr');
  assert.equal(t.bus.pioRead(0x60, 1), 0x5a);
  ctrlCommand(t, 0xa7);
  assert.equal(ctrlCommand(t, 0x20)[0]! & CTR_AUX_DISABLE, CTR_AUX_DISABLE);
  ctrlCommand(t, 0xa8);
  assert.equal(ctrlCommand(t, 0x20)[0]! & CTR_AUX_DISABLE, 0);
  ctrlCommand(t, 0x60, CTR_AUX_INT | CTR_SYS);
  t.bus.pioWrite(0x64, 1, 0xd3);
  t.bus.pioWrite(0x60, 1, 0xa5);
  assert.equal(t.lines.get(12), true);
  assert.notEqual(t.lines.get(1), true);
  assert.equal(t.bus.pioRead(0x60, 1), 0xa5);
  assert.equal(t.lines.get(12), false);
});

test('i8042: a byte for the missing mouse comes back at once as 0xFE with the timeout bit', () => {
  const t = testBus([KBC]);
  t.bus.pioWrite(0x64, 1, 0xd4);
  t.bus.pioWrite(0x60, 1, 0xff);
  const s = t.bus.pioRead(0x64, 1);
  assert.equal(s & (STATUS_OBF | STATUS_AUX_OBF | STATUS_TIMEOUT), STATUS_OBF | STATUS_AUX_OBF | STATUS_TIMEOUT);
  assert.equal(t.bus.pioRead(0x60, 1), 0xfe);
  assert.equal(t.bus.pioRead(0x64, 1) & (STATUS_OBF | STATUS_TIMEOUT), 0);
  assert.deepEqual(drain(t), [], 'the keyboard did not take the 0xFF as its reset (no 0xFA 0xAA)');
});

test("i8042: the keyboard answers atkbd's probe, one IRQ 1 edge per byte", () => {
  const t = testBus([KBC]);
  ctrlCommand(t, 0x60, CTR_KBD_INT | CTR_SYS);
  t.bus.pioWrite(0x60, 1, 0xf2);
  assert.equal(t.lines.get(1), true);
  assert.deepEqual(drain(t), [0xfa, 0xab, 0x83]);
  assert.equal(t.lines.get(1), false);
  assert.equal(t.rises(1), 3, 'each byte read lets the next raise a fresh edge');
  const kbd = (...bytes: number[]) => {
    for (const b of bytes) t.bus.pioWrite(0x60, 1, b);
    return drain(t);
  };
  assert.deepEqual(kbd(0xff), [0xfa, 0xaa]);
  assert.deepEqual(kbd(0xed, 0x07), [0xfa, 0xfa]);
  assert.deepEqual(kbd(0xf3, 0x20), [0xfa, 0xfa]);
  assert.deepEqual(kbd(0xf0, 0x00), [0xfa, 0xfa, 0x02]);
  assert.deepEqual(kbd(0xf5), [0xfa]);
  assert.deepEqual(kbd(0xf4), [0xfa]);
  assert.deepEqual(kbd(0xee), [0xee]);
  assert.deepEqual(kbd(0x42), [0xfe], 'unknown: resend');
  assert.equal(t.devices.get('kbc')!.inspect!().interrupts, t.rises(1));
});

test('i8042: 0xFE and the other reset pulses, 0xD1 with bit 0 clear, and port 0x92 bit 0 ask for the configured reset', () => {
  const t = testBus([KBC]);
  const resets = () => t.events.filter((e) => e.kind === 'reset').length;
  t.bus.pioWrite(0x64, 1, 0xff);
  assert.equal(resets(), 0, '0xFF pulses nothing');
  t.bus.pioWrite(0x64, 1, 0xfe);
  assert.deepEqual(t.events, [{ kind: 'reset', device: 'kbc', action: 'exit' }]);
  t.bus.pioWrite(0x64, 1, 0xf0);
  assert.equal(resets(), 2);
  ctrlCommand(t, 0xd1, 0xdd);
  assert.equal(resets(), 2, 'bit 0 set: no reset');
  assert.equal(ctrlCommand(t, 0xd0)[0]! & 0x02, 0, 'A20 off through the output port');
  assert.equal(t.bus.pioRead(0x92, 1) & 0x02, 0, 'and seen at port 0x92');
  ctrlCommand(t, 0xd1, 0xdf);
  assert.equal(ctrlCommand(t, 0xd0)[0]! & 0x03, 0x03);
  ctrlCommand(t, 0xd1, 0xde);
  assert.equal(resets(), 3);
  t.bus.pioWrite(0x92, 1, 0x02);
  t.bus.pioWrite(0x92, 1, 0x03);
  assert.equal(resets(), 4);
  assert.equal(t.bus.pioRead(0x92, 1), 0x02);
});

test('i8042: another thread sees the same command byte and output buffer', () => {
  const a = testBus([KBC]);
  const b = a.twin();
  ctrlCommand(a, 0x60, 0x01);
  assert.deepEqual(ctrlCommand(b, 0x20), [0x01]);
  a.bus.pioWrite(0x64, 1, 0xaa);
  assert.equal(b.bus.pioRead(0x60, 1), 0x55);
  assert.equal(a.bus.pioRead(0x64, 1) & STATUS_OBF, 0);
});
