import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gpa } from '../../common/address';
import { elfLoader } from './elf';
import { parseElf, EM_X86_64, EM_386 } from '../../formats/elf';
import { loadImage } from './index';
import { ImageError } from './types';

/** Builds a tiny ELF from assembly with the machine's binutils: a fixture made from source. */
function buildElf(asm: string, bits: 32 | 64, ldArgs: string[] = []): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-elf-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.S'), asm);
    execFileSync('as', [bits === 32 ? '--32' : '--64', '-o', path.join(dir, 'a.o'), path.join(dir, 'a.S')]);
    execFileSync('ld', ['-m', bits === 32 ? 'elf_i386' : 'elf_x86_64', '-o', path.join(dir, 'a.elf'), ...ldArgs, path.join(dir, 'a.o')]);
    return fs.readFileSync(path.join(dir, 'a.elf'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ASM = `
  .text
  .globl _start
  .type _start, @function
_start:
  nop
  call helper
  hlt
  .size _start, .-_start
  .type helper, @function
helper:
  ret
  .size helper, .-helper
  .data
  .globl counter
  .type counter, @object
counter: .quad 0x1122334455667788
  .size counter, 8
  .bss
  .globl buf
buf: .skip 8192
`;

test('ELF64: entry, segments at their physical addresses, .bss zero-filled size', () => {
  const bytes = buildElf(ASM, 64, ['-Ttext=0x100000', '-Tdata=0x200000', '-Tbss=0x300000']);
  const img = elfLoader.load(bytes, {});
  assert.equal(img.format, 'elf');
  assert.equal(img.bits, 64);
  assert.equal(img.machine, 'x86-64');
  assert.equal(img.entry, 0x100000n);
  const text = img.segments.find((s) => s.gpa === 0x100000)!;
  assert.ok(text.flags.exec && !text.flags.write);
  assert.deepEqual([...text.data.subarray(0, 1)], [0x90]);
  const data = img.segments.find((s) => s.gpa === 0x200000)!;
  assert.equal(new DataView(data.data.buffer, data.data.byteOffset).getBigUint64(0, true), 0x1122334455667788n);
  const bss = img.segments.find((s) => s.gpa === 0x300000)!;
  assert.equal(bss.data.length, 0);
  assert.equal(bss.memSize, 8192);
});

test('ELF64: symbols with kinds and sizes', () => {
  const img = elfLoader.load(buildElf(ASM, 64, ['-Ttext=0x100000']), {});
  const byName = new Map(img.symbols.map((s) => [s.name, s]));
  assert.equal(byName.get('_start')?.kind, 'func');
  assert.equal(byName.get('_start')?.size, 7);
  assert.equal(byName.get('_start')?.global, true);
  assert.equal(byName.get('helper')?.value, 0x100007n);
  assert.equal(byName.get('helper')?.global, false);
  assert.equal(byName.get('counter')?.kind, 'object');
});

test('ELF32: class, machine, entry and symbols', () => {
  const bytes = buildElf(ASM, 32, ['-Ttext=0x100000']);
  const elf = parseElf(bytes);
  assert.equal(elf.bits, 32);
  assert.equal(elf.machine, EM_386);
  const img = elfLoader.load(bytes, {});
  assert.equal(img.bits, 32);
  assert.equal(img.entry, 0x100000n);
  assert.ok(img.symbols.some((s) => s.name === 'helper' && s.value === 0x100007n));
});

test('ELF: sections are listed by name', () => {
  const elf = parseElf(buildElf(ASM, 64, ['-Ttext=0x100000']));
  assert.equal(elf.machine, EM_X86_64);
  const names = elf.sections.map((s) => s.name);
  for (const n of ['.text', '.data', '.bss', '.symtab', '.strtab']) assert.ok(names.includes(n), n);
});

test('ELF: a high-half link keeps the 64-bit virtual entry exact and loads at p_paddr', () => {
  const bytes = buildElf(ASM, 64, ['-Ttext=0xffffffff80100000']);
  const elf = parseElf(bytes);
  assert.equal(elf.entry, 0xffffffff80100000n);
});

test('ELF: truncated and foreign files are rejected with a reason', () => {
  const good = buildElf(ASM, 64, ['-Ttext=0x100000']);
  assert.throws(() => parseElf(good.subarray(0, 40)), /truncated ELF header/);
  const cut = good.subarray(0, 0x90);
  assert.throws(() => elfLoader.load(cut, {}), ImageError);
  const arm = Uint8Array.from(good);
  new DataView(arm.buffer).setUint16(18, 183, true); // EM_AARCH64
  assert.throws(() => parseElf(arm), /not x86/);
  const big = Uint8Array.from(good);
  big[5] = 2;
  assert.throws(() => parseElf(big), /big-endian/);
  assert.throws(() => parseElf(new Uint8Array([1, 2, 3, 4, 5])), /not an ELF/);
});

test('format detection: ELF by magic, flat otherwise, and declared formats are checked', () => {
  const elf = buildElf(ASM, 64, ['-Ttext=0x100000']);
  assert.equal(loadImage(elf, undefined, {}).format, 'elf');
  const flat = new Uint8Array([0xf4]);
  assert.equal(loadImage(flat, undefined, { load: gpa(0x7c00) }).format, 'flat');
  assert.throws(() => loadImage(flat, 'elf', {}), /not elf/);
  assert.throws(() => loadImage(elf, 'flat', { load: gpa(0x1000) }), /is an elf file but boot.format says flat/);
});

test('flat: copied to the load address and entered there unless told otherwise', () => {
  const img = loadImage(new Uint8Array([0xeb, 0xfe]), 'flat', { load: gpa(0x7c00) });
  assert.equal(img.entry, 0x7c00n);
  assert.equal(img.segments[0]!.gpa, 0x7c00);
  assert.equal(img.segments[0]!.memSize, 2);
  assert.throws(() => loadImage(new Uint8Array(0), 'flat', { load: gpa(0x7c00) }), /empty/);
});
