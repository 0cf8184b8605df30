import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACPI_PM, CNT_SCI_EN, CNT_SLP_EN, PM1_GBL, PM1_TMR, PM_TIMER_HZ, S5_SLP_TYP, SCI_IRQ } from './acpi-pm';
import { testBus } from './test-bus';
import type { DeviceConfig } from './types';

const PM: DeviceConfig = { kind: 'acpi-pm', name: 'acpi-pm' };

function rig() {
  const clock = { now: 1000 };
  const t = testBus([PM], { now: () => clock.now });
  const timer = () => t.bus.pioRead(ACPI_PM.tmrBlk, 4);
  return { t, clock, timer };
}

const slp = (type: number) => (type << 10) | CNT_SLP_EN;

test('acpi-pm: SCI_EN reads 1 from power-on and stays set; SLP_TYP reads back, SLP_EN does not', () => {
  const { t } = rig();
  assert.equal(t.bus.pioRead(ACPI_PM.cntBlk, 2), CNT_SCI_EN);
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, 3 << 10);
  assert.equal(t.bus.pioRead(ACPI_PM.cntBlk, 2), (3 << 10) | CNT_SCI_EN);
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, 0);
  assert.equal(t.bus.pioRead(ACPI_PM.cntBlk, 2), CNT_SCI_EN, 'writing 0 does not leave ACPI mode');
  assert.deepEqual(t.events, []);
});

test('acpi-pm: SLP_TYP = S5 with SLP_EN powers off, as one 16-bit write or as two byte writes', () => {
  const { t } = rig();
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, slp(S5_SLP_TYP) | CNT_SCI_EN);
  assert.deepEqual(t.events, [{ kind: 'poweroff', device: 'acpi-pm' }]);

  const b = rig();
  const v = slp(S5_SLP_TYP);
  b.t.bus.pioWrite(ACPI_PM.cntBlk, 1, v & 0xff);
  assert.deepEqual(b.t.events, [], 'the low byte alone carries neither SLP_TYP nor SLP_EN');
  b.t.bus.pioWrite(ACPI_PM.cntBlk + 1, 1, v >> 8);
  assert.deepEqual(b.t.events, [{ kind: 'poweroff', device: 'acpi-pm' }]);
});

test('acpi-pm: other sleep types and SLP_TYP without SLP_EN do nothing but show in the view', () => {
  const { t } = rig();
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, S5_SLP_TYP << 10);
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, slp(1));
  t.bus.pioWrite(ACPI_PM.cntBlk, 2, slp(3));
  assert.deepEqual(t.events, []);
  const view = t.devices.get('acpi-pm')!.inspect!();
  assert.equal(view.fields.find((f) => f.name === 'sleep request')?.value, 'SLP_TYP 3 (not a declared state: ignored)');
  assert.equal(view.active, true);
});

test('acpi-pm: the PM timer counts at 3.579545 MHz from power-on and wraps at 24 bits', () => {
  const { clock, timer } = rig();
  assert.equal(timer(), 0);
  clock.now += 1;
  assert.equal(timer(), Math.floor(PM_TIMER_HZ / 1000));
  clock.now += 999;
  assert.equal(timer(), PM_TIMER_HZ);
  clock.now = 1000 + 5000; // 17.9 M ticks: past one 2^24 wrap
  assert.equal(timer(), Math.floor(5 * PM_TIMER_HZ) % 2 ** 24);
  assert.ok(timer() < 2 ** 24);
});

test('acpi-pm: the timer reads the same through byte-wide accesses and on another thread\'s instance', () => {
  const { t, clock, timer } = rig();
  clock.now += 1234.5;
  const bytes = [0, 1, 2, 3].map((i) => t.bus.pioRead(ACPI_PM.tmrBlk + i, 1));
  assert.equal(bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24), timer());
  assert.equal(bytes[3], 0, 'bits 24-31 read 0 (TMR_VAL_EXT clear)');
  assert.equal(t.twin().bus.pioRead(ACPI_PM.tmrBlk, 4), timer(), 'one start time for every instance');
});

test('acpi-pm: TMR_STS sets at each bit-23 carry, clears by writing 1, and raises the SCI when TMR_EN is set', () => {
  const { t, clock } = rig();
  const halfMs = (2 ** 23 * 1000) / PM_TIMER_HZ;
  const sts = () => t.bus.pioRead(ACPI_PM.evtBlk, 2);
  assert.equal(sts() & PM1_TMR, 0);
  clock.now += halfMs + 1;
  assert.equal(sts() & PM1_TMR, PM1_TMR, 'set without TMR_EN too');
  assert.notEqual(t.lines.get(SCI_IRQ), true, 'no SCI while TMR_EN is clear');
  t.bus.pioWrite(ACPI_PM.evtBlk, 2, 0);
  assert.equal(sts() & PM1_TMR, PM1_TMR, 'writing 0 leaves it');
  t.bus.pioWrite(ACPI_PM.evtBlk, 2, PM1_TMR);
  assert.equal(sts() & PM1_TMR, 0, 'write 1 to clear');

  t.bus.pioWrite(ACPI_PM.evtBlk + 2, 2, PM1_TMR);
  assert.equal(t.bus.pioRead(ACPI_PM.evtBlk + 2, 2), PM1_TMR);
  const due = t.bus.poll(clock.now);
  assert.ok(Math.abs(due - (1000 + 2 * halfMs)) < 1e-6, `the next carry is due at ${1000 + 2 * halfMs}, got ${due}`);
  clock.now = due + 0.01;
  t.bus.poll(clock.now);
  assert.equal(t.lines.get(SCI_IRQ), true, 'SCI raised at the carry');
  t.bus.pioWrite(ACPI_PM.evtBlk, 2, PM1_TMR);
  assert.equal(t.lines.get(SCI_IRQ), false, 'and dropped when the status is cleared');
  assert.equal(t.devices.get('acpi-pm')!.inspect!().interrupts, 1);
});

test('acpi-pm: PM1 enable keeps the bits with a meaning here, and a 32-bit write at the event block sets status and enable', () => {
  const { t } = rig();
  t.bus.pioWrite(ACPI_PM.evtBlk, 4, 0xffff_0000);
  assert.equal(t.bus.pioRead(ACPI_PM.evtBlk + 2, 2) & PM1_GBL, PM1_GBL, 'GBL_EN sticks: the OS finds a global lock');
  assert.equal(t.bus.pioRead(ACPI_PM.evtBlk + 2, 2) & 0x00c0, 0, 'reserved bits read 0');
  assert.equal(t.bus.pioRead(ACPI_PM.evtBlk, 4) >>> 16, t.bus.pioRead(ACPI_PM.evtBlk + 2, 2));
});

test('acpi-pm: the gap between the control block and the timer is not claimed', () => {
  const { t } = rig();
  assert.equal(t.bus.claimsPort(ACPI_PM.cntBlk + 2), false);
  assert.equal(t.bus.claimsPort(ACPI_PM.tmrBlk + 3), true);
});
