import { test } from 'node:test';
import assert from 'node:assert/strict';
import { B_24H, B_DM_BINARY, B_PIE, B_SET, B_UIE, C_IRQF, C_PF, C_UF, cmosWithClock } from './cmos';
import { testBus } from './test-bus';
import type { DeviceConfig } from './types';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function rig(config: Partial<Extract<DeviceConfig, { kind: 'cmos' }>> = {}, wallStart = Date.UTC(2026, 11, 31, 23, 59, 58, 500)) {
  const clock = { wall: wallStart, mono: 5000 };
  const factory = cmosWithClock(() => clock.wall);
  const c: DeviceConfig = { kind: 'cmos', name: 'rtc', ramBelow4g: 32 * MIB, ramAbove4g: 0, vcpus: 1, ...config };
  const t = testBus([c], { now: () => clock.mono, create: (cfg, s, ctx) => factory.create(cfg as typeof c, s, ctx) });
  const read = (index: number, bus = t.bus) => {
    bus.pioWrite(0x70, 1, index);
    return bus.pioRead(0x71, 1);
  };
  const write = (index: number, v: number) => {
    t.bus.pioWrite(0x70, 1, index);
    t.bus.pioWrite(0x71, 1, v);
  };
  /** Moves both host clocks on by `ms`. */
  const advance = (ms: number) => {
    clock.wall += ms;
    clock.mono += ms;
  };
  return { t, clock, read, write, advance };
}

test('CMOS: the memory bytes SeaBIOS reads describe the RAM and vCPUs', () => {
  const { read } = rig({ ramBelow4g: 3.5 * GIB, ramAbove4g: 2 * GIB, vcpus: 4 });
  const u16 = (lo: number) => read(lo) | (read(lo + 1) << 8);
  assert.equal(read(0x10), 0, 'no floppies');
  assert.equal(u16(0x15), 640, 'base memory KiB');
  assert.equal(u16(0x17), 0xffff, 'extended memory caps at 0xFFFF KiB');
  assert.equal(u16(0x30), 0xffff);
  assert.equal(u16(0x34), (3.5 * 1024 - 16) * 16, 'above 16 MiB in 64 KiB units');
  assert.equal(read(0x5b) | (read(0x5c) << 8) | (read(0x5d) << 16), 2 * 16 * 1024, 'above 4 GiB in 64 KiB units');
  assert.equal(read(0x5f), 3, 'vCPUs - 1');
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += read(i);
  assert.equal((read(0x2e) << 8) | read(0x2f), sum, 'checksum over 0x10-0x2D');
});

test('CMOS: a small machine reports its extended memory exactly', () => {
  const { read } = rig({ ramBelow4g: 32 * MIB });
  assert.equal(read(0x17) | (read(0x18) << 8), 31 * 1024);
  assert.equal(read(0x34) | (read(0x35) << 8), 16 * 16);
  assert.equal(read(0x5b) | read(0x5c) | read(0x5d), 0);
});

test('CMOS: the clock reads the host wall clock in BCD, binary and 12-hour forms', () => {
  const { read, write } = rig();
  assert.equal(read(0x0b), B_24H, 'power-on B: BCD, 24-hour');
  assert.deepEqual(
    [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map((i) => read(i)),
    [0x58, 0x59, 0x23, 0x05, 0x31, 0x12, 0x26, 0x20],
    'sec min hour weekday(Thursday=5) day month year century',
  );
  write(0x0b, B_24H | B_DM_BINARY);
  assert.deepEqual([read(0x00), read(0x04), read(0x09), read(0x32)], [58, 23, 26, 20]);
  write(0x0b, B_DM_BINARY);
  assert.equal(read(0x04), 0x80 | 11, '11 PM');
  write(0x0b, 0);
  assert.equal(read(0x04), 0x80 | 0x11, '11 PM in BCD');
  assert.equal(read(0x0d), 0x80, 'D: valid RAM and time');
  assert.equal(read(0x0a) & 0x7f, 0x26, 'A: 32.768 kHz, 1024 Hz');
});

test('CMOS: UIP is set just before each second boundary and nowhere else', () => {
  const { read, advance } = rig();
  assert.equal(read(0x0a) & 0x80, 0);
  advance(499.5);
  assert.equal(read(0x0a) & 0x80, 0x80);
  advance(1);
  assert.equal(read(0x0a) & 0x80, 0);
});

test('CMOS: the guest sets the clock under B.SET and it runs on from there; another thread sees the same time', () => {
  const { t, read, write, advance } = rig();
  write(0x0b, B_24H | B_SET);
  write(0x04, 0x05);
  write(0x09, 0x27);
  advance(5000);
  assert.equal(read(0x00), 0x58, 'held while SET');
  write(0x0b, B_24H);
  advance(1000);
  assert.deepEqual([read(0x00), read(0x04), read(0x09)], [0x59, 0x05, 0x27]);
  const other = t.twin();
  assert.equal(read(0x04, other.bus), 0x05);
});

test('CMOS: the periodic interrupt raises IRQ 8 at the poll deadline; reading C clears flags and the line', () => {
  const { t, read, write, advance } = rig();
  read(0x0c);
  write(0x0a, 0x2f); // 2 Hz
  write(0x0b, B_24H | B_PIE);
  const deadline = t.bus.poll(5000);
  assert.ok(deadline > 5000 && deadline <= 5500, `next tick within 500 ms (${deadline})`);
  assert.notEqual(t.lines.get(8), true);
  advance(deadline - 5000);
  t.bus.poll(deadline);
  assert.equal(t.lines.get(8), true);
  const c = read(0x0c);
  assert.equal(c & (C_IRQF | C_PF), C_IRQF | C_PF);
  assert.equal(t.lines.get(8), false);
  assert.equal(read(0x0c) & C_PF, 0, 'C clears on read');
  assert.equal(t.devices.get('rtc')!.inspect!().interrupts, 1);
});

test('CMOS: the update-ended interrupt comes once a second; flags without their enable raise nothing', () => {
  const { t, clock, read, write, advance } = rig();
  read(0x0c);
  const quiet = t.bus.poll(clock.mono);
  assert.equal(quiet, Infinity, 'no interrupt enabled: no deadline');
  write(0x0b, B_24H | B_UIE);
  const deadline = t.bus.poll(clock.mono);
  assert.equal(deadline, clock.mono + 500, 'the next second boundary');
  advance(500);
  t.bus.poll(clock.mono);
  assert.equal(t.lines.get(8), true);
  assert.equal(read(0x0c) & (C_IRQF | C_UF), C_IRQF | C_UF);
  write(0x0b, B_24H);
  advance(1000);
  t.bus.poll(clock.mono);
  assert.notEqual(t.lines.get(8), true);
  assert.equal(read(0x0c) & (C_IRQF | C_UF), C_UF, 'UF set, IRQF not');
});

test('CMOS: port 0x70 bit 7 masks NMI without changing the index; 0x70 reads as 0xff', () => {
  const { t } = rig({ vcpus: 2 });
  t.bus.pioWrite(0x70, 1, 0x80 | 0x5f);
  assert.equal(t.bus.pioRead(0x71, 1), 1);
  assert.equal(t.bus.pioRead(0x70, 1), 0xff);
  const view = t.devices.get('rtc')!.inspect!();
  assert.equal(view.fields.find((f) => f.name === 'NMI')!.value, 'masked');
  assert.match(view.fields.find((f) => f.name === 'time')!.value, /^2026-12-31T23:59:58Z$/);
});
