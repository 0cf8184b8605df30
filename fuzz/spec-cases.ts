// The spec fuzzer's inputs: the example specs mutated (byte flips, line edits, key swaps, type swaps,
// truncation, empty values, special-file images) and a fixed list of hostile specs (alias bombs, deep nesting,
// a 50 MB file, binary garbage, control characters). Pure: each case comes from its Rng alone.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from './rng';
import { schemaAt, vmSpecSchema, type SchemaNode } from '../vmspec/schema';

/** One example spec the mutations start from. */
export interface BaseSpec {
  /** Path relative to the repository root (examples/hello/hello.vmspec). */
  rel: string;
  text: string;
}

/** What a case is: a spec text (as the editor has it) and, for the CLI, the bytes of its file. */
export interface SpecCase {
  /** Which base it came from; its directory is where the case's file lives (so relative image paths resolve). */
  base: string;
  /** How it was made, for the findings list. */
  how: string;
  text: string;
  /** The file's bytes when they are not the UTF-8 of `text` (binary garbage). */
  bytes?: Uint8Array;
  /** Sent to the language server too (false only for what an editor could not hold). */
  toServer: boolean;
}

/** The example specs, in a fixed order. */
export function loadCorpus(root: string): BaseSpec[] {
  const out: BaseSpec[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
      const rel = path.join(dir, name);
      const st = fs.statSync(path.join(root, rel));
      if (st.isDirectory() && name !== 'build') walk(rel);
      else if (name.endsWith('.vmspec')) out.push({ rel, text: fs.readFileSync(path.join(root, rel), 'utf8') });
    }
  };
  walk('examples');
  for (const name of fs.readdirSync(path.join(root, 'test', 'guests')).sort()) {
    if (name.endsWith('.vmspec')) out.push({ rel: path.join('test', 'guests', name), text: fs.readFileSync(path.join(root, 'test', 'guests', name), 'utf8') });
  }
  return out;
}

/** Every key path of the schema, as `a.b.c` with `[0]` for list items. */
export function schemaPaths(node: SchemaNode = vmSpecSchema, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (node.type === 'object') {
    for (const [k, child] of Object.entries(node.properties)) {
      out.push([...at, k]);
      out.push(...schemaPaths(child, [...at, k]));
    }
  } else if (node.type === 'array') {
    out.push(...schemaPaths(node.items, [...at, 0]));
  }
  return out;
}

/** A spec that writes `p` with the empty value `empty` (and is otherwise valid where it can be). */
export function withEmptyKey(p: Array<string | number>, empty: string): string {
  const lines = ['name: empty-values', 'boot:', '  image: build/hello.elf'];
  // Nest the key in YAML block style; list items become `- ` entries.
  let indent = '';
  const out: string[] = [];
  for (let i = 0; i < p.length; i++) {
    const step = p[i]!;
    const last = i === p.length - 1;
    if (typeof step === 'number') continue;
    const listNext = typeof p[i + 1] === 'number';
    const prefix = i > 0 && typeof p[i - 1] === 'number' ? `${indent}- ` : indent;
    out.push(`${prefix}${step}:${last ? (empty === '' ? '' : ` ${empty}`) : ''}`);
    indent += listNext ? '  ' : i > 0 && typeof p[i - 1] === 'number' ? '    ' : '  ';
  }
  // boot.* keys go under the boot written above; everything else after it.
  if (p[0] === 'boot' && p.length > 1) return [...lines, ...out.slice(1)].join('\n') + '\n';
  if (p[0] === 'name' || p[0] === 'boot') return [...out, ...lines.filter((l) => !l.startsWith(`${String(p[0])}:`) && !(p[0] === 'boot' && l.startsWith('  ')))].join('\n') + '\n';
  return [...lines, ...out].join('\n') + '\n';
}

const EMPTIES = ['~', 'null', '', 'Null', 'NULL', '""'];

/** Values of every YAML type, and of the wrong size or sign, for type swaps. */
const VALUES = [
  '~', '', 'null', '[]', '{}', '[1, 2]', '{ a: 1 }', '[[[]]]', 'true', 'false', '-1', '0', '0x', '0x1_0000', '18446744073709551616',
  '99999999999999999999999999999GiB', '1e400', '-0', '.inf', '.nan', '"str"', "'q'", '*nope', '&a x', '!!binary AAAA', '!weird x', '16MB', '4GiB',
  '6GiB', '8GiB', '4095MiB', '8TiB', '0xfeffc000', '0xffffffffffffffff', '0x8000000000000', '"\\e[2J"', '|\n  block', '>-\n  folded', '- item',
  'build/hello.elf', '/dev/zero', '/dev/urandom', '/', '.', '"\\u202e"', 'real', 'long', 'pc', 'minimal', 'emu', 'kvm', 'multiboot', 'linux',
  'firmware', 'flat', 'elf', '_start', 'kernel_main', '0x3f8', '0xfff8', '0xffff', '256', '255', '1', '4KiB', '1023',
];

/** Keys to insert: every schema key, some misspellings, and keys that are not text. */
function randomKey(rng: Rng): string {
  const paths = schemaPaths();
  const p = rng.pick(paths).filter((s): s is string => typeof s === 'string');
  const k = p[p.length - 1] ?? 'name';
  switch (rng.below(6)) {
    case 0: return k.slice(0, -1);
    case 1: return `${k}${k.slice(-1)}`;
    case 2: return `"\u001b[2J${k}"`;
    case 3: return '? [a, b]';
    default: return k;
  }
}

const SPECIAL_CHARS = [':', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '\t', '-', ',', '?', '\r', '\u0000', '\u001b', '\u202e', '\ud800', 'é', '\n'];

type Mutation = (text: string, rng: Rng) => { text: string; how: string };

const MUTATIONS: Mutation[] = [
  function byteFlip(text, rng) {
    if (text.length === 0) return { text, how: 'flip' };
    const i = rng.below(text.length);
    const c = String.fromCharCode(text.charCodeAt(i) ^ (1 << rng.below(8)));
    return { text: text.slice(0, i) + c + text.slice(i + 1), how: `flip@${i}` };
  },
  function insertChar(text, rng) {
    const i = rng.below(text.length + 1);
    return { text: text.slice(0, i) + rng.pick(SPECIAL_CHARS) + text.slice(i), how: `char@${i}` };
  },
  function deleteLine(text, rng) {
    const lines = text.split('\n');
    const i = rng.below(lines.length);
    lines.splice(i, 1);
    return { text: lines.join('\n'), how: `del-line ${i}` };
  },
  function duplicateLine(text, rng) {
    const lines = text.split('\n');
    const i = rng.below(lines.length);
    lines.splice(i, 0, lines[i]!);
    return { text: lines.join('\n'), how: `dup-line ${i}` };
  },
  function swapLines(text, rng) {
    const lines = text.split('\n');
    const i = rng.below(lines.length);
    const j = rng.below(lines.length);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return { text: lines.join('\n'), how: `swap-lines ${i} ${j}` };
  },
  function reindent(text, rng) {
    const lines = text.split('\n');
    const i = rng.below(lines.length);
    lines[i] = rng.chance(0.5) ? ' '.repeat(rng.between(1, 4)) + lines[i]! : lines[i]!.replace(/^ {1,2}/, '');
    return { text: lines.join('\n'), how: `indent ${i}` };
  },
  function swapKeys(text, rng) {
    const keyed = [...text.matchAll(/^(\s*-?\s*)([\w-]+):/gm)];
    if (keyed.length < 2) return { text, how: 'swap-keys' };
    const a = rng.pick(keyed);
    const b = rng.pick(keyed);
    const lines = text.split('\n');
    const la = text.slice(0, a.index).split('\n').length - 1;
    const lb = text.slice(0, b.index).split('\n').length - 1;
    lines[la] = lines[la]!.replace(`${a[2]}:`, `${b[2]}:`);
    lines[lb] = lines[lb]!.replace(`${b[2]}:`, `${a[2]}:`);
    return { text: lines.join('\n'), how: `swap-keys ${a[2]} ${b[2]}` };
  },
  function swapValue(text, rng) {
    const lines = text.split('\n');
    const candidates = lines.map((l, i) => (/^\s*-?\s*[\w-]+:/.test(l) ? i : -1)).filter((i) => i >= 0);
    if (candidates.length === 0) return { text, how: 'swap-value' };
    const i = rng.pick(candidates);
    const v = rng.pick(VALUES);
    lines[i] = lines[i]!.replace(/^(\s*-?\s*[\w-]+:).*$/, (_, k: string) => `${k}${v === '' ? '' : ` ${v}`}`);
    return { text: lines.join('\n'), how: `value ${i}=${JSON.stringify(v)}` };
  },
  function emptyValue(text, rng) {
    const lines = text.split('\n');
    const candidates = lines.map((l, i) => (/^\s*-?\s*[\w-]+:\s*\S/.test(l) ? i : -1)).filter((i) => i >= 0);
    if (candidates.length === 0) return { text, how: 'empty' };
    const i = rng.pick(candidates);
    const e = rng.pick(EMPTIES);
    lines[i] = lines[i]!.replace(/^(\s*-?\s*[\w-]+:).*$/, (_, k: string) => `${k}${e === '' ? '' : ` ${e}`}`);
    return { text: lines.join('\n'), how: `empty ${i}=${JSON.stringify(e)}` };
  },
  function insertKey(text, rng) {
    const lines = text.split('\n');
    const i = rng.below(lines.length + 1);
    const line = `${' '.repeat(2 * rng.below(3))}${randomKey(rng)}: ${rng.pick(VALUES)}`;
    lines.splice(i, 0, line);
    return { text: lines.join('\n'), how: `insert ${i} ${JSON.stringify(line)}` };
  },
  function truncate(text, rng) {
    const at = rng.below(text.length + 1);
    return { text: text.slice(0, at), how: `truncate@${at}` };
  },
];

/** A mutated example: 1 to 4 mutations of one base. */
export function mutatedCase(corpus: readonly BaseSpec[], rng: Rng): SpecCase {
  const base = rng.pick(corpus);
  let text = base.text;
  const hows: string[] = [];
  const n = rng.between(1, 4);
  for (let k = 0; k < n; k++) {
    const m = rng.pick(MUTATIONS)(text, rng);
    text = m.text;
    hows.push(m.how);
  }
  return { base: base.rel, how: hows.join(', '), text, toServer: true };
}

/** A spec written with the hostile part `body` after a valid head. */
function hostile(corpus: readonly BaseSpec[], how: string, text: string, extra: Partial<SpecCase> = {}): SpecCase {
  return { base: corpus[0]!.rel, how, text, toServer: true, ...extra };
}

/**
 * The fixed hostile specs: the issue's list (alias bombs, 10,000-level nesting, a 50 MB file, binary garbage),
 * the probe's findings (empty values for every key, escape sequences, special-file images, memory between 4 and
 * 8 GiB), and the costs that grew faster than the text (50,000 keys). `fifo` is a FIFO's path for images.
 */
export function hostileCases(corpus: readonly BaseSpec[], fifo: string, garbageSeed: number): SpecCase[] {
  const head = 'name: hostile\nboot:\n  image: build/hello.elf\n';
  const cases: SpecCase[] = [];
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    laughs.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  cases.push(hostile(corpus, 'billion laughs under an unknown key', `${head}x:\n${laughs.map((l) => `  ${l}`).join('\n')}\n`));
  cases.push(hostile(corpus, 'billion laughs under known keys', `x:\n${laughs.map((l) => `  ${l}`).join('\n')}\nname: *j\nregions: *j\nboot: *j\ndebug: { break-on-exit: *j }\n`));
  cases.push(hostile(corpus, 'billion laughs as a region list', `${head}defs:\n${laughs.map((l) => `  ${l}`).join('\n')}\nregions: [*j, *j, *j]\n`));
  cases.push(hostile(corpus, '10,000-level flow nesting', `${head}x: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`));
  cases.push(hostile(corpus, '10,000-level flow nesting, unclosed', `${head}regions: ${'[{a: '.repeat(5_000)}\n`));
  cases.push(hostile(corpus, '10,000-level block sequences', `${head}regions:\n${'- '.repeat(10_000)}x\n`));
  cases.push(hostile(corpus, '2,000-level block mappings', `${head}${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`));
  cases.push(hostile(corpus, '50 MB spec', `${head}# ${'x'.repeat(50 * 1024 * 1024)}\n`));
  cases.push(hostile(corpus, '5 MB of keys', `${head}${Array.from({ length: 300_000 }, (_, i) => `key${i}: ${i}`).join('\n')}\n`));
  cases.push(hostile(corpus, '50,000 duplicate and unknown keys (1 MB)', `${head}${Array.from({ length: 50_000 }, (_, i) => `k${i % 25_000}: ${i}`).join('\n')}\n`));
  cases.push(hostile(corpus, '10,000 regions', `${head}regions:\n${Array.from({ length: 10_000 }, (_, i) => `  - { name: r${i}, gpa: ${0x1_0000_0000 + i * 0x1000}, size: 4KiB, kind: mmio }`).join('\n')}\n`));
  const garbage = new Rng(garbageSeed).bytes(64 * 1024);
  cases.push(hostile(corpus, '64 KiB of binary garbage', Buffer.from(garbage).toString('utf8'), { bytes: garbage }));
  const line = new Rng(garbageSeed + 1).bytes(7_500).map((b) => (b === 0x0a ? 0x20 : b));
  const withLine = Buffer.concat([Buffer.from(head), Buffer.from(line), Buffer.from(': 1\n')]);
  cases.push(hostile(corpus, 'a 7.5 KB line of binary garbage as a key', withLine.toString('utf8'), { bytes: withLine }));
  cases.push(hostile(corpus, 'escape sequences in keys and values', `${head}"\u001b[2J\u001b[31mkey": 1\nvcpus: "\u001b]0;title\u0007"\nregions:\n  - { name: "\u001b[2J", gpa: 0x100000000, size: 4KiB, kind: mmio }\n  - { name: "\u001b[2J", gpa: 0x100000000, size: 4KiB, kind: "\u202eram" }\n`));
  cases.push(hostile(corpus, 'NUL, DEL, C1 and bidi characters', `${head}k\u0000ey: 1\nx\u007f\u0085\u202e\u2066: "\ud800"\n`));
  cases.push(hostile(corpus, 'BOM, CRLF and tabs', `\ufeffname: crlf\r\nboot:\r\n\timage: build/hello.elf\r\n`));
  for (const img of ['/dev/zero', '/dev/urandom', fifo, '/', '/proc/self/status']) {
    cases.push(hostile(corpus, `image ${img}`, `name: special\nboot:\n  image: ${JSON.stringify(img)}\n  format: flat\n  initrd: ${JSON.stringify(img)}\n  symbols: ${JSON.stringify(img)}\n  modules: [${JSON.stringify(img)}]\n`));
  }
  for (const mem of ['4GiB', '4079MiB', '4080MiB', '5GiB', '6GiB', '8GiB']) {
    cases.push(hostile(corpus, `memory ${mem}`, `name: big\nmemory: ${mem}\nboot:\n  image: build/hello.elf\nregions:\n  - { name: hi, gpa: 0xfe000000, size: 32MiB, kind: ram }\n`));
  }
  for (const p of schemaPaths()) {
    for (const e of EMPTIES.slice(0, 3)) cases.push(hostile(corpus, `empty ${p.join('.')}: ${JSON.stringify(e)}`, withEmptyKey(p, e)));
  }
  cases.push(hostile(corpus, 'empty file', ''));
  cases.push(hostile(corpus, 'only a comment', '# nothing\n'));
  cases.push(hostile(corpus, 'two documents', `${head}---\n${head}`));
  cases.push(hostile(corpus, 'a scalar at the top', '"just a string"\n'));
  return cases;
}

/** Whether `p` names a schema key (for tests). */
export function isSchemaPath(p: Array<string | number>): boolean {
  return schemaAt(p) !== undefined;
}
