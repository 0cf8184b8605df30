import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mb1Header, mb2Header } from '../../formats/boot-fixtures';
import { MB2_TAG } from '../../formats/multiboot';
import { BootInfoArea } from '../boot/layout';
import { e820Map } from '../boot/e820';
import { loadImage } from './index';
import type { LoadedImage } from './types';

const e820 = e820Map([{ kind: 'ram', gpa: 0, size: 32 << 20 }]);

/** A kernel that loads by its header's address fields: header at 1 MiB, 0x1000 bytes of file, bss to 0x103000. */
function aoutKernel(header: Uint8Array): Uint8Array {
  const file = new Uint8Array(0x1000).fill(0x90);
  file.set(header, 0);
  return file;
}

/** Reads guest memory as the loader laid it out. */
function memory(image: LoadedImage) {
  const at = (addr: number, len: number) => {
    const seg = image.segments.find((s) => addr >= s.gpa && addr + len <= s.gpa + s.data.length);
    assert.ok(seg, `0x${addr.toString(16)} is in a segment`);
    return seg.data.subarray(addr - seg.gpa, addr - seg.gpa + len);
  };
  const u32 = (addr: number) => new DataView(at(addr, 4).slice().buffer).getUint32(0, true);
  const u64 = (addr: number) => Number(new DataView(at(addr, 8).slice().buffer).getBigUint64(0, true));
  const str = (addr: number) => {
    const seg = image.segments.find((s) => addr >= s.gpa && addr < s.gpa + s.data.length)!;
    const bytes = seg.data.subarray(addr - seg.gpa);
    return new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
  };
  return { at, u32, u64, str };
}

test('Multiboot 1: a.out-kludge kernel, EAX/EBX, and the info structure with memory, cmdline, modules, mmap and loader name', () => {
  const aout = { headerAddr: 0x100000, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0x103000, entryAddr: 0x100020 };
  const mod1 = new Uint8Array(5000).fill(0xaa);
  const image = loadImage(aoutKernel(mb1Header(0x10003, aout)), 'multiboot', {
    e820,
    cmdline: 'console=serial verbose',
    modules: [{ data: mod1, cmdline: 'initrd.img' }, { data: Uint8Array.of(1, 2, 3), cmdline: 'second arg' }],
  });
  assert.equal(image.entry, 0x100020n);
  assert.deepEqual(image.entryState, { mode: 'protected', regs: { rax: 0x2badb002n, rbx: BigInt(BootInfoArea.params) } });
  const kernel = image.segments.find((s) => s.role === 'image')!;
  assert.equal(kernel.gpa, 0x100000);
  assert.equal(kernel.memSize, 0x3000, 'bss up to bss_end_addr');

  const m = memory(image);
  const info = BootInfoArea.params;
  const flags = m.u32(info);
  for (const bit of [0, 2, 3, 6, 9]) assert.ok(flags & (1 << bit), `flag bit ${bit}`);
  assert.equal(m.u32(info + 4), 639);
  assert.equal(m.u32(info + 8), 31 * 1024);
  assert.equal(m.str(m.u32(info + 16)), 'console=serial verbose');
  assert.equal(m.str(m.u32(info + 64)), 'vmscope');
  // Modules: page-aligned above the kernel's bss, in order, with their strings.
  assert.equal(m.u32(info + 20), 2);
  const mods = m.u32(info + 24);
  const [s1, e1, s2, e2] = [m.u32(mods), m.u32(mods + 4), m.u32(mods + 16), m.u32(mods + 20)];
  assert.equal(s1, 0x103000);
  assert.equal(e1 - s1, 5000);
  assert.equal(s2 % 0x1000, 0);
  assert.ok(s2 >= e1);
  assert.equal(e2 - s2, 3);
  assert.equal(m.str(m.u32(mods + 8)), 'initrd.img');
  assert.equal(m.str(m.u32(mods + 24)), 'second arg');
  assert.deepEqual([...m.at(s1, 4)], [0xaa, 0xaa, 0xaa, 0xaa]);
  // The memory map: size-prefixed 24-byte entries matching the e820 map.
  const len = m.u32(info + 44);
  const mmap = m.u32(info + 48);
  assert.equal(len, 24 * e820.length);
  const entries = [];
  for (let p = mmap; p < mmap + len; p += m.u32(p) + 4) entries.push({ addr: m.u64(p + 4), size: m.u64(p + 12), type: m.u32(p + 20) });
  assert.deepEqual(entries, e820);
  // Everything the loader built lies in the boot information area.
  const infoSeg = image.segments.find((s) => s.role === 'boot-info')!;
  assert.ok(infoSeg.gpa >= BootInfoArea.start && infoSeg.gpa + infoSeg.memSize <= BootInfoArea.end);
});

test('Multiboot 2: the boot information is 8-byte aligned tags with cmdline, loader name, modules, meminfo and mmap', () => {
  const hdr = mb2Header([
    { type: MB2_TAG.address, body: [0x100000, 0x100000, 0, 0x102000] },
    { type: MB2_TAG.entryAddress, body: [0x100040] },
    { type: MB2_TAG.informationRequest, body: [1, 6] },
  ]);
  const image = loadImage(aoutKernel(hdr), 'multiboot', { e820, cmdline: 'hello', modules: [{ data: new Uint8Array(10), cmdline: 'mod' }] });
  assert.equal(image.entry, 0x100040n);
  assert.equal(image.entryState?.regs.rax, 0x36d76289n);
  const m = memory(image);
  const base = Number(image.entryState!.regs.rbx);
  assert.equal(base % 8, 0);
  const total = m.u32(base);
  const tags = new Map<number, number>();
  for (let p = base + 8; p < base + total; p += (m.u32(p + 4) + 7) & ~7) {
    assert.equal(p % 8, 0);
    tags.set(m.u32(p), p);
    if (m.u32(p) === 0) break;
  }
  assert.deepEqual([...tags.keys()].sort(), [0, 1, 2, 3, 4, 6]);
  assert.equal(m.str(tags.get(1)! + 8), 'hello');
  assert.equal(m.str(tags.get(2)! + 8), 'vmscope');
  assert.equal(m.u32(tags.get(4)! + 12), 31 * 1024);
  const mod = tags.get(3)!;
  assert.equal(m.u32(mod + 12) - m.u32(mod + 8), 10);
  assert.equal(m.str(mod + 16), 'mod');
  const mmap = tags.get(6)!;
  assert.equal(m.u32(mmap + 8), 24);
  assert.equal((m.u32(mmap + 4) - 16) / 24, e820.length);
  assert.equal(m.u64(mmap + 16 + 24 + 8), e820[1]!.size);
});

test('Multiboot: required features vmscope lacks are refused by name; optional ones become notes', () => {
  const aout = { headerAddr: 0x100000, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x100020 };
  assert.throws(() => loadImage(aoutKernel(mb1Header(0x10004, aout)), 'multiboot', { e820 }), /flag bit 2 \(video mode\)/);
  const fb = (flags: number) => aoutKernel(mb2Header([
    { type: MB2_TAG.address, body: [0x100000, 0x100000, 0, 0] },
    { type: MB2_TAG.entryAddress, body: [0x100040] },
    { type: MB2_TAG.framebuffer, flags, body: [800, 600, 32] },
  ]));
  assert.throws(() => loadImage(fb(0), 'multiboot', { e820 }), /framebuffer tag: vmscope has no framebuffer/);
  const ok = loadImage(fb(1), 'multiboot', { e820 });
  assert.match(ok.notes?.join() ?? '', /framebuffer.*optional/);
  assert.throws(() => loadImage(new Uint8Array(0x4000), 'multiboot', { e820 }), /no Multiboot header/);
  assert.throws(() => loadImage(aoutKernel(mb1Header(0x3)), 'multiboot', { e820 }), /not ELF/);
});

test('Multiboot: modules that do not fit in RAM are refused with the sizes', () => {
  const aout = { headerAddr: 0x100000, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x100020 };
  const small = e820Map([{ kind: 'ram', gpa: 0, size: 2 << 20 }]);
  assert.throws(() => loadImage(aoutKernel(mb1Header(0x10000, aout)), 'multiboot', { e820: small, modules: [{ data: new Uint8Array(2 << 20), cmdline: 'big' }] }), /module 1 .* does not fit in RAM.*raise memory/);
});
