import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bzImage } from '../../formats/boot-fixtures';
import { BootInfoArea } from '../boot/layout';
import { e820Map } from '../boot/e820';
import { loadImage } from './index';

const MiB = 0x100000;
const e820 = e820Map([{ kind: 'ram', gpa: 0, size: 64 * MiB }]);
const payload = new Uint8Array(0x1000).fill(0xcc);

function bootParams(image: ReturnType<typeof loadImage>) {
  const seg = image.segments.find((s) => s.role === 'boot-info')!;
  assert.equal(seg.gpa, BootInfoArea.params);
  return { bytes: seg.data, dv: new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.length) };
}

test('Linux: kernel at pref_address, 64-bit entry at +0x200 in long mode with RSI = boot_params and the Linux GDT', () => {
  const file = bzImage(payload, { setupSects: 2, prefAddress: 0x1000000n });
  const image = loadImage(file, 'linux', { e820, cmdline: 'console=ttyS0' });
  const kernel = image.segments.find((s) => s.role === 'image')!;
  assert.equal(kernel.gpa, 0x1000000);
  assert.deepEqual(kernel.data, payload, 'the protected-mode kernel from (setup_sects+1)*512');
  assert.equal(image.entry, 0x1000200n);
  assert.deepEqual(image.entryState, { mode: 'long', regs: { rsi: BigInt(BootInfoArea.params) }, gdt: 'linux' });

  const { bytes, dv } = bootParams(image);
  assert.deepEqual(bytes.subarray(0x1f1, 0x202), file.subarray(0x1f1, 0x202), 'the setup header is copied');
  assert.equal(dv.getUint32(0x202, true), 0x53726448);
  assert.equal(dv.getUint8(0x210), 0xff, 'type_of_loader');
  assert.equal(dv.getUint8(0x211) & 0x81, 0x81, 'LOADED_HIGH | CAN_USE_HEAP');
  assert.notEqual(dv.getUint16(0x224, true), 0, 'heap_end_ptr');
  const cmdPtr = dv.getUint32(0x228, true);
  const cmd = image.segments.find((s) => s.gpa === cmdPtr)!;
  assert.equal(new TextDecoder().decode(cmd.data), 'console=ttyS0\0');
  // e820: count at 0x1e8, 20-byte entries at 0x2d0.
  assert.equal(dv.getUint8(0x1e8), e820.length);
  const table = e820.map((_, i) => ({ addr: Number(dv.getBigUint64(0x2d0 + 20 * i, true)), size: Number(dv.getBigUint64(0x2d8 + 20 * i, true)), type: dv.getUint32(0x2e0 + 20 * i, true) }));
  assert.deepEqual(table, e820);
  assert.equal(dv.getUint32(0x218, true), 0, 'no initrd');
});

test('Linux: the initrd goes page-aligned as high as initrd_addr_max and RAM allow, above the kernel', () => {
  const initrd = new Uint8Array(3 * MiB + 123).fill(7);
  const high = loadImage(bzImage(payload), 'linux', { e820, initrd });
  const seg = high.segments.find((s) => s.role === 'initrd')!;
  assert.equal(seg.gpa % 0x1000, 0);
  assert.ok(seg.gpa + initrd.length <= 64 * MiB && seg.gpa + initrd.length > 64 * MiB - 0x1000, 'against the end of RAM');
  const { dv } = bootParams(high);
  assert.equal(dv.getUint32(0x218, true), seg.gpa);
  assert.equal(dv.getUint32(0x21c, true), initrd.length);
  const capped = loadImage(bzImage(payload, { initrdAddrMax: 40 * MiB - 1 }), 'linux', { e820, initrd });
  const c = capped.segments.find((s) => s.role === 'initrd')!;
  assert.ok(c.gpa + initrd.length <= 40 * MiB && c.gpa + initrd.length > 40 * MiB - 0x1000, 'against initrd_addr_max');
  assert.throws(() => loadImage(bzImage(payload, { initSize: 40 * MiB }), 'linux', { e820, initrd: new Uint8Array(30 * MiB) }), /initrd \(30\.0 MiB\) does not fit.*raise memory to at least \d+ MiB/);
});

test('Linux: a relocatable kernel that does not fit at pref_address goes to the lowest aligned address; a fixed one is refused', () => {
  const small = e820Map([{ kind: 'ram', gpa: 0, size: 12 * MiB }]);
  const image = loadImage(bzImage(payload, { prefAddress: 0x1000000n, kernelAlignment: 0x200000, initSize: 4 * MiB }), 'linux', { e820: small });
  assert.equal(image.segments.find((s) => s.role === 'image')!.gpa, 0x200000);
  assert.throws(() => loadImage(bzImage(payload, { prefAddress: 0x1000000n, relocatable: false }), 'linux', { e820: small }), /not relocatable.*raise memory/);
});

test('Linux: refusals name the problem (old protocol, 32-bit kernel, long command line)', () => {
  assert.throws(() => loadImage(bzImage(payload, { version: 0x0206 }), 'linux', { e820 }), /protocol 2\.06 is too old/);
  assert.throws(() => loadImage(bzImage(payload, { xloadflags: 0 }), 'linux', { e820 }), /XLF_KERNEL_64/);
  assert.throws(() => loadImage(bzImage(payload, { cmdlineSize: 8 }), 'linux', { e820, cmdline: 'console=ttyS0' }), /at most 8 \(cmdline_size\)/);
  assert.equal(loadImage(bzImage(payload), undefined, { e820 }).format, 'linux', 'detected by its HdrS signature');
});
