import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uartEnqueue, type DeviceConfig } from './index';
import { testBus } from './test-bus';
import { IER_EDSSI, IER_ELSI, IER_ERBFI, IER_ETBEI, IIR_LINE_STATUS, IIR_MODEM_STATUS, IIR_NONE, IIR_RX_DATA, IIR_THR_EMPTY, UART_RX_CAPACITY } from './uart16550';

const COM1: DeviceConfig = { kind: 'uart16550', name: 'com1', port: 0x3f8, irq: 4 };
const RBR = 0x3f8;
const IER = 0x3f9;
const IIR = 0x3fa;
const FCR = 0x3fa;
const LCR = 0x3fb;
const MCR = 0x3fc;
const LSR = 0x3fd;
const MSR = 0x3fe;
const OUT2 = 0x08;

test('UART IRQ: THRE raises IRQ 4 only with OUT2; reading IIR that reports it drops the line', () => {
  const t = testBus([COM1]);
  t.bus.pioWrite(IER, 1, IER_ETBEI);
  assert.equal(t.lines.get(4), undefined, 'OUT2 clear: the PC keeps the line quiet');
  t.bus.pioWrite(MCR, 1, OUT2 | 0x03);
  assert.equal(t.lines.get(4), true);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_THR_EMPTY);
  assert.equal(t.lines.get(4), false);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_NONE, 'the read cleared THRE');
  t.bus.pioWrite(RBR, 1, 0x41);
  assert.equal(t.lines.get(4), true, 'a THR write completes at once and THRE is pending again');
  t.bus.pioWrite(RBR, 1, 0x42);
  assert.equal(t.rises(4), 2, 'a second write while pending is no new edge');
  t.bus.pioWrite(IER, 1, 0);
  assert.equal(t.lines.get(4), false, 'masking the source drops the line');
  assert.equal(t.devices.get('com1')!.inspect!().interrupts, 2);
});

test("UART IRQ: Linux 8250's THRE re-assert test sees THRE both times", () => {
  // serial8250_do_startup: IER=THRI, read IIR, IER=0, IER=THRI, read IIR; NO_INT the second time means UART_BUG_THRE.
  const t = testBus([COM1]);
  t.bus.pioWrite(FCR, 1, 0x07);
  t.bus.pioWrite(IER, 1, IER_ETBEI);
  const iir1 = t.bus.pioRead(IIR, 1);
  t.bus.pioWrite(IER, 1, 0);
  t.bus.pioWrite(IER, 1, IER_ETBEI);
  const iir = t.bus.pioRead(IIR, 1);
  t.bus.pioWrite(IER, 1, 0);
  assert.equal(iir1, 0xc0 | IIR_THR_EMPTY, 'FIFO bits set, THRE reported');
  assert.equal(iir & IIR_NONE, 0, 'THRE re-asserted when ETBEI went 0->1');
});

test("UART: Linux 8250 autoconfig finds a plain 16550A", () => {
  const t = testBus([COM1]);
  t.bus.pioWrite(FCR, 1, 0x01);
  assert.equal(t.bus.pioRead(IIR, 1) >> 6, 3, '16550A FIFOs');
  t.bus.pioWrite(LCR, 1, 0xbf);
  assert.notEqual(t.bus.pioRead(IIR, 1), 0, 'no EFR: not a 16650');
  t.bus.pioWrite(FCR, 1, 0x21);
  const status1 = t.bus.pioRead(IIR, 1) >> 5;
  t.bus.pioWrite(LCR, 1, 0x03);
  const status2 = t.bus.pioRead(IIR, 1) >> 5;
  assert.ok(!(status1 === 6 && status2 === 7), 'no 64-byte FIFO: not a 16750');
  t.bus.pioWrite(IER, 1, 0x40);
  assert.equal(t.bus.pioRead(IER, 1) & 0x40, 0, 'no UUE bit: not an XScale');
  t.bus.pioWrite(MCR, 1, 0x1a);
  assert.equal(t.bus.pioRead(MSR, 1) & 0xf0, 0x90, 'loopback check: MCR=0x1A reads back as DCD|CTS');
  t.bus.pioWrite(MCR, 1, 0x10);
  assert.equal(t.bus.pioRead(MSR, 1) & 0xf0, 0x00);
});

test('UART IRQ: host input raises rx data at the next poll, above THRE, until the FIFO is drained', () => {
  const t = testBus([COM1]);
  t.bus.pioWrite(MCR, 1, OUT2 | 0x03);
  t.bus.pioWrite(IER, 1, IER_ERBFI);
  assert.equal(t.lines.get(4), undefined);
  uartEnqueue(t.states.get('com1')!, new TextEncoder().encode('ls'));
  assert.equal(t.lines.get(4), undefined, 'the main thread does not drive lines');
  assert.equal(t.bus.poll(0), Infinity);
  assert.equal(t.lines.get(4), true);
  t.bus.pioWrite(IER, 1, IER_ERBFI | IER_ETBEI);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_RX_DATA, 'rx data outranks THRE');
  assert.equal(t.bus.pioRead(RBR, 1), 0x6c);
  assert.equal(t.bus.pioRead(RBR, 1), 0x73);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_THR_EMPTY, 'then THRE');
  assert.equal(t.lines.get(4), false);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_NONE);
});

test('UART IRQ: an overrun is a line-status interrupt, cleared by reading LSR', () => {
  const t = testBus([COM1]);
  t.bus.pioWrite(MCR, 1, OUT2);
  t.bus.pioWrite(IER, 1, IER_ELSI | IER_ERBFI);
  uartEnqueue(t.states.get('com1')!, new Uint8Array(UART_RX_CAPACITY + 1));
  t.bus.poll(0);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_LINE_STATUS);
  assert.equal(t.bus.pioRead(LSR, 1) & 0x02, 0x02);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_RX_DATA);
  t.bus.pioWrite(FCR, 1, 0x03);
  assert.equal(t.bus.pioRead(IIR, 1) & 0x0f, IIR_NONE, 'clearing the receive FIFO ends rx data');
  assert.equal(t.lines.get(4), false);
});

test('UART: loopback feeds THR to RBR with an rx interrupt pending but the PC line held low; MSR deltas report modem status', () => {
  const t = testBus([COM1]);
  t.bus.pioWrite(MCR, 1, 0x10);
  t.bus.pioRead(MSR, 1); // entering loopback dropped CTS, DSR and DCD: clear those deltas
  t.bus.pioWrite(IER, 1, IER_ERBFI | IER_EDSSI);
  t.bus.pioWrite(MCR, 1, 0x10 | OUT2);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_MODEM_STATUS, 'DCD followed OUT2: delta DCD');
  assert.equal(t.bus.pioRead(MSR, 1), 0x80 | 0x08);
  assert.equal(t.bus.pioRead(MSR, 1), 0x80, 'deltas clear on read');
  t.bus.pioWrite(RBR, 1, 0x5a);
  assert.equal(t.events.length, 0);
  assert.equal(t.bus.pioRead(IIR, 1), IIR_RX_DATA);
  assert.notEqual(t.lines.get(4), true, 'loopback disconnects OUT2 from the line');
  assert.equal(t.bus.pioRead(RBR, 1), 0x5a);
  t.bus.pioWrite(MCR, 1, 0x10 | 0x04);
  t.bus.pioRead(MSR, 1);
  t.bus.pioWrite(MCR, 1, 0x10);
  assert.equal(t.bus.pioRead(MSR, 1) & 0x04, 0x04, 'RI trailing edge');
});

test('UART IRQ: a second instance over the same state (another vCPU thread) sees and drives the same device', () => {
  const a = testBus([COM1]);
  const b = a.twin();
  a.bus.pioWrite(MCR, 1, OUT2);
  a.bus.pioWrite(IER, 1, IER_ERBFI | IER_ETBEI);
  assert.equal(a.lines.get(4), true);
  assert.equal(b.bus.pioRead(IER, 1), IER_ERBFI | IER_ETBEI);
  assert.equal(b.bus.pioRead(IIR, 1), IIR_THR_EMPTY, 'b sees the THRE that a raised and clears it');
  assert.equal(b.lines.get(4), false);
  assert.equal(a.bus.pioRead(IIR, 1), IIR_NONE);
  uartEnqueue(a.states.get('com1')!, Uint8Array.of(0x0d));
  b.bus.poll(0);
  assert.equal(b.lines.get(4), true);
  assert.equal(a.bus.pioRead(RBR, 1), 0x0d);
  assert.equal(b.devices.get('com1')!.inspect!().interrupts, 2, 'one count in the shared state');
  assert.equal(b.bus.pioRead(LCR, 1), 0x03, "the twin's creation did not reset the device");
});

test('UART: without an irq in the config the device never drives a line', () => {
  const t = testBus([{ kind: 'uart16550', name: 'com2', port: 0x2f8 }]);
  t.bus.pioWrite(0x2fc, 1, OUT2);
  t.bus.pioWrite(0x2f9, 1, IER_ETBEI);
  assert.equal(t.bus.pioRead(0x2fa, 1), IIR_THR_EMPTY);
  assert.equal(t.irqLog.length, 0);
  const view = t.devices.get('com2')!.inspect!();
  assert.equal(view.active, true);
  assert.match(view.fields.find((f) => f.name === 'line')!.value, /none/);
});
