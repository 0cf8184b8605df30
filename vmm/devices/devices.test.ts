import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, BusConflict, busContext, describeUnclaimed, NO_MEMORY } from './bus';
import { createDevice, deviceStateBytes, uartEnqueue, type DeviceConfig, type DeviceEvent } from './index';
import { LSR_DR, LSR_OE, LSR_TEMT, LSR_THRE, UART_RX_CAPACITY } from './uart16550';

function setup(configs: DeviceConfig[]) {
  const events: DeviceEvent[] = [];
  const bus = new Bus((gpa) => (gpa >= 0xd0000000 && gpa < 0xd0001000 ? 'mmio0' : undefined));
  const states = new Map<string, SharedArrayBuffer>();
  for (const c of configs) {
    const s = new SharedArrayBuffer(Math.max(8, deviceStateBytes(c)));
    states.set(c.name, s);
    bus.add(createDevice(c, s, busContext(bus, (e) => events.push(e), NO_MEMORY)));
  }
  return { bus, events, states };
}

const COM1: DeviceConfig = { kind: 'uart16550', name: 'serial', port: 0x3f8 };

test('UART: THR writes come out as serial-output, LSR always has THRE and TEMT', () => {
  const { bus, events } = setup([COM1]);
  assert.equal(bus.pioRead(0x3fd, 1) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
  bus.pioWrite(0x3f8, 1, 0x48);
  bus.pioWrite(0x3f8, 1, 0x169); // only the low byte goes out
  assert.deepEqual(
    events.map((e) => (e.kind === 'serial-output' ? [...e.bytes] : [])),
    [[0x48], [0x69]],
  );
});

test('UART: DLAB switches offsets 0 and 1 to the divisor latch', () => {
  const { bus, events } = setup([COM1]);
  bus.pioWrite(0x3fb, 1, 0x83); // DLAB | 8N1
  bus.pioWrite(0x3f8, 1, 0x01);
  bus.pioWrite(0x3f9, 1, 0x00);
  assert.equal(events.length, 0, 'divisor writes are not output');
  assert.equal(bus.pioRead(0x3f8, 1), 0x01);
  bus.pioWrite(0x3fb, 1, 0x03);
  assert.equal(bus.pioRead(0x3fb, 1), 0x03);
  bus.pioWrite(0x3f9, 1, 0x0f);
  assert.equal(bus.pioRead(0x3f9, 1), 0x0f, 'IER again once DLAB is clear');
  bus.pioWrite(0x3ff, 1, 0x5a);
  assert.equal(bus.pioRead(0x3ff, 1), 0x5a, 'scratch register');
});

test('UART: host input shows up as DR and is read from RBR in order', () => {
  const { bus, states } = setup([COM1]);
  assert.equal(bus.pioRead(0x3fd, 1) & LSR_DR, 0);
  assert.equal(uartEnqueue(states.get('serial')!, new TextEncoder().encode('hi')), 2);
  assert.equal(bus.pioRead(0x3fd, 1) & LSR_DR, LSR_DR);
  assert.equal(bus.pioRead(0x3f8, 1), 0x68);
  assert.equal(bus.pioRead(0x3f8, 1), 0x69);
  assert.equal(bus.pioRead(0x3fd, 1) & LSR_DR, 0);
});

test('UART: a full receive FIFO drops input and reports overrun once', () => {
  const { bus, states } = setup([COM1]);
  const n = uartEnqueue(states.get('serial')!, new Uint8Array(UART_RX_CAPACITY + 10));
  assert.equal(n, UART_RX_CAPACITY);
  assert.equal(bus.pioRead(0x3fd, 1) & LSR_OE, LSR_OE);
  assert.equal(bus.pioRead(0x3fd, 1) & LSR_OE, 0);
});

test('UART: loopback mode feeds THR back to RBR instead of the host', () => {
  const { bus, events } = setup([COM1]);
  bus.pioWrite(0x3fc, 1, 0x10 | 0x03);
  bus.pioWrite(0x3f8, 1, 0xae);
  assert.equal(events.length, 0);
  assert.equal(bus.pioRead(0x3f8, 1), 0xae);
  assert.equal(bus.pioRead(0x3fe, 1) & 0x30, 0x30, 'RTS/DTR loop to CTS/DSR');
});

test('debug-exit: a write reports the low byte as the status', () => {
  const { bus, events } = setup([{ kind: 'debug-exit', name: 'debug-exit', port: 0xf4 }]);
  bus.pioWrite(0xf4, 1, 0x12a);
  assert.deepEqual(events, [{ kind: 'debug-exit', device: 'debug-exit', status: 0x2a }]);
});

test('bus: unclaimed ports read as all ones and are recorded, never fatal', () => {
  const { bus } = setup([COM1]);
  assert.equal(bus.pioRead(0x61, 1), 0xff);
  assert.equal(bus.pioRead(0xcfc, 4), 0xffffffff);
  bus.pioWrite(0x80, 1, 0x5a);
  bus.pioWrite(0x80, 1, 0x5b);
  const u = bus.unclaimedAccesses();
  const p80 = u.find((x) => x.addr === 0x80)!;
  assert.equal(p80.writes, 2);
  assert.equal(p80.lastValue, 0x5b);
  assert.match(describeUnclaimed(p80), /port 0x80: 2 writes/);
});

test('bus: unclaimed MMIO names the declared region it falls in', () => {
  const { bus } = setup([]);
  assert.equal(bus.mmioRead(0xd0000000, 4), 0xffffffffn);
  bus.mmioWrite(0xe0000000, 4, 1n);
  const [inRegion, unmapped] = bus.unclaimedAccesses();
  assert.equal(inRegion!.region, 'mmio0');
  assert.match(describeUnclaimed(inRegion!), /region mmio0, no device/);
  assert.match(describeUnclaimed(unmapped!), /unmapped/);
});

test('bus: two devices on one port are refused', () => {
  assert.throws(() => setup([COM1, { kind: 'debug-exit', name: 'debug-exit', port: 0x3fc }]), BusConflict);
});
