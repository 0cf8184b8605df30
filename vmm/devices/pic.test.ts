import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, busContext, NO_MEMORY } from './bus';
import { createDevice, deviceStateBytes } from './index';
import type { IrqChip } from './types';

function setup() {
  const bus = new Bus();
  const state = new SharedArrayBuffer(deviceStateBytes({ kind: 'pic', name: 'pic' }));
  const dev = createDevice({ kind: 'pic', name: 'pic' }, state, busContext(bus, () => {}, NO_MEMORY));
  bus.add(dev);
  return { bus, chip: dev.irqChip!, state };
}

/** The BIOS/Linux initialisation: ICW1 edge+ICW4, bases 0x20/0x28, cascade on IRQ 2, 8086 mode. */
function init(bus: Bus, masterBase = 0x20, slaveBase = 0x28): void {
  bus.pioWrite(0x20, 1, 0x11);
  bus.pioWrite(0xa0, 1, 0x11);
  bus.pioWrite(0x21, 1, masterBase);
  bus.pioWrite(0xa1, 1, slaveBase);
  bus.pioWrite(0x21, 1, 0x04);
  bus.pioWrite(0xa1, 1, 0x02);
  bus.pioWrite(0x21, 1, 0x01);
  bus.pioWrite(0xa1, 1, 0x01);
}

const pulse = (bus: Bus, line: number) => {
  bus.irq(line, true);
  bus.irq(line, false);
};

test('PIC: a rising edge on IRQ 0 gives vector base+0 once, and ISR holds it until EOI', () => {
  const { bus, chip } = setup();
  init(bus);
  assert.equal(chip.hasInterrupt(), false);
  pulse(bus, 0);
  assert.equal(chip.hasInterrupt(), true);
  assert.equal(chip.acknowledge(), 0x20);
  assert.equal(chip.hasInterrupt(), false, 'the edge was consumed');
  bus.pioWrite(0x20, 1, 0x0b); // OCW3: read ISR
  assert.equal(bus.pioRead(0x20, 1), 0x01);
  pulse(bus, 0);
  assert.equal(chip.hasInterrupt(), false, 'IRQ 0 in service blocks another IRQ 0');
  bus.pioWrite(0x20, 1, 0x20); // non-specific EOI
  assert.equal(bus.pioRead(0x20, 1), 0x00);
  assert.equal(chip.hasInterrupt(), true);
  assert.equal(chip.acknowledge(), 0x20);
});

test('PIC: masks (OCW1) hold requests back, and unmasking releases them', () => {
  const { bus, chip } = setup();
  init(bus);
  bus.pioWrite(0x21, 1, 0xff);
  pulse(bus, 1);
  assert.equal(chip.hasInterrupt(), false);
  bus.pioWrite(0x20, 1, 0x0a); // OCW3: read IRR
  assert.equal(bus.pioRead(0x20, 1), 0x02, 'the request is latched in IRR');
  assert.equal(bus.pioRead(0x21, 1), 0xff);
  bus.pioWrite(0x21, 1, 0xfd);
  assert.equal(chip.acknowledge(), 0x21);
});

test('PIC: the slave cascades through IRQ 2 and gives its own vector', () => {
  const { bus, chip } = setup();
  init(bus, 0x30, 0x70);
  pulse(bus, 12);
  assert.equal(chip.hasInterrupt(), true);
  assert.equal(chip.acknowledge(), 0x70 + 4);
  // Both chips hold it in service until each gets its EOI.
  bus.pioWrite(0x20, 1, 0x0b);
  bus.pioWrite(0xa0, 1, 0x0b);
  assert.equal(bus.pioRead(0x20, 1), 0x04);
  assert.equal(bus.pioRead(0xa0, 1), 0x10);
  bus.pioWrite(0xa0, 1, 0x20);
  bus.pioWrite(0x20, 1, 0x20);
  assert.equal(bus.pioRead(0xa0, 1), 0);
  assert.equal(bus.pioRead(0x20, 1), 0);
});

test('PIC: priority: IRQ 0 before IRQ 3, and a lower priority waits while a higher one is in service', () => {
  const { bus, chip } = setup();
  init(bus);
  pulse(bus, 3);
  pulse(bus, 0);
  assert.equal(chip.acknowledge(), 0x20);
  assert.equal(chip.hasInterrupt(), false, 'IRQ 3 waits for the EOI of IRQ 0');
  bus.pioWrite(0x20, 1, 0x60); // specific EOI for IRQ 0
  assert.equal(chip.acknowledge(), 0x23);
});

test('PIC: automatic EOI leaves nothing in service', () => {
  const { bus, chip } = setup();
  bus.pioWrite(0x20, 1, 0x11);
  bus.pioWrite(0x21, 1, 0x08);
  bus.pioWrite(0x21, 1, 0x04);
  bus.pioWrite(0x21, 1, 0x03); // 8086 mode + AEOI
  pulse(bus, 0);
  assert.equal(chip.acknowledge(), 0x08);
  pulse(bus, 0);
  assert.equal(chip.acknowledge(), 0x08, 'no EOI needed');
});

test('PIC: a level-triggered line (ELCR) stays requested while high', () => {
  const { bus, chip } = setup();
  init(bus);
  bus.pioWrite(0x4d1, 1, 0x02); // IRQ 9 level-triggered
  assert.equal(bus.pioRead(0x4d1, 1), 0x02);
  bus.pioWrite(0x4d0, 1, 0x07); // IRQ 0-2 cannot be level-triggered
  assert.equal(bus.pioRead(0x4d0, 1), 0x00);
  bus.irq(9, true);
  assert.equal(chip.acknowledge(), 0x29);
  bus.pioWrite(0xa0, 1, 0x20);
  bus.pioWrite(0x20, 1, 0x20);
  assert.equal(chip.hasInterrupt(), true, 'still high: requested again');
  bus.irq(9, false);
  // The master latched the cascade's edge; with the slave's request gone, the 8259A gives the slave's spurious IRQ 15.
  assert.equal(chip.acknowledge(), 0x2f);
  assert.equal(chip.hasInterrupt(), false);
});

test('PIC: a request that went away before the acknowledge gives the spurious vector (IRQ 7)', () => {
  const { bus, chip } = setup();
  init(bus);
  assert.equal(chip.acknowledge(), 0x27);
});

test('PIC: poll mode reads 0x80|line and acknowledges it', () => {
  const { bus } = setup();
  init(bus);
  pulse(bus, 5);
  bus.pioWrite(0x20, 1, 0x0c); // OCW3 poll
  assert.equal(bus.pioRead(0x20, 1), 0x85);
  bus.pioWrite(0x20, 1, 0x0b);
  assert.equal(bus.pioRead(0x20, 1), 0x20, 'IRQ 5 in service');
});

test('PIC: two instances over one state are one controller (one per vCPU thread)', () => {
  const a = setup();
  const bus2 = new Bus();
  const other = createDevice({ kind: 'pic', name: 'pic' }, a.state, busContext(bus2, () => {}, NO_MEMORY));
  bus2.add(other);
  init(a.bus);
  pulse(bus2, 4);
  const chip: IrqChip = a.chip;
  assert.equal(chip.acknowledge(), 0x24);
  const view = other.inspect!();
  assert.equal(view.active, true);
  assert.equal(view.interrupts, 1);
  assert.match(view.fields.map((f) => `${f.name}=${f.value}`).join(';'), /IRQ 4: 1/);
});

test('PIC: canInterrupt only once programmed with a line unmasked (the slave counts through IRQ 2)', () => {
  const { bus, chip } = setup();
  assert.equal(chip.canInterrupt(), false, 'never initialised');
  init(bus);
  assert.equal(chip.canInterrupt(), true, 'ICW1-4 leave every line unmasked');
  bus.pioWrite(0x21, 1, 0xff);
  assert.equal(chip.canInterrupt(), false, 'all masked');
  bus.pioWrite(0x21, 1, 0xfb);
  bus.pioWrite(0xa1, 1, 0xff);
  assert.equal(chip.canInterrupt(), false, 'only the cascade, with the slave all masked');
  bus.pioWrite(0xa1, 1, 0xef);
  assert.equal(chip.canInterrupt(), true, 'IRQ 12 through the cascade');
});
