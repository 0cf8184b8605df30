// The generic schema walk: a YAML document checked against an object schema (schema.ts), with defaults applied,
// every problem reported as a diagnostic and every key's range recorded in a source map. It knows no key by name;
// the rules that span several keys are in semantic-checks.ts.

import * as path from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter } from 'yaml';
import type { Document, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { didYouMean } from './did-you-mean';
import { type AddressSchema, type ArraySchema, type EnumSchema, type ObjectSchema, type SchemaNode, propertyName } from './schema';
import { SpecSourceMap, formatPath, zeroRange } from './source-map';
import type { SpecDiagnostic, SpecDiagnosticCode, SpecPath, SpecPosition, SpecRange, SpecSeverity } from './types';
import { GPA_LIMIT, formatHex, formatSize, looksNumeric, parseAddress, parseIntegerLiteral, parseSize } from './units';
import { MAX_NESTING, parsePiecewise, parseYaml, type YamlChunkCache } from './yaml-chunks';
import { escapeText, quoteText } from './message-text';

/** The longest spec text checked, in UTF-16 units (load.ts refuses bigger files before reading them). */
export const MAX_SPEC_CHARS = 256 * 1024;

/**
 * Problems reported per spec; past it they are counted, not described (a did-you-mean per unknown key cost
 * 150 µs, so 50,000 of them took seconds, and an editor cannot show them anyway).
 */
export const MAX_DIAGNOSTICS = 200;

/**
 * Parses `text` (re-using `pieces` of its earlier versions when given) and walks it against `schema`. `value` holds
 * whatever is valid; the walker holds the diagnostics and the source map, and takes further reports.
 */
export function walkText(text: string, schema: ObjectSchema, dir: string, pieces?: YamlChunkCache): { value: unknown; walker: Walker } {
  const lineLengths = () => text.split('\n').map((l) => l.replace(/\r$/, '').length);
  // A spec is a few KiB; megabytes are the wrong file, and would cost the editor seconds per keystroke.
  if (text.length > MAX_SPEC_CHARS) {
    const walker = new Walker(undefined, new LineCounter(), dir, schema, []);
    walker.report('error', 'too-large', `this text is ${sizeOf(text.length)}, more than a spec may be (${sizeOf(MAX_SPEC_CHARS)}); is it the right file?`, zeroRange());
    return { value: undefined, walker };
  }
  let lineCounter = new LineCounter();
  let doc = pieces ? parsePiecewise(text, pieces, lineCounter) : undefined;
  if (!doc) {
    lineCounter = new LineCounter();
    // Integers come back as bigint so a 64-bit address is exact; the walker narrows to number where the schema says so.
    const parsed = parseYaml(text, lineCounter);
    if (!('doc' in parsed)) {
      const walker = new Walker(undefined, lineCounter, dir, schema, lineLengths());
      const at = walker.offsets(parsed.tooDeep.offset, parsed.tooDeep.offset);
      walker.report('error', 'too-large', `nesting deeper than ${MAX_NESTING} levels starts here; a spec needs five at most, so nothing else was checked`, at);
      return { value: undefined, walker };
    }
    doc = parsed.doc;
  }
  const walker = new Walker(doc, lineCounter, dir, schema, lineLengths());

  for (const e of doc.errors) {
    walker.report('error', e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax', yamlMessage(e.message), walker.offsets(e.pos[0], e.pos[1]));
  }
  for (const w of doc.warnings) {
    walker.report('warning', 'yaml-warning', yamlMessage(w.message), walker.offsets(w.pos[0], w.pos[1]));
  }

  const contents = doc.contents;
  const rootRange = contents?.range ? walker.offsets(contents.range[0], contents.range[1]) : zeroRange();
  walker.map.add([], undefined, rootRange);
  let value: unknown;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    value = walker.object(schema, undefined, [], zeroRange());
  } else if (isMap(contents)) {
    value = walker.object(schema, contents, [], walker.map.firstLine(rootRange));
  } else {
    const keys = Object.keys(schema.properties).slice(0, 2).join(' and ');
    walker.report('error', 'wrong-type', `the top level must be a mapping of keys such as ${keys}, not ${describe(contents)}`, rootRange);
  }
  return { value, walker };
}

/** The count of problems past MAX_DIAGNOSTICS as one last diagnostic (parse.ts adds it after the semantic checks). */
export function droppedDiagnostic(walker: Walker): SpecDiagnostic | undefined {
  if (walker.dropped === 0) return undefined;
  return {
    severity: 'warning',
    code: 'too-large',
    message: `${walker.dropped} more problems are not shown (at most ${MAX_DIAGNOSTICS} are); fix these first`,
    range: zeroRange(),
  };
}

type YamlNode = Scalar | YAMLMap | YAMLSeq;

/** A key as written: its value node (null when empty) and ranges. */
interface Written {
  node: YamlNode | null;
  key: SpecRange;
  value: SpecRange;
}

/** One walk over one document: values are checked and converted as the schema says, diagnostics and ranges collected. */
export class Walker {
  readonly diagnostics: SpecDiagnostic[] = [];
  readonly map: SpecSourceMap;

  constructor(
    /** undefined when the text was refused before parsing (too large, too deep). */
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter,
    private readonly dir: string,
    private readonly root: ObjectSchema,
    lineLengths: readonly number[],
  ) {
    this.map = new SpecSourceMap(lineLengths);
  }

  offsets(start: number, end: number): SpecRange {
    return { start: this.position(start), end: this.position(end) };
  }

  report(
    severity: SpecSeverity,
    code: SpecDiagnosticCode,
    message: string,
    range: SpecRange,
    extra: Pick<SpecDiagnostic, 'suggestion' | 'related'> = {},
  ): void {
    if (this.full) {
      this.dropped++;
      return;
    }
    this.diagnostics.push({ severity, code, message, range, ...extra });
  }

  /** Problems past MAX_DIAGNOSTICS, counted only. */
  dropped = 0;

  /** Whether further problems are only counted. */
  get full(): boolean {
    return this.diagnostics.length >= MAX_DIAGNOSTICS;
  }

  private position(offset: number): SpecPosition {
    const { line, col } = this.lines.linePos(offset);
    return { line: line - 1, character: col - 1 };
  }

  /** The range of a YAML node (key, value or alias) as parsed, or `fallback` for nodes without one. */
  private rangeOf(node: unknown, fallback: SpecRange): SpecRange {
    const r = isNode(node) ? node.range : undefined;
    return r ? this.offsets(r[0], r[1]) : fallback;
  }

  /**
   * Follows aliases; callers keep the alias's own range, where the reader sees the value used.
   * null stands for an empty value (`key:`), which is not the same as an absent key.
   */
  private resolve(node: unknown): YamlNode | null {
    const target = isAlias(node) && this.doc ? node.resolve(this.doc) : node;
    // The YAML parser accepts an alias to an anchor that does not exist (it only fails on toJS), so say so here.
    if (isAlias(node) && target === undefined) {
      this.report('error', 'yaml-syntax', `alias *${node.source} has no anchor &${node.source} before it`, this.rangeOf(node, zeroRange()));
    }
    if (isScalar(target)) return target.value === null ? null : target;
    if (isMap(target) || isSeq(target)) return target;
    return null;
  }

  /**
   * An object-typed value. `node` undefined means the key is absent, null that it is empty; `owner` is where
   * to report keys missing inside it (the object's key, or its first line).
   */
  object(schema: ObjectSchema, node: YamlNode | null | undefined, p: SpecPath, owner: SpecRange): Record<string, unknown> | null | undefined {
    if (node === undefined || node === null) {
      if (schema.toggle && (node === null || !schema.toggle.default)) return null;
      return this.properties(schema, undefined, p, owner);
    }
    if (schema.toggle && isScalar(node) && typeof node.value === 'boolean') {
      return node.value ? this.properties(schema, undefined, p, owner) : null;
    }
    if (isMap(node)) return this.properties(schema, node, p, owner);
    if (schema.shorthand && isScalar(node) && typeof node.value !== 'boolean') {
      // `- initrd.img` stands for `- { path: initrd.img }`: the scalar is that one key's value, written where it is.
      const range = this.rangeOf(node, owner);
      this.map.add([...p, schema.shorthand], undefined, range);
      return this.properties(schema, undefined, p, owner, { node, key: range, value: range });
    }
    const expected = schema.toggle ? 'a mapping, true or false' : schema.shorthand ? `a mapping or a ${schema.shorthand}` : 'a mapping';
    this.report('error', 'wrong-type', `${label(p)} must be ${expected}, not ${describe(node)}`, this.rangeOf(node, owner));
    return undefined;
  }

  private properties(schema: ObjectSchema, node: YAMLMap | undefined, p: SpecPath, owner: SpecRange, shorthand?: Written): Record<string, unknown> {
    const written = new Map<string, Written>();
    if (shorthand && schema.shorthand) written.set(schema.shorthand, shorthand);
    for (const pair of node?.items ?? []) {
      if (!isScalar(pair.key)) {
        if (pair.key !== null) this.report('error', 'wrong-type', 'keys must be plain names', this.rangeOf(pair.key, owner));
        continue;
      }
      if (pair.key.value === null) continue; // the YAML parser has already reported the broken pair
      const key = String(pair.key.value);
      const keyRange = this.rangeOf(pair.key, owner);
      const valueNode = this.resolve(pair.value);
      const valueRange = this.rangeOf(pair.value, { start: keyRange.end, end: keyRange.end });
      this.map.add([...p, key], keyRange, valueRange);
      if (!Object.prototype.hasOwnProperty.call(schema.properties, key)) {
        this.unknownKey(key, Object.keys(schema.properties), p, keyRange);
      } else if (!written.has(key)) {
        written.set(key, { node: valueNode, key: keyRange, value: valueRange });
      }
    }

    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(schema.properties)) {
      out[propertyName(key)] = this.property(child, written.get(key), [...p, key], owner);
    }
    // A default that depends on a sibling can only be chosen once the sibling is parsed.
    for (const [key, child] of Object.entries(schema.properties)) {
      // An empty value (`load: ~`, `load:`) takes the default like an absent key; only a written value does not.
      if (child.type !== 'address' || !child.defaultFrom || (written.get(key)?.node ?? null) !== null) continue;
      const sibling = out[propertyName(child.defaultFrom.key)];
      out[propertyName(key)] = typeof sibling === 'string' ? child.defaultFrom.values[sibling] : undefined;
    }
    return out;
  }

  private property(schema: SchemaNode, entry: Written | undefined, p: SpecPath, owner: SpecRange): unknown {
    if (entry === undefined && schema.required) {
      const where = p.length > 1 ? ` in ${label(p.slice(0, -1))}` : '';
      this.report('error', 'missing-key', `missing required key "${String(p[p.length - 1])}"${where}`, this.map.firstLine(owner));
      return undefined;
    }
    // An empty object value still gets its defaults (and reports its own missing keys), so only scalars can lack one.
    if (schema.type === 'object') return this.object(schema, entry?.node, p, entry ? entry.key : owner);
    if (schema.type === 'array') return this.array(schema, entry?.node ?? undefined, p, entry?.value ?? owner);
    if (entry === undefined || entry.node === null) {
      if (entry && schema.required) {
        this.report('error', 'missing-key', `${label(p)} needs a value`, entry.key);
        return undefined;
      }
      return schema.default;
    }
    return this.scalar(schema, entry.node, p, entry.value);
  }

  private array(schema: ArraySchema, node: YamlNode | undefined, p: SpecPath, at: SpecRange): unknown[] | undefined {
    if (node === undefined) return [];
    if (!isSeq(node)) {
      this.report('error', 'wrong-type', `${label(p)} must be a list, not ${describe(node)}`, at);
      return undefined;
    }
    const out: unknown[] = [];
    const seen = new Map<string, number>();
    node.items.forEach((item, i) => {
      const itemPath = [...p, i];
      const itemRange = this.rangeOf(item, at);
      this.map.add(itemPath, undefined, itemRange);
      const itemNode = this.resolve(item);
      const v =
        schema.items.type === 'object'
          ? this.object(schema.items, itemNode, itemPath, this.map.firstLine(itemRange))
          : this.property(schema.items, { node: itemNode, key: itemRange, value: itemRange }, itemPath, itemRange);
      out.push(v);
      if (schema.uniqueBy && v && typeof v === 'object') {
        // uniqueBy names a key of the item objects, and object() returns a plain record of them.
        const id = (v as Record<string, unknown>)[propertyName(schema.uniqueBy)];
        if (typeof id !== 'string') return;
        const first = seen.get(id);
        if (first === undefined) {
          seen.set(id, i);
        } else {
          const idPath = [...itemPath, schema.uniqueBy];
          this.report('error', 'duplicate-name', `${label(p)} has two entries with ${schema.uniqueBy} ${quoteText(id)}`, this.map.locate(idPath), {
            related: [{ message: `first ${quoteText(id)} is here`, range: this.map.locate([...p, first, schema.uniqueBy]) }],
          });
        }
      }
    });
    return out;
  }

  private scalar(schema: Exclude<SchemaNode, ObjectSchema | ArraySchema>, node: YamlNode, p: SpecPath, at: SpecRange): unknown {
    if (!isScalar(node)) {
      this.report('error', 'wrong-type', `${label(p)} must be ${expectation(schema)}, not ${describe(node)}`, at);
      return undefined;
    }
    const raw = node.value;
    // A YAML float or a plain scalar YAML 1.2 leaves as a string (0b101, 1_000) still reads as its source text.
    const text = typeof raw === 'string' ? raw : typeof raw === 'number' ? (node.source ?? String(raw)) : undefined;

    switch (schema.type) {
      case 'string': {
        if (typeof raw !== 'string') {
          const quoted = node.source ?? String(raw);
          this.report('error', 'wrong-type', `${label(p)} must be a string, not ${describe(node)}; quote it ("${escapeText(quoted, 60)}") if that is the intended text`, at, {
            suggestion: JSON.stringify(quoted),
          });
          return undefined;
        }
        if (schema.minLength !== undefined && raw.length < schema.minLength) {
          this.report('error', 'out-of-range', `${label(p)} must not be empty`, at);
          return undefined;
        }
        return schema.path ? path.resolve(this.dir, raw) : raw;
      }
      case 'boolean': {
        if (typeof raw === 'boolean') return raw;
        this.report('error', 'wrong-type', `${label(p)} must be true or false, not ${describe(node)}`, at);
        return undefined;
      }
      case 'enum':
        return this.enumValue(schema, typeof raw === 'string' ? raw : (node.source ?? String(raw)), p, at);
      case 'integer': {
        const n = typeof raw === 'bigint' ? ({ ok: true, value: raw } as const) : text !== undefined ? parseIntegerLiteral(text) : undefined;
        if (!n?.ok) {
          this.report('error', 'wrong-type', `${label(p)} must be an integer, not ${describe(node)}`, at);
          return undefined;
        }
        const fmt = (v: number | bigint) => (schema.hex ? formatHex(v) : String(v));
        return this.inRange(n.value, schema.min, schema.max, fmt, p, at);
      }
      case 'size': {
        const n = typeof raw === 'bigint' ? parseSize(raw) : text !== undefined ? parseSize(text) : undefined;
        if (!n) {
          this.report('error', 'wrong-type', `${label(p)} must be a size such as 16MiB, not ${describe(node)}`, at);
          return undefined;
        }
        if (!n.ok) {
          this.report('error', 'bad-size', n.message, at, n.suggestion !== undefined ? { suggestion: n.suggestion } : {});
          return undefined;
        }
        const v = this.inRange(n.value, schema.min, schema.max, formatSize, p, at);
        if (v !== undefined && schema.align !== undefined && v % schema.align !== 0) {
          const up = Math.ceil(v / schema.align) * schema.align;
          this.report('error', 'misaligned', `${label(p)} must be a multiple of ${formatSize(schema.align)}, not ${formatSize(v)}`, at, {
            suggestion: formatSize(up).replace(' ', ''),
          });
          return undefined;
        }
        return v;
      }
      case 'address':
        return this.address(schema, node, raw, text, p, at);
    }
  }

  private address(schema: AddressSchema, node: Scalar, raw: unknown, text: string | undefined, p: SpecPath, at: SpecRange): unknown {
    if (schema.symbol && typeof raw === 'string' && !looksNumeric(raw)) {
      if (/^[^\s"'#]+$/.test(raw)) return raw;
      this.report('error', 'bad-address', `${quoteText(raw)} is neither an address nor a symbol name`, at);
      return undefined;
    }
    const n = typeof raw === 'bigint' ? parseAddress(raw) : text !== undefined ? parseAddress(text) : undefined;
    if (!n) {
      const what = schema.symbol ? 'an address or a symbol name' : 'an address such as 0x100000';
      this.report('error', 'wrong-type', `${label(p)} must be ${what}, not ${describe(node)}`, at);
      return undefined;
    }
    if (!n.ok) {
      this.report('error', 'bad-address', n.message, at, n.suggestion !== undefined ? { suggestion: n.suggestion } : {});
      return undefined;
    }
    const limit = schema.bits === 52 ? BigInt(GPA_LIMIT) : 1n << 64n;
    if (n.value < 0n || n.value >= limit) {
      const space = schema.bits === 52 ? 'the 52-bit guest-physical address space' : '64 bits';
      this.report('error', 'out-of-range', `${label(p)} ${formatHex(n.value)} does not fit in ${space}`, at);
      return undefined;
    }
    return schema.bits === 52 ? Number(n.value) : n.value;
  }

  private inRange(
    value: bigint,
    min: number | undefined,
    max: number | undefined,
    fmt: (v: number | bigint) => string,
    p: SpecPath,
    at: SpecRange,
  ): number | undefined {
    const hi = max ?? Number.MAX_SAFE_INTEGER;
    if ((min !== undefined && value < BigInt(min)) || value > BigInt(hi)) {
      const bounds =
        min !== undefined && max !== undefined
          ? `between ${fmt(min)} and ${fmt(max)}`
          : min !== undefined
            ? `at least ${fmt(min)}`
            : `at most ${fmt(hi)}`;
      this.report('error', 'out-of-range', `${label(p)} must be ${bounds}, not ${fmt(value)}`, at);
      return undefined;
    }
    return Number(value);
  }

  private enumValue(schema: EnumSchema, value: string, p: SpecPath, at: SpecRange): string | undefined {
    if (schema.values.includes(value)) return value;
    const guess = didYouMean(value, schema.values);
    const hint = guess !== undefined ? ` (did you mean "${guess}"?)` : '';
    this.report('error', 'unknown-value', `unknown ${label(p)} ${quoteText(value)}: expected one of ${schema.values.join(', ')}${hint}`, at,
      guess !== undefined ? { suggestion: guess } : {});
    return undefined;
  }

  private unknownKey(key: string, candidates: readonly string[], p: SpecPath, at: SpecRange): void {
    if (this.full) {
      this.dropped++;
      return;
    }
    const guess = didYouMean(key, candidates);
    let hint = '';
    if (guess !== undefined) {
      hint = ` (did you mean "${guess}"?)`;
    } else {
      const home = findKeyElsewhere(key, this.root, [])[0];
      if (home !== undefined) hint = ` (${quoteText(key)} belongs under "${home}")`;
    }
    const where = p.length > 0 ? ` in ${label(p)}` : '';
    // An error, not a warning: a misspelt key would otherwise silently fall back to its default.
    this.report('error', 'unknown-key', `unknown key ${quoteText(key)}${where}${hint}`, at,
      guess !== undefined ? { suggestion: guess } : {});
  }
}

/** Schema paths (as labels such as `boot` or `regions[]`) of every object that defines `key`. */
function findKeyElsewhere(key: string, node: SchemaNode, at: string[]): string[] {
  if (node.type === 'array') return findKeyElsewhere(key, node.items, [...at.slice(0, -1), `${at[at.length - 1] ?? ''}[]`]);
  if (node.type !== 'object') return [];
  const here = Object.prototype.hasOwnProperty.call(node.properties, key) && at.length > 0 ? [at.join('.')] : [];
  return [...here, ...Object.entries(node.properties).flatMap(([k, child]) => findKeyElsewhere(key, child, [...at, k]))];
}

const label = formatPath;

function expectation(schema: SchemaNode): string {
  switch (schema.type) {
    case 'string': return 'a string';
    case 'integer': return 'an integer';
    case 'size': return 'a size such as 16MiB';
    case 'address': return schema.symbol ? 'an address or a symbol name' : 'an address such as 0x100000';
    case 'enum': return `one of ${schema.values.join(', ')}`;
    case 'boolean': return 'true or false';
    case 'object': return 'a mapping';
    case 'array': return 'a list';
  }
}

function describe(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (!isScalar(node)) return 'an alias';
  const v = node.value;
  if (v === null) return 'empty';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `the integer ${escapeText(node.source ?? String(v), 40)}`;
  if (typeof v === 'number') return `the number ${escapeText(node.source ?? String(v), 40)}`;
  if (typeof v === 'string') return `the string ${quoteText(v)}`;
  return 'a value of another type';
}

function sizeOf(chars: number): string {
  return chars >= 1 << 20 ? `${(chars / (1 << 20)).toFixed(1).replace(/\.0$/, '')} MiB` : `${Math.ceil(chars / 1024)} KiB`;
}

function yamlMessage(message: string): string {
  return /^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message;
}
