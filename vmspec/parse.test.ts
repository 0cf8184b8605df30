// Unit tests for the .vmspec parser, its checks and its source map (vmspec/parse.ts and the modules it runs, vmspec/load.ts, vmspec/schema.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatDiagnostic, loadSpecFile } from './load';
import { didYouMean } from './did-you-mean';
import { checkAgainstSchema, parseSpec } from './parse';
import { type ObjectSchema, type SchemaNode, schemaAt, vmSpecSchema } from './schema';
import { DIAGNOSTIC_CODES, type SpecDiagnostic, type SpecDiagnosticCode, type VmSpec } from './types';
import { parseSize } from './units';
import { platformOf, serialIrqOf } from './platform';

const FILE = '/specs/demo/hello.vmspec';

const EXAMPLE = `name: hello
memory: 16MiB
vcpus: 1
boot:
  image: build/hello.elf
  format: elf
  mode: long
  entry: 0x100000
regions:
  - { name: mmio0, gpa: 0xd0000000, size: 4KiB, kind: mmio }
devices:
  serial: { port: 0x3f8 }
  debug-exit: { port: 0xf4 }
`;

/** 1-based `line:col` of a diagnostic's start, as an editor shows it, so expectations can be checked by eye. */
function at(d: { range: SpecDiagnostic['range'] }): string {
  return `${d.range.start.line + 1}:${d.range.start.character + 1}`;
}

function parseOk(text: string): VmSpec {
  const r = parseSpec(text, FILE);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors.map((d) => formatDiagnostic('t.vmspec', d)), [], 'expected no errors');
  assert.ok(r.spec);
  return r.spec;
}

/** The diagnostics with a given code; fails unless there is at least one. */
function withCode(text: string, code: SpecDiagnosticCode): SpecDiagnostic[] {
  const r = parseSpec(text, FILE);
  const found = r.diagnostics.filter((d) => d.code === code);
  assert.ok(found.length > 0, `no ${code} in:\n${r.diagnostics.map((d) => formatDiagnostic('t.vmspec', d)).join('\n')}`);
  return found;
}

const minimal = (extra = '', boot = '') => `name: t\nboot:\n  image: a.bin\n${boot}${extra}`;

test('the example spec parses to exactly these values', () => {
  const spec = parseOk(EXAMPLE);
  assert.deepEqual(spec, {
    file: FILE,
    dir: '/specs/demo',
    name: 'hello',
    memory: 16 * 1024 * 1024,
    vcpus: 1,
    accel: 'auto',
    boot: {
      image: '/specs/demo/build/hello.elf', format: 'elf', mode: 'long', load: 0x100000, entry: 0x100000n,
      cmdline: undefined, initrd: undefined, modules: [], symbols: undefined,
    },
    platform: undefined,
    regions: [{ name: 'mmio0', gpa: 0xd0000000, size: 4096, kind: 'mmio' }],
    devices: { serial: { port: 0x3f8, irq: undefined }, debugExit: { port: 0xf4 }, debugcon: null, i8042: { onReset: 'exit' } },
    cpu: { nested: false },
    debug: { breakOnExit: [] },
  });
});

test('defaults fill everything a minimal spec leaves out', () => {
  const spec = parseOk('name: tiny\nboot: { image: /abs/tiny.bin }\n');
  assert.equal(spec.memory, 16 * 1024 * 1024);
  assert.equal(spec.vcpus, 1);
  assert.equal(spec.boot.image, '/abs/tiny.bin');
  assert.equal(spec.boot.mode, 'long');
  assert.equal(spec.boot.format, undefined);
  assert.equal(spec.boot.load, 0x100000);
  assert.equal(spec.boot.entry, undefined);
  assert.deepEqual(spec.regions, []);
  assert.deepEqual(spec.devices, { serial: { port: 0x3f8, irq: undefined }, debugExit: { port: 0xf4 }, debugcon: null, i8042: { onReset: 'exit' } });
  assert.equal(spec.platform, undefined, 'chosen from boot.format by platformOf()');
  assert.deepEqual(spec.boot.modules, []);
});

test('the default load address follows the boot mode', () => {
  assert.equal(parseOk(minimal('', '  mode: real\n')).boot.load, 0x7c00);
  assert.equal(parseOk(minimal('', '  mode: protected\n')).boot.load, 0x100000);
  assert.equal(parseOk(minimal('', '  mode: real\n  load: 0x600\n')).boot.load, 0x600);
});

test('devices can be disabled with false or an empty value, and enabled with true', () => {
  assert.deepEqual(parseOk(minimal('devices:\n  serial: false\n  debug-exit:\n')).devices, { serial: null, debugExit: null, debugcon: null, i8042: { onReset: 'exit' } });
  assert.deepEqual(parseOk(minimal('devices:\n  serial: true\n  debug-exit: {}\n  debugcon: true\n')).devices, {
    serial: { port: 0x3f8, irq: undefined },
    debugExit: { port: 0xf4 },
    debugcon: { port: 0x402 },
    i8042: { onReset: 'exit' },
  });
  assert.deepEqual(parseOk(minimal('devices:\n  debug-exit: { port: 0x501 }\n')).devices.debugExit, { port: 0x501 });
});

test('sizes and integers in every accepted spelling', () => {
  for (const memory of ['16777216', '0x1000000', '"16 MiB"', '16_777_216', '0.015625GiB']) {
    assert.equal(parseOk(minimal(`memory: ${memory}\n`)).memory, 16777216, memory);
  }
  assert.equal(parseOk(minimal('vcpus: 0b100\n')).vcpus, 4);
  assert.equal(parseOk(minimal('regions:\n  - { name: r, gpa: 3GiB, size: 64KiB, kind: ram }\n')).regions[0]?.gpa, 0xc0000000);
});

test('64-bit entry addresses keep full precision in every spelling', () => {
  const big = 0xffffffff81000000n;
  for (const entry of ['0xffffffff81000000', '0xffff_ffff_8100_0000', '"0xffffffff81000000"', '18446744071578845184']) {
    const spec = parseOk(minimal('', `  entry: ${entry}\n`));
    assert.equal(typeof spec.boot.entry, 'bigint', entry);
    assert.equal(spec.boot.entry, big, entry);
  }
  // One above the kernel base differs from it only below double precision.
  assert.equal(parseOk(minimal('', '  entry: 0xffffffff81000001\n')).boot.entry, big + 1n);
});

test('a non-numeric entry is an ELF symbol name', () => {
  assert.equal(parseOk(minimal('', '  entry: _start\n')).boot.entry, '_start');
  assert.equal(parseOk(minimal('', '  entry: kernel.main\n')).boot.entry, 'kernel.main');
  const [d] = withCode(minimal('', '  entry: "kernel main"\n'), 'bad-address');
  assert.match(d!.message, /neither an address nor a symbol name/);
});

test('relative image paths resolve against the spec directory, or options.dir', () => {
  assert.equal(parseSpec(minimal(), '/x/y/z.vmspec').spec?.boot.image, '/x/y/a.bin');
  assert.equal(parseSpec(minimal(), '/x/y/z.vmspec', { dir: '/elsewhere' }).spec?.boot.image, '/elsewhere/a.bin');
  const noFile = parseSpec(minimal(), '').spec;
  assert.equal(noFile?.file, '');
  assert.equal(noFile?.boot.image, path.join(process.cwd(), 'a.bin'));
});

// One case per diagnostic code: the text, where the diagnostic must start (1-based line:col), and text it must contain.
const CASES: Record<Exclude<keyof typeof DIAGNOSTIC_CODES, 'unreadable-file'>, { text: string; at: string; says: RegExp; severity?: string }> = {
  'yaml-syntax': { text: 'name: "open\nboot: { image: a }\n', at: '3:1', says: /quote/i },
  'duplicate-key': { text: 'name: a\nboot: { image: a }\nname: b\n', at: '3:1', says: /unique/ },
  'yaml-warning': { text: 'name: !weird x\nboot: { image: a }\n', at: '1:7', says: /tag/i, severity: 'warning' },
  'unknown-key': { text: 'name: a\nmemroy: 1GiB\nboot: { image: a }\n', at: '2:1', says: /unknown key "memroy" \(did you mean "memory"\?\)/ },
  'wrong-type': { text: 'name: a\nboot:\n  - image\n', at: '3:3', says: /boot must be a mapping, not a list/ },
  'missing-key': { text: 'name: a\nboot:\n  mode: long\n', at: '2:1', says: /missing required key "image" in boot/ },
  'out-of-range': { text: 'name: a\nvcpus: 256\nboot: { image: a }\n', at: '2:8', says: /vcpus must be between 1 and 255, not 256/ },
  'bad-size': { text: 'name: a\nmemory:   16MB\nboot: { image: a }\n', at: '2:11', says: /ambiguous.*16MiB/ },
  'bad-address': { text: 'name: a\nboot: { image: a, load: 0x10zz }\n', at: '2:25', says: /not an address/ },
  'unknown-value': { text: 'name: a\nboot:\n  image: a\n  mode: protect\n', at: '4:9', says: /expected one of real, protected, long \(did you mean "protected"\?\)/ },
  misaligned: { text: minimal('regions:\n  - { name: r, gpa: 0x40000800, size: 4KiB, kind: ram }\n'), at: '5:21', says: /not 4 KiB aligned/ },
  'region-overlap': {
    text: minimal('regions:\n  - { name: a, gpa: 0xd0000000, size: 8KiB, kind: mmio }\n  - { name: b, gpa: 0xd0001000, size: 4KiB, kind: mmio }\n'),
    at: '6:21',
    says: /region "b" \[0xd0001000, 0xd0002000\) overlaps region "a" \[0xd0000000, 0xd0002000\)/,
  },
  'duplicate-name': {
    text: minimal('regions:\n  - { name: x, gpa: 0xd0000000, size: 4KiB, kind: mmio }\n  - { name: x, gpa: 0xe0000000, size: 4KiB, kind: mmio }\n'),
    at: '6:13',
    says: /two entries with name "x"/,
  },
  'port-conflict': { text: minimal('devices:\n  serial: { port: 0xf0 }\n'), at: '5:19', says: /serial ports 0xf0-0xf7 collide with debug-exit ports 0xf4/ },
  'load-outside-memory': { text: minimal('', '  format: flat\n  load: 0x2000000\n'), at: '5:9', says: /0x2000000 is outside guest RAM \[0x0, 0x1000000\)/ },
  'symbol-needs-elf': { text: minimal('', '  format: flat\n  entry: _start\n'), at: '5:10', says: /flat image has no symbols/ },
  'ignored-key': { text: minimal('', '  format: elf\n  load: 0x200000\n'), at: '5:3', says: /ignored for ELF/, severity: 'warning' },
  'reserved-overlap': { text: 'name: a\nmemory: 6GiB\nboot: { image: a }\n', at: '2:9', says: /memory 6 GiB covers the pages KVM reserves at \[0xfeffc000, 0xff000000\); use at most 4079MiB/ },
  // The 65th bracket (column 3 + 65) is the first level past the limit.
  'too-large': { text: `name: a\nboot: { image: a }\nx: ${'['.repeat(100)}\n`, at: '3:68', says: /nesting deeper than 64 levels/ },
};

for (const [code, c] of Object.entries(CASES)) {
  test(`diagnostic ${code} fires at ${c.at}`, () => {
    const found = withCode(c.text, code as SpecDiagnosticCode);
    const d = found.find((x) => at(x) === c.at);
    assert.ok(d, `${code} at ${found.map(at).join(', ')}, expected ${c.at}`);
    assert.match(d.message, c.says);
    assert.equal(d.severity, c.severity ?? 'error');
  });
}

test('every diagnostic code has a test case', () => {
  const covered = new Set([...Object.keys(CASES), 'unreadable-file']);
  assert.deepEqual(Object.keys(DIAGNOSTIC_CODES).filter((c) => !covered.has(c)), []);
});

test('a spec with only warnings is still returned; one with errors is not', () => {
  const warned = parseSpec(CASES['ignored-key'].text, FILE);
  assert.equal(warned.diagnostics.length, 1);
  assert.ok(warned.spec);
  assert.equal(parseSpec(CASES['out-of-range'].text, FILE).spec, undefined);
});

test('every YAML syntax error is reported, not just the first', () => {
  const r = parseSpec('name: [a\nboot: {image: x\nvcpus: "1\n', FILE);
  const syntax = r.diagnostics.filter((d) => d.code === 'yaml-syntax');
  assert.ok(syntax.length >= 3, syntax.map((d) => formatDiagnostic('t', d)).join('\n'));
  assert.ok(new Set(syntax.map((d) => d.range.start.line)).size >= 2, 'errors on different lines');
  assert.equal(r.spec, undefined);
});

test('an alias to a missing anchor is an error', () => {
  const [d] = withCode('name: *nope\nboot: { image: a }\n', 'yaml-syntax');
  assert.equal(at(d!), '1:7');
  assert.match(d!.message, /\*nope/);
});

test('unknown keys get a did-you-mean suggestion usable as a quick fix', () => {
  const [d] = withCode(minimal('devices:\n  debug_exit: { port: 0xf4 }\n'), 'unknown-key');
  assert.equal(d!.suggestion, 'debug-exit');
  assert.equal(d!.message, 'unknown key "debug_exit" in devices (did you mean "debug-exit"?)');
  assert.deepEqual(d!.range, { start: { line: 4, character: 2 }, end: { line: 4, character: 12 } });

  const [far] = withCode(minimal('zzz: 1\n'), 'unknown-key');
  assert.equal(far!.suggestion, undefined);
  assert.equal(far!.message, 'unknown key "zzz"');

  const [misplaced] = withCode('name: a\nimage: x\nboot: { image: a }\n', 'unknown-key');
  assert.match(misplaced!.message, /"image" belongs under "boot"/);
});

test('didYouMean: transpositions, case and separators, prefixes, and nothing for far words', () => {
  const keys = ['name', 'memory', 'vcpus', 'boot', 'regions', 'devices'];
  assert.equal(didYouMean('memroy', keys), 'memory');
  assert.equal(didYouMean('Memory', keys), 'memory');
  assert.equal(didYouMean('vcpu', keys), 'vcpus');
  assert.equal(didYouMean('vcpsu', keys), 'vcpus', 'a transposition is one edit');
  assert.equal(didYouMean('mem', keys), 'memory');
  assert.equal(didYouMean('region', keys), 'regions');
  assert.equal(didYouMean('xyzzy', keys), undefined);
  assert.equal(didYouMean('', keys), undefined);
});

test('bad sizes carry the binary spelling as the suggestion', () => {
  const [d] = withCode(CASES['bad-size'].text, 'bad-size');
  assert.equal(d!.suggestion, '16MiB');
  assert.deepEqual(d!.range, { start: { line: 1, character: 10 }, end: { line: 1, character: 14 } });
});

test('range checks on ports, memory, addresses and entry points', () => {
  assert.match(withCode(minimal('devices:\n  serial: { port: 0x10000 }\n'), 'out-of-range')[0]!.message, /between 0x0 and 0xffff, not 0x10000/);
  assert.match(withCode(minimal('devices:\n  serial: { port: 0xfffc }\n'), 'out-of-range')[0]!.message, /past the last I\/O port/);
  assert.match(withCode(minimal('memory: 0\n'), 'out-of-range')[0]!.message, /at least 4 KiB|between 4 KiB/);
  assert.match(withCode(minimal('', '  load: 0x10000000000000\n'), 'out-of-range')[0]!.message, /52-bit/);
  assert.match(withCode(minimal('', '  mode: real\n  entry: 0x100000\n'), 'out-of-range')[0]!.message, /below 1 MiB in real mode/);
  assert.match(withCode(minimal('', '  mode: protected\n  entry: 0x100000000\n'), 'out-of-range')[0]!.message, /below 4 GiB/);
  assert.match(withCode(minimal('', '  entry: 0x0000800000000000\n'), 'out-of-range')[0]!.message, /not canonical/);
  assert.match(withCode(minimal('', '  entry: 0x10000000000000000\n'), 'out-of-range')[0]!.message, /64 bits/);
  assert.match(withCode(minimal('', '  load: -1\n'), 'out-of-range')[0]!.message, /boot.load -0x1 does not fit/);
  assert.match(
    withCode(minimal('regions:\n  - { name: top, gpa: 0xffffffffff000, size: 8KiB, kind: mmio }\n'), 'out-of-range')[0]!.message,
    /region "top" \[0xffffffffff000, 0x10000000001000\) ends beyond the 52-bit/,
  );
  assert.match(withCode('name: ""\nboot: { image: a }\n', 'out-of-range')[0]!.message, /name must not be empty/);
});

test('memory must be page-aligned, with the rounded-up size as the fix', () => {
  const [d] = withCode(minimal('memory: 6KiB\n'), 'misaligned');
  assert.equal(at(d!), '4:9');
  assert.equal(d!.suggestion, '8KiB');
});

test('regions: overlap with RAM names both, mmio may be unaligned, rom must not be', () => {
  const [ram] = withCode(minimal('memory: 16MiB\nregions:\n  - { name: low, gpa: 0x800000, size: 4KiB, kind: mmio }\n'), 'region-overlap');
  assert.match(ram!.message, /region "low" \[0x800000, 0x801000\) overlaps guest RAM \[0x0, 0x1000000\)/);
  assert.equal(at(ram!.related![0]!), '4:9', 'related points at memory');

  const unaligned = parseSpec(minimal('regions:\n  - { name: uart, gpa: 0xfe001000, size: 0x100, kind: mmio }\n'), FILE);
  assert.deepEqual(unaligned.diagnostics, []);
  assert.equal(unaligned.spec?.regions[0]?.size, 0x100);

  const [rom] = withCode(minimal('regions:\n  - { name: bios, gpa: 0xfffe0000, size: 0x1800, kind: rom }\n'), 'misaligned');
  assert.match(rom!.message, /rom region "bios" is 6 KiB, not a multiple of 4 KiB/);
});

test('a flat image may load into a ram or rom region; the default load address is checked for flat images', () => {
  const inRom = minimal('regions:\n  - { name: bios, gpa: 0xfffe0000, size: 128KiB, kind: rom }\n', '  format: flat\n  load: 0xffff0000\n');
  assert.ok(parseOk(inRom));
  const [d] = withCode(minimal('memory: 16KiB\n', '  format: flat\n  mode: real\n'), 'load-outside-memory');
  assert.equal(at(d!), '4:11', 'reported on the format that makes the default apply');
  assert.match(d!.message, /0x7c00 by default in real mode/);
  // With the format left to detection, a defaulted load is not assumed to matter.
  assert.ok(parseOk(minimal('memory: 16KiB\n', '  mode: real\n')));
});

test('missing required keys: absent, empty, and a required container', () => {
  const empty = parseSpec('', FILE).diagnostics;
  assert.deepEqual(empty.map((d) => [d.code, d.message]), [
    ['missing-key', 'missing required key "name"'],
    ['missing-key', 'missing required key "boot"'],
  ]);
  const [blank] = withCode('name: a\nboot:\n  image:\n', 'missing-key');
  assert.equal(blank!.message, 'boot.image needs a value');
  assert.equal(at(blank!), '3:3');
  const [item] = withCode(minimal('regions:\n  - name: r\n    gpa: 0xd0000000\n    size: 4KiB\n'), 'missing-key');
  assert.equal(item!.message, 'missing required key "kind" in regions[0]');
  assert.deepEqual(item!.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 11 } }, 'first line of the item only');
});

test('wrong types name what was found', () => {
  assert.match(withCode(minimal('vcpus: 1.5\n'), 'wrong-type')[0]!.message, /vcpus must be an integer, not the number 1.5/);
  const [name] = withCode('name: 2024\nboot: { image: a }\n', 'wrong-type');
  assert.equal(name!.suggestion, '"2024"');
  assert.match(withCode(minimal('devices:\n  serial: 3\n'), 'wrong-type')[0]!.message, /mapping, true or false/);
  assert.match(withCode('- a\n', 'wrong-type')[0]!.message, /must be a mapping/);
});

test('the source map gives key and value ranges by path, and finds the path at a position', () => {
  const { ranges } = parseSpec(EXAMPLE, FILE);
  assert.deepEqual(ranges.keyRange(['boot', 'entry']), { start: { line: 7, character: 2 }, end: { line: 7, character: 7 } });
  assert.deepEqual(ranges.valueRange(['boot', 'entry']), { start: { line: 7, character: 9 }, end: { line: 7, character: 17 } });
  assert.deepEqual(ranges.valueRange(['regions', 0, 'gpa']), { start: { line: 9, character: 24 }, end: { line: 9, character: 34 } });
  assert.equal(ranges.has(['boot', 'load']), false);
  // A defaulted key has no text; locate falls back to the nearest written ancestor.
  assert.deepEqual(ranges.locate(['boot', 'load']), { start: { line: 3, character: 0 }, end: { line: 3, character: 4 } });
  assert.deepEqual(ranges.pathAt({ line: 7, character: 12 }), { path: ['boot', 'entry'], on: 'value' });
  assert.deepEqual(ranges.pathAt({ line: 12, character: 4 }), { path: ['devices', 'debug-exit'], on: 'key' });
  assert.deepEqual(ranges.pathAt({ line: 9, character: 43 }), { path: ['regions', 0, 'size'], on: 'value' });
});

test('formatDiagnostic prints file:line:col: severity: message [code], 1-based', () => {
  const [d] = withCode(CASES['unknown-key'].text, 'unknown-key');
  assert.equal(formatDiagnostic('path/to/x.vmspec', d!), 'path/to/x.vmspec:2:1: error: unknown key "memroy" (did you mean "memory"?) [unknown-key]');
  const [overlap] = withCode(CASES['region-overlap'].text, 'region-overlap');
  assert.deepEqual(formatDiagnostic('x.vmspec', overlap!).split('\n'), [
    'x.vmspec:6:21: error: region "b" [0xd0001000, 0xd0002000) overlaps region "a" [0xd0000000, 0xd0002000); move it to 0xd0002000 or above, or make one of them smaller [region-overlap]',
    'x.vmspec:5:5: note: region "a" is here',
  ]);
});

test('loadSpecFile reads a file, resolves against its directory, and turns a missing file into a diagnostic', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vmspec-'));
  try {
    const file = path.join(dir, 'a.vmspec');
    writeFileSync(file, '\ufeffnmae: a\nboot: { image: img.bin }\n');
    const r = loadSpecFile(file);
    assert.equal(r.diagnostics[0]?.code, 'unknown-key');
    assert.equal(at(r.diagnostics[0]!), '1:1', 'the BOM does not shift columns');
    writeFileSync(file, EXAMPLE);
    const spec = loadSpecFile(file).spec;
    assert.equal(spec?.file, file);
    assert.equal(spec?.boot.image, path.join(dir, 'build/hello.elf'));

    const missing = loadSpecFile(path.join(dir, 'nope.vmspec'));
    assert.equal(missing.spec, undefined);
    assert.equal(missing.diagnostics.length, 1);
    assert.equal(missing.diagnostics[0]!.code, 'unreadable-file');
    assert.match(missing.diagnostics[0]!.message, /does not exist/);
    assert.match(loadSpecFile(dir).diagnostics[0]!.message, /is a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('schema: every node is described and every default satisfies its own constraints', () => {
  const visit = (node: SchemaNode, where: string): void => {
    assert.ok(node.description.trim().length > 10, `${where} has a description`);
    if (node.type === 'object') for (const [k, child] of Object.entries(node.properties)) visit(child, `${where}.${k}`);
    if (node.type === 'array') visit(node.items, `${where}[]`);
    if (node.type === 'enum') {
      if (node.default !== undefined) assert.ok(node.values.includes(node.default), `${where} default is a value`);
      for (const v of Object.keys(node.valueDescriptions ?? {})) assert.ok(node.values.includes(v), `${where} describes ${v}`);
    }
    if ((node.type === 'integer' || node.type === 'size') && node.default !== undefined) {
      assert.ok(node.min === undefined || node.default >= node.min, `${where} default >= min`);
      assert.ok(node.max === undefined || node.default <= node.max, `${where} default <= max`);
    }
    if (node.type === 'size' && node.default !== undefined && node.align !== undefined) {
      assert.equal(node.default % node.align, 0, `${where} default is aligned`);
    }
  };
  visit(vmSpecSchema, 'root');
});

test('schemaAt finds nodes through objects and arrays', () => {
  assert.equal(schemaAt(['boot', 'entry'])?.type, 'address');
  assert.equal(schemaAt(['regions', 3, 'kind'])?.type, 'enum');
  assert.equal(schemaAt(['devices', 'debug-exit', 'port'])?.type, 'integer');
  assert.equal(schemaAt(['boot', 'nope']), undefined);
  assert.equal(schemaAt(['regions', 'name']), undefined);
  assert.equal(schemaAt(['toString']), undefined);
});

test('the memory default in the schema is the documented 16MiB', () => {
  const node = schemaAt(['memory']);
  assert.equal(node?.type, 'size');
  const parsed = parseSize('16MiB');
  assert.ok(parsed.ok);
  assert.equal(node.type === 'size' ? node.default : undefined, Number(parsed.value));
});

// Kinds of key the VM spec does not use yet (booleans, lists of scalars, toggles that default off), as later keys will.
const FUTURE = {
  type: 'object',
  description: 'A schema exercising the walker beyond what vmSpecSchema uses today.',
  properties: {
    debug: {
      type: 'object',
      description: 'Debugger settings.',
      properties: {
        'break-on-exit': {
          type: 'array',
          description: 'Exit reasons to stop on.',
          items: { type: 'enum', values: ['io', 'mmio', 'hlt'], description: 'An exit reason.' },
        },
        verbose: { type: 'boolean', default: false, description: 'Log every exit.' },
      },
    },
    cpu: {
      type: 'object',
      toggle: { default: false },
      description: 'CPU features, off unless asked for.',
      properties: { nested: { type: 'boolean', default: true, description: 'Expose VMX to the guest.' } },
    },
  },
} as const satisfies ObjectSchema;

test('the walker handles lists of enums, booleans and toggles that default off', () => {
  const good = checkAgainstSchema('debug:\n  break-on-exit: [io, hlt]\n  verbose: true\n', FUTURE, '/');
  assert.deepEqual(good.diagnostics, []);
  assert.deepEqual(good.value, { debug: { breakOnExit: ['io', 'hlt'], verbose: true }, cpu: null });
  assert.deepEqual(checkAgainstSchema('cpu: true\n', FUTURE, '/').value, { debug: { breakOnExit: [], verbose: false }, cpu: { nested: true } });

  const bad = checkAgainstSchema('debug:\n  break-on-exit: [io, hltt]\n  verbose: yes\nnested: true\n', FUTURE, '/');
  assert.deepEqual(
    bad.diagnostics.map((d) => [d.code, at(d)]),
    [['unknown-value', '2:23'], ['wrong-type', '3:12'], ['unknown-key', '4:1']],
  );
  assert.match(bad.diagnostics[0]!.message, /unknown debug.break-on-exit\[1\] "hltt".*did you mean "hlt"/);
  assert.match(bad.diagnostics[1]!.message, /debug.verbose must be true or false, not the string "yes"/);
  assert.match(bad.diagnostics[2]!.message, /"nested" belongs under "cpu"/);
});

test('boot keys for protocol kernels: modules as paths or { path, cmdline }, resolved against the spec file', () => {
  const spec = parseOk(minimal('', '  format: multiboot\n  cmdline: "a b"\n  modules:\n    - build/ramdisk.img\n    - { path: /abs/init.elf, cmdline: "init -v" }\n  symbols: System.map\n'));
  assert.equal(spec.boot.format, 'multiboot');
  assert.equal(spec.boot.cmdline, 'a b');
  assert.deepEqual(spec.boot.modules, [
    { path: '/specs/demo/build/ramdisk.img', cmdline: undefined },
    { path: '/abs/init.elf', cmdline: 'init -v' },
  ]);
  assert.equal(spec.boot.symbols, '/specs/demo/System.map');
  const bad = parseSpec(minimal('', '  format: multiboot\n  modules:\n    - [x]\n'), FILE);
  assert.match(bad.diagnostics.map((d) => d.message).join(), /must be a mapping or a path/);
});

test('platform defaults to pc for linux, multiboot and firmware, minimal otherwise; serial irq 4 on pc', () => {
  const pc = parseOk(minimal('', '  format: linux\n'));
  assert.equal(platformOf(pc), 'pc');
  assert.equal(serialIrqOf(pc), 4);
  assert.equal(platformOf(parseOk(minimal('platform: minimal\n', '  format: multiboot\n'))), 'minimal');
  const elf = parseOk(minimal('', '  format: elf\n'));
  assert.equal(platformOf(elf), 'minimal');
  assert.equal(serialIrqOf(elf), undefined);
  assert.equal(serialIrqOf(parseOk(minimal('platform: pc\ndevices:\n  serial: { port: 0x2f8, irq: 3 }\n'))), 3);
});

test('keys a format or platform does not use are ignored-key warnings that say why', () => {
  const warnings = (text: string) => parseSpec(text, FILE).diagnostics.filter((d) => d.code === 'ignored-key').map((d) => `${at(d)} ${d.message}`);
  assert.deepEqual(warnings(minimal('', '  format: linux\n  mode: protected\n  entry: 0x100000\n')), [
    '5:3 boot.mode is ignored: the Linux 64-bit boot protocol enters in long mode',
    '6:3 boot.entry is ignored: a linux image is entered where its protocol says',
  ]);
  assert.match(warnings(minimal('', '  format: multiboot\n  initrd: x.img\n')).join(), /boot\.initrd is ignored: only a linux kernel takes an initrd/);
  assert.match(warnings(minimal('', '  format: linux\n  modules: [a]\n')).join(), /boot\.modules is ignored/);
  assert.match(warnings(minimal('', '  format: elf\n  cmdline: x\n')).join(), /boot\.cmdline is ignored/);
  assert.match(warnings(minimal('platform: minimal\ndevices:\n  serial: { irq: 4 }\n  i8042: { on-reset: reset }\n', '  format: multiboot\n')).join(), /serial\.irq is ignored.*i8042 is ignored/s);
  assert.deepEqual(warnings(minimal('devices:\n  serial: { irq: 3 }\n', '  format: multiboot\n  cmdline: x\n')), []);
});

test('the debug console claims its port like the other devices', () => {
  const r = parseSpec(minimal('devices:\n  debugcon: { port: 0x3f9 }\n'), FILE);
  assert.match(r.diagnostics.map((d) => d.message).join(), /collide/);
});
