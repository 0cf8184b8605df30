import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSpec } from './parse';
import { checkImage } from './image-checks';
import { IMAGE_DIAGNOSTIC_CODES } from './types';
import { bzImage, mb1Header, mb2Header } from '../formats/boot-fixtures';
import { MB2_TAG } from '../formats/multiboot';
import { scratchDir } from '../test/scratch';

// The example guest, built from source by `npm test` before the tests run.
const HELLO = path.resolve(__dirname, '..', '..', 'examples', 'hello', 'build', 'hello.elf');
const dir = scratchDir('vmscope-image-');
const FLAT = path.join(dir, 'flat.bin');
fs.writeFileSync(FLAT, Buffer.alloc(0x3000, 0x90));

function check(yaml: string) {
  const r = parseSpec(yaml, path.join(dir, 'vm.vmspec'));
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), [], 'the spec itself parses');
  return checkImage(r);
}

function only(yaml: string, code: keyof typeof IMAGE_DIAGNOSTIC_CODES, at: string, says: RegExp) {
  const d = check(yaml);
  const hit = d.find((x) => x.code === code);
  assert.ok(hit, `${code} in ${JSON.stringify(d.map((x) => x.code))}`);
  assert.equal(`${hit.range.start.line + 1}:${hit.range.start.character + 1}`, at);
  assert.match(hit.message, says);
  return hit;
}

test('a good spec gives no image diagnostics', () => {
  assert.deepEqual(check(`name: h\nboot:\n  image: ${HELLO}\n`), []);
  assert.deepEqual(check(`name: f\nboot:\n  image: ${FLAT}\n  format: flat\n  mode: real\n`), []);
});

test('each image check names the right place', () => {
  only(`name: h\nboot:\n  image: missing.elf\n`, 'image-missing', '3:10', /does not exist; build the guest first/);
  only(`name: h\nboot:\n  image: ${FLAT}\n  format: elf\n`, 'image-format', '4:11', /is not an ELF file/);
  const flatElf = only(`name: h\nboot:\n  image: ${HELLO}\n  format: flat\n`, 'image-format', '4:11', /is an ELF file/);
  assert.equal(flatElf.suggestion, 'elf');
  only(`name: h\nboot:\n  image: ${HELLO}\nregions:\n  - { name: rom0, gpa: 0x1000000, size: 4KiB, kind: rom }\nmemory: 1MiB\n`, 'image-too-big', '3:10', /segment 0x100000\.\.0x10[0-9a-f]+ .*outside RAM/);
  only(`name: h\nmemory: 1MiB\nboot:\n  image: ${HELLO}\nregions:\n  - { name: win, gpa: 0x100000, size: 4KiB, kind: mmio }\n`, 'image-overlap', '6:23', /collides with region win/);
  const sym = only(`name: h\nboot:\n  image: ${HELLO}\n  entry: uart_putz\n`, 'unknown-symbol', '4:10', /no symbol "uart_putz" \(did you mean "uart_put[cs]"\?\)/);
  assert.match(sym.suggestion ?? '', /^uart_put[cs]$/);
  only(`name: h\nboot:\n  image: ${HELLO}\n  entry: 0x5000\n`, 'entry-outside-image', '4:10', /entry point 0x5000 is outside every loaded segment/);
  const mode = only(`name: h\nboot:\n  image: ${HELLO}\n  mode: protected\n`, 'mode-mismatch', '4:9', /64-bit ELF, but boot.mode is protected/);
  assert.equal(mode.severity, 'warning');
});

test('what an image holds is cached by mtime: a rebuilt image is read again', () => {
  const img = path.join(dir, 'grow.bin');
  fs.writeFileSync(img, Buffer.alloc(0x1000));
  const yaml = `name: g\nmemory: 1MiB\nboot:\n  image: ${img}\n  format: flat\n  load: 0xff000\n`;
  assert.deepEqual(check(yaml), []);
  fs.writeFileSync(img, Buffer.alloc(0x3000));
  const future = new Date(Date.now() + 5000);
  fs.utimesSync(img, future, future);
  assert.equal(check(yaml)[0]?.code, 'image-too-big');
});

// Protocol images built from bytes (formats/boot-fixtures.ts), each file's fields chosen by the test.
const MB_AOUT = { headerAddr: 0x100000, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x100020 };
const put = (name: string, data: Uint8Array | string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
};
const kernelWith = (header: Uint8Array) => {
  const b = new Uint8Array(0x2000);
  b.set(header, 0x40);
  return b;
};
const MB_OK = put('mb-ok.bin', kernelWith(mb1Header(0x10003, MB_AOUT)));
const MB_VIDEO = put('mb-video.bin', kernelWith(mb1Header(0x10004, MB_AOUT)));
const MB2_FB = put('mb2-fb.bin', kernelWith(mb2Header([{ type: 2, body: [0x100000, 0x100000, 0, 0] }, { type: 3, body: [0x100020] }, { type: MB2_TAG.framebuffer, body: [0, 0, 0] }])));
const MB2_FB_OPT = put('mb2-fb-opt.bin', kernelWith(mb2Header([{ type: 2, body: [0x100000, 0x100000, 0, 0] }, { type: 3, body: [0x100020] }, { type: MB2_TAG.framebuffer, flags: 1, body: [0, 0, 0] }])));
const BZ = put('bzImage', bzImage(new Uint8Array(0x1000), { initSize: 8 << 20, prefAddress: 0x1000000n }));
const BZ_OLD = put('bzImage-old', bzImage(new Uint8Array(0x1000), { version: 0x0208 }));
const BZ_32 = put('bzImage-32', bzImage(new Uint8Array(0x1000), { xloadflags: 0 }));
const INITRD = put('initrd.img', new Uint8Array(20 << 20));
const ROM = put('bios.bin', new Uint8Array(256 << 10));
const ROM_ODD = put('odd.rom', new Uint8Array(96 << 10));
const MAP = put('System.map', 'ffffffff81000000 T _text\n');
const PLACEHOLDER = put('System.map-placeholder', 'ffffffffffffffff B The real System.map is in the linux-image-6.1.0-18-cloud-amd64-dbg package\n');
const NOT_MAP = put('notes.txt', 'hello there\n');

test('protocol images that are what they claim give no image diagnostics', () => {
  assert.deepEqual(check(`name: m\nboot:\n  image: ${MB_OK}\n  format: multiboot\n  modules: [${MAP}]\n`), []);
  assert.deepEqual(check(`name: l\nmemory: 64MiB\nboot:\n  image: ${BZ}\n  format: linux\n  initrd: ${INITRD}\n  symbols: ${MAP}\n`), []);
  assert.deepEqual(check(`name: f\nboot:\n  image: ${ROM}\n  format: firmware\n`), []);
});

test('each protocol image check names the right place', () => {
  only(`name: m\nboot:\n  image: ${FLAT}\n  format: multiboot\n`, 'multiboot-header', '4:11', /no Multiboot header/);
  only(`name: m\nboot:\n  image: ${MB_VIDEO}\n  format: multiboot\n`, 'multiboot-unsupported', '3:10', /requires flag bit 2 \(video mode\)/);
  only(`name: m\nboot:\n  image: ${MB2_FB}\n  format: multiboot\n`, 'multiboot-unsupported', '3:10', /requires framebuffer tag: vmscope has no framebuffer/);
  const optional = only(`name: m\nboot:\n  image: ${MB2_FB_OPT}\n  format: multiboot\n`, 'multiboot-unsupported', '3:10', /framebuffer tag.*optional/);
  assert.equal(optional.severity, 'warning');
  only(`name: l\nboot:\n  image: ${FLAT}\n  format: linux\n`, 'bzimage-header', '4:11', /no "HdrS"/);
  only(`name: l\nboot:\n  image: ${BZ_OLD}\n  format: linux\n`, 'bzimage-header', '4:11', /protocol 2\.08 is too old/);
  only(`name: l\nboot:\n  image: ${BZ_32}\n  format: linux\n`, 'bzimage-header', '4:11', /XLF_KERNEL_64/);
  only(`name: f\nboot:\n  image: ${ROM_ODD}\n  format: firmware\n`, 'rom-size', '3:10', /not a power of two/);
  only(`name: f\nboot:\n  image: ${FLAT}\n  format: firmware\n`, 'rom-size', '3:10', /outside 64 KiB\.\.16 MiB/);
  only(`name: l\nmemory: 32MiB\nboot:\n  image: ${BZ}\n  format: linux\n  initrd: ${INITRD}\n`, 'initrd-too-big', '6:11', /initrd \(20\.0 MiB\) does not fit .*raise memory to at least \d+ MiB/);
  only(`name: l\nboot:\n  image: ${BZ}\n  format: linux\n  initrd: nope.img\n`, 'boot-file-missing', '5:11', /initrd .*nope\.img does not exist/);
  only(`name: m\nboot:\n  image: ${MB_OK}\n  format: multiboot\n  modules:\n    - ${MAP}\n    - { path: gone.bin }\n`, 'boot-file-missing', '7:15', /module .*gone\.bin does not exist/);
  only(`name: l\nboot:\n  image: ${BZ}\n  format: linux\n  symbols: nope.map\n`, 'boot-file-missing', '5:12', /symbol file .*nope\.map does not exist/);
  const ph = only(`name: l\nboot:\n  image: ${BZ}\n  format: linux\n  symbols: ${PLACEHOLDER}\n`, 'symbols-placeholder', '5:12', /placeholder System\.map .*linux-image-6\.1\.0-18-cloud-amd64-dbg.*vmlinux/);
  assert.equal(ph.severity, 'warning');
  only(`name: l\nboot:\n  image: ${BZ}\n  format: linux\n  symbols: ${NOT_MAP}\n`, 'symbols-format', '5:12', /neither an ELF file nor a System\.map/);
});

test('every image diagnostic code has a test', () => {
  const src = fs.readFileSync(path.join(__dirname, '..', '..', 'vmspec', 'image-checks.test.ts'), 'utf8');
  const untested = Object.keys(IMAGE_DIAGNOSTIC_CODES).filter((c) => !src.includes(`'${c}'`));
  assert.deepEqual(untested, []);
});
