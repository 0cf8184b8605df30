import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, NO_MEMORY } from './bus';
import { createDevice, deviceStateBytes } from './index';
import { PIT_HZ } from './pit';
import type { DeviceContext } from './types';

/** A PIT on a bus with a clock the test moves, recording IRQ 0 edges. */
function setup() {
  const bus = new Bus();
  let now = 1000;
  const edges: number[] = [];
  const ctx: DeviceContext = {
    emit: () => {},
    irq: (line, level) => {
      if (level) edges.push(line);
    },
    now: () => now,
    memory: NO_MEMORY,
  };
  const dev = createDevice({ kind: 'pit', name: 'pit' }, new SharedArrayBuffer(deviceStateBytes({ kind: 'pit', name: 'pit' })), ctx);
  bus.add(dev);
  return { bus, dev, edges, advance: (ms: number) => (now += ms), now: () => now };
}

test('PIT: channel 0 in mode 2 at 100 Hz raises IRQ 0 every 10 ms, and poll says when next', () => {
  const { bus, dev, edges, advance, now } = setup();
  const divisor = Math.round(PIT_HZ / 100);
  bus.pioWrite(0x43, 1, 0x34); // channel 0, lsb/msb, mode 2
  bus.pioWrite(0x40, 1, divisor & 0xff);
  bus.pioWrite(0x40, 1, divisor >> 8);
  const first = dev.poll!(now());
  assert.ok(Math.abs(first - now() - 10) < 0.01, `first deadline in 10 ms, got ${first - now()}`);
  assert.equal(edges.length, 0);
  for (let i = 0; i < 5; i++) {
    advance(10.001);
    dev.poll!(now());
  }
  assert.deepEqual(edges, [0, 0, 0, 0, 0]);
  const view = dev.inspect!();
  assert.equal(view.interrupts, 5);
  assert.match(view.fields[0]!.value, /mode 2, count 11932 \(100\.00 Hz\)/);
});

test('PIT: a long pause gives one interrupt, not a burst', () => {
  const { bus, dev, edges, advance, now } = setup();
  bus.pioWrite(0x43, 1, 0x36); // mode 3
  bus.pioWrite(0x40, 1, 0x9c);
  bus.pioWrite(0x40, 1, 0x2e); // 11932
  advance(1000);
  const next = dev.poll!(now());
  assert.equal(edges.length, 1);
  assert.ok(next > now());
});

test('PIT: mode 0 (one-shot, as Linux\'s clockevent uses) fires once at the terminal count', () => {
  const { bus, dev, edges, advance, now } = setup();
  bus.pioWrite(0x43, 1, 0x30);
  bus.pioWrite(0x40, 1, 0xa9);
  bus.pioWrite(0x40, 1, 0x04); // 1193 ticks = 1 ms
  advance(0.5);
  assert.ok(dev.poll!(now()) > now());
  assert.equal(edges.length, 0);
  advance(0.6);
  assert.equal(dev.poll!(now()), Infinity);
  advance(5);
  dev.poll!(now());
  assert.equal(edges.length, 1);
});

test('PIT: the counter counts down in real time; latch holds a value until both bytes are read', () => {
  const { bus, advance } = setup();
  bus.pioWrite(0x43, 1, 0x34);
  bus.pioWrite(0x40, 1, 0x00);
  bus.pioWrite(0x40, 1, 0x00); // 65536
  advance(10); // 11931.82 ticks
  bus.pioWrite(0x43, 1, 0x00); // latch channel 0
  advance(5);
  const lo = bus.pioRead(0x40, 1);
  const hi = bus.pioRead(0x40, 1);
  assert.equal((hi << 8) | lo, 65536 - 11931);
  const lo2 = bus.pioRead(0x40, 1);
  const hi2 = bus.pioRead(0x40, 1);
  assert.equal((hi2 << 8) | lo2, 65536 - 17897, 'after the latch is read, reads are live');
});

test('PIT: read-back status gives OUT, access mode and mode', () => {
  const { bus } = setup();
  bus.pioWrite(0x43, 1, 0xb0); // channel 2, lsb/msb, mode 0
  bus.pioWrite(0x43, 1, 0xe8); // read-back: status only, channel 2
  assert.equal(bus.pioRead(0x42, 1), 0x40 | 0x30 | 0x00, 'OUT low, null count, lsb/msb, mode 0');
});

test('PIT: channel 2 OUT on port 0x61 bit 5 rises at the terminal count when gated (Linux TSC calibration)', () => {
  const { bus, advance } = setup();
  bus.pioWrite(0x61, 1, (bus.pioRead(0x61, 1) & ~0x02) | 0x01);
  bus.pioWrite(0x43, 1, 0xb0);
  const latch = Math.round(PIT_HZ / 20); // 50 ms, as pit_calibrate_tsc
  bus.pioWrite(0x42, 1, latch & 0xff);
  bus.pioWrite(0x42, 1, latch >> 8);
  assert.equal(bus.pioRead(0x61, 1) & 0x20, 0);
  advance(49);
  assert.equal(bus.pioRead(0x61, 1) & 0x20, 0);
  advance(2);
  assert.equal(bus.pioRead(0x61, 1) & 0x20, 0x20);
  assert.equal(bus.pioRead(0x61, 1) & 0x01, 0x01, 'gate reads back');
});

test('PIT: the refresh bit (port 0x61 bit 4) toggles over time', () => {
  const { bus, advance } = setup();
  const seen = new Set<number>();
  for (let i = 0; i < 8; i++) {
    seen.add(bus.pioRead(0x61, 1) & 0x10);
    advance(0.0151);
  }
  assert.deepEqual([...seen].sort(), [0, 0x10]);
});
