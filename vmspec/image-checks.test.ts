import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSpec } from './parse';
import { checkImage } from './image-checks';
import { IMAGE_DIAGNOSTIC_CODES } from './types';

// The example guest, built from source by `npm test` before the tests run.
const HELLO = path.resolve(__dirname, '..', '..', 'examples', 'hello', 'build', 'hello.elf');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-image-'));
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
