import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testBus, type TestBus } from './test-bus';

const cfgAddr = (bus: number, dev: number, fn: number, reg: number) => (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;

function cfgRead(t: TestBus, dev: number, fn: number, reg: number, size: 1 | 2 | 4, bus = 0): number {
  t.bus.pioWrite(0xcf8, 4, cfgAddr(bus, dev, fn, reg));
  return t.bus.pioRead(0xcfc + (reg & 3), size);
}

function cfgWrite(t: TestBus, dev: number, fn: number, reg: number, size: 1 | 2 | 4, value: number): void {
  t.bus.pioWrite(0xcf8, 4, cfgAddr(0, dev, fn, reg));
  t.bus.pioWrite(0xcfc + (reg & 3), size, value);
}

const rig = () => testBus([{ kind: 'pci-host', name: 'pci' }]);

test('PCI: the i440FX and PIIX3 answer with their IDs, classes and header types; the rest of bus 0 is absent', () => {
  const t = rig();
  assert.equal(cfgRead(t, 0, 0, 0x00, 4), 0x12378086);
  assert.equal(cfgRead(t, 0, 0, 0x08, 4), 0x06000002, 'host bridge class, revision 2');
  assert.equal(cfgRead(t, 0, 0, 0x0e, 1), 0x00);
  assert.equal(cfgRead(t, 1, 0, 0x00, 4), 0x70008086);
  assert.equal(cfgRead(t, 1, 0, 0x0a, 2), 0x0601, 'ISA bridge');
  assert.equal(cfgRead(t, 1, 0, 0x0e, 1), 0x80, 'multifunction');
  assert.equal(cfgRead(t, 0, 0, 0x02, 2), 0x1237, 'a word at offset 2 comes from 0xCFE');
  for (const [dev, fn] of [[2, 0], [0, 1], [1, 3], [31, 7]] as const) assert.equal(cfgRead(t, dev, fn, 0, 2), 0xffff, `${dev}.${fn} absent`);
  assert.equal(cfgRead(t, 0, 0, 0, 4, 1), 0xffffffff, 'bus 1 absent');
  t.bus.pioWrite(0xcf8, 4, 0x00000000);
  assert.equal(t.bus.pioRead(0xcfc, 4), 0xffffffff, 'no config cycle without the enable bit');
});

test("PCI: Linux's type 1 probe sees the address register and finds a host bridge", () => {
  // pci_check_type1: outb(0x01, 0xCFB); save inl(0xCF8); outl(0x80000000); inl must read it back.
  const t = rig();
  t.bus.pioWrite(0xcfb, 1, 0x01);
  const saved = t.bus.pioRead(0xcf8, 4);
  t.bus.pioWrite(0xcf8, 4, 0x80000000);
  assert.equal(t.bus.pioRead(0xcf8, 4), 0x80000000);
  assert.equal(cfgRead(t, 0, 0, 0x0a, 2), 0x0600, 'pci_sanity_check: a host bridge on bus 0');
  t.bus.pioWrite(0xcf8, 4, saved);
  assert.equal(t.bus.pioRead(0xcfb, 1), 0x01, 'the byte access was a plain register');
  assert.equal(t.bus.pioRead(0xcf8, 4), saved);
});

test('PCI: PAM, SMRAM and PIRQ bytes store what firmware writes; IDs and classes do not change', () => {
  const t = rig();
  assert.equal(cfgRead(t, 1, 0, 0x60, 4), 0x80808080, 'PIRQs unrouted at reset');
  for (let r = 0x59; r <= 0x5f; r++) cfgWrite(t, 0, 0, r, 1, 0x33);
  cfgWrite(t, 0, 0, 0x72, 1, 0x0a);
  cfgWrite(t, 1, 0, 0x60, 4, 0x0b0b0a0a);
  cfgWrite(t, 0, 0, 0x00, 4, 0);
  cfgWrite(t, 0, 0, 0x08, 4, 0);
  assert.equal(cfgRead(t, 0, 0, 0x5c, 4), 0x33333333);
  assert.equal(cfgRead(t, 0, 0, 0x72, 1), 0x0a);
  assert.equal(cfgRead(t, 1, 0, 0x60, 4), 0x0b0b0a0a);
  assert.equal(cfgRead(t, 0, 0, 0x00, 4), 0x12378086);
  assert.equal(cfgRead(t, 0, 0, 0x08, 4), 0x06000002);
  const twin = t.twin();
  assert.equal(cfgRead(twin, 0, 0, 0x59, 1), 0x33, 'another thread sees the same space');
  assert.match(twin.devices.get('pci')!.inspect!().fields.find((f) => f.name === 'PIRQA-D')!.value, /^0a 0a 0b 0b$/);
});

test('PCI: command bits are writable within their mask; writing ones to status sets nothing', () => {
  const t = rig();
  cfgWrite(t, 0, 0, 0x04, 2, 0xffff);
  assert.equal(cfgRead(t, 0, 0, 0x04, 2), 0x0147);
  cfgWrite(t, 0, 0, 0x04, 2, 0x0000);
  assert.equal(cfgRead(t, 0, 0, 0x04, 2), 0);
  assert.equal(cfgRead(t, 0, 0, 0x06, 2), 0x0280);
  cfgWrite(t, 0, 0, 0x06, 2, 0xffff);
  assert.equal(cfgRead(t, 0, 0, 0x06, 2), 0x0280, 'fast back-to-back and DEVSEL timing are read-only; the error bits only clear');
});
