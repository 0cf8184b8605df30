import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regionMemory } from './bus';
import { DMA_CTL_ERROR, DMA_CTL_READ, DMA_CTL_SELECT, DMA_CTL_SKIP, DMA_CTL_WRITE, FW_CFG_FILE_DIR, fwCfgLayout } from './fw-cfg';
import { E820_FILE, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_RAM_SIZE, fwCfgItems } from './fw-cfg-items';
import { testBus, type TestBus } from './test-bus';
import type { DeviceConfig } from './types';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const E820 = [
  { addr: 0, len: 0x9fc00, type: 1 },
  { addr: 0x9fc00, len: 0x400, type: 2 },
  { addr: 0x100000, len: 3 * GIB - 0x100000, type: 1 },
  { addr: 4 * GIB, len: 2 * GIB, type: 1 },
];
const ITEMS = fwCfgItems({ ramBelow4g: 3 * GIB, ramAbove4g: 2 * GIB, vcpus: 2, e820: E820 });
const CONFIG: DeviceConfig = { kind: 'fw-cfg', name: 'fw_cfg', items: [...ITEMS, { file: 'opt/vmscope/note', data: new TextEncoder().encode('hello') }] };

function rig() {
  const ram = new Uint8Array(0x10000);
  const t = testBus([CONFIG], { memory: regionMemory([{ gpa: 0, bytes: ram }]) });
  return { t, ram };
}

/** What SeaBIOS's qemu_cfg_read_entry does on the traditional interface. */
function readItem(t: TestBus, key: number, len: number): Uint8Array {
  t.bus.pioWrite(0x510, 2, key);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = t.bus.pioRead(0x511, 1);
  return out;
}

const bswap32 = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** The guest side of a DMA access (Linux's fw_cfg_dma_transfer, SeaBIOS's qemu_cfg_dma_transfer): structure at `at`, then the address, big-endian, high half first. */
function dma(t: TestBus, ram: Uint8Array, at: number, control: number, length: number, address: number): number {
  const dv = new DataView(ram.buffer);
  dv.setUint32(at, control);
  dv.setUint32(at + 4, length);
  dv.setBigUint64(at + 8, BigInt(address));
  t.bus.pioWrite(0x514, 4, bswap32(Math.floor(at / 2 ** 32)));
  t.bus.pioWrite(0x518, 4, bswap32(at >>> 0));
  return dv.getUint32(at);
}

function directory(t: TestBus): Map<string, { key: number; size: number }> {
  const count = new DataView(readItem(t, FW_CFG_FILE_DIR, 4).buffer).getUint32(0);
  const raw = readItem(t, FW_CFG_FILE_DIR, 4 + 64 * count).subarray(4);
  const dv = new DataView(raw.buffer, raw.byteOffset);
  const files = new Map<string, { key: number; size: number }>();
  for (let i = 0; i < count; i++) {
    const name = raw.subarray(i * 64 + 8, i * 64 + 64);
    files.set(new TextDecoder().decode(name.subarray(0, name.indexOf(0))), { size: dv.getUint32(i * 64), key: dv.getUint16(i * 64 + 4) });
  }
  return files;
}

test('fw_cfg: signature, ID with DMA, and the DMA register signature', () => {
  const { t } = rig();
  assert.equal(new TextDecoder().decode(readItem(t, 0x0000, 4)), 'QEMU');
  assert.equal(readItem(t, 0x0001, 4)[0]! & 3, 3, 'traditional interface and DMA');
  const sig = Array.from({ length: 8 }, (_, i) => t.bus.pioRead(0x514 + i, 1));
  assert.equal(String.fromCharCode(...sig), 'QEMU CFG');
  assert.equal(bswap32(t.bus.pioRead(0x514, 4)), 0x51454d55, 'a big-endian read of the high half is "QEMU"');
});

test('fw_cfg: the directory lists the files from key 0x20; items read back as SeaBIOS decodes them', () => {
  const { t } = rig();
  const files = directory(t);
  assert.deepEqual([...files.keys()], [E820_FILE, 'opt/vmscope/note']);
  assert.deepEqual(files.get('opt/vmscope/note'), { key: 0x21, size: 5 });
  const e820 = files.get(E820_FILE)!;
  assert.equal(e820.key, 0x20);
  const raw = readItem(t, e820.key, e820.size);
  const dv = new DataView(raw.buffer);
  const entries = [];
  for (let at = 0; at < raw.length; at += 20) entries.push({ addr: Number(dv.getBigUint64(at, true)), len: Number(dv.getBigUint64(at + 8, true)), type: dv.getUint32(at + 16, true) });
  assert.deepEqual(entries, E820);
  assert.equal(new DataView(readItem(t, FW_CFG_RAM_SIZE, 8).buffer).getBigUint64(0, true), BigInt(5 * GIB));
  assert.equal(new DataView(readItem(t, FW_CFG_NB_CPUS, 2).buffer).getUint16(0, true), 2);
  assert.equal(new DataView(readItem(t, FW_CFG_MAX_CPUS, 2).buffer).getUint16(0, true), 2);
  assert.deepEqual([...readItem(t, 0x21, 7)], [...new TextEncoder().encode('hello'), 0, 0], 'reads past the end give 0');
  assert.deepEqual([...readItem(t, 0x1234, 2)], [0, 0], 'an unknown key reads as zeros');
});

test('fw_cfg DMA: select+read, skip, zero fill past the end, completion in the control word', () => {
  const { t, ram } = rig();
  assert.equal(dma(t, ram, 0x1000, (0x21 << 16) | DMA_CTL_SELECT | DMA_CTL_SKIP, 2, 0), 0);
  assert.equal(dma(t, ram, 0x1000, DMA_CTL_READ, 6, 0x2000), 0);
  assert.deepEqual([...ram.subarray(0x2000, 0x2006)], [...new TextEncoder().encode('llo'), 0, 0, 0]);
  ram.fill(0xaa, 0x3000, 0x3010);
  assert.equal(dma(t, ram, 0x1000, (FW_CFG_FILE_DIR << 16) | DMA_CTL_SELECT | DMA_CTL_READ, 4, 0x3000), 0);
  assert.equal(new DataView(ram.buffer).getUint32(0x3000), 2, 'big-endian file count');
  assert.equal(ram[0x3004], 0xaa, 'no byte beyond the length');
  assert.equal(t.devices.get('fw_cfg')!.inspect!().fields.find((f) => f.name === 'offset')!.value, '4', 'the data offset moved on');
});

test('fw_cfg DMA: writes and unbacked buffers are refused with the error bit', () => {
  const { t, ram } = rig();
  assert.equal(dma(t, ram, 0x1000, (0x21 << 16) | DMA_CTL_SELECT | DMA_CTL_WRITE, 2, 0x2000), DMA_CTL_ERROR);
  assert.equal(dma(t, ram, 0x1000, (0x21 << 16) | DMA_CTL_SELECT | DMA_CTL_READ, 2, 0x7fff0000), DMA_CTL_ERROR);
  assert.equal(dma(t, ram, 0x1000, DMA_CTL_READ, 2, 0x2000), 0, 'a failed read leaves the offset where it was');
  assert.deepEqual([...ram.subarray(0x2000, 0x2002)], [0x68, 0x65]);
  assert.match(t.devices.get('fw_cfg')!.inspect!().fields.find((f) => f.name === 'DMA transfers')!.value, /^3, 2 failed$/);
});

test('fw_cfg: another thread’s instance shares the items and the selector/offset', () => {
  const { t } = rig();
  const other = t.twin();
  t.bus.pioWrite(0x510, 2, 0x21);
  assert.equal(t.bus.pioRead(0x511, 1), 0x68);
  assert.equal(other.bus.pioRead(0x511, 1), 0x65, 'the twin continues at the shared offset');
  assert.equal(new TextDecoder().decode(readItem(other, 0, 4)), 'QEMU');
});

test('fw_cfg: a config with a duplicate key or an over-long file name is refused', () => {
  assert.throws(() => fwCfgLayout([{ key: 0x19, data: new Uint8Array(1) }]), /two items with key 0x0019/);
  assert.throws(() => fwCfgLayout([{ file: 'x'.repeat(56), data: new Uint8Array(1) }]), /longer than 55/);
});
