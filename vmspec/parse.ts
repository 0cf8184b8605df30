// Text → VmSpec with diagnostics and a source map. The schema walk is generic (driven by schema.ts);
// the semantic checks at the end are the only key-specific code, for rules that span several keys.

import * as path from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { parsePiecewise, YAML_OPTIONS, type YamlChunkCache } from './yaml-chunks';
import type { Document, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import {
  type AddressSchema,
  type ArraySchema,
  type EnumSchema,
  type ObjectSchema,
  type SchemaNode,
  type SchemaValue,
  propertyName,
  vmSpecSchema,
} from './schema';
import type { SpecDiagnostic, SpecDiagnosticCode, SpecPath, SpecPosition, SpecRange, SpecSeverity, VmSpec } from './types';
import {
  GPA_LIMIT,
  PAGE_SIZE,
  formatHex,
  formatRange,
  formatSize,
  looksNumeric,
  parseAddress,
  parseIntegerLiteral,
  parseSize,
} from './units';

export interface SpecParseResult {
  /** Present only when there are no error diagnostics. */
  spec?: VmSpec;
  /**
   * Every value that is valid on its own, even when other keys have errors
   * (absent or invalid parts are undefined): host checks use it, so that they
   * show together with the spec's other errors.
   */
  partial?: Loose<Parsed>;
  /** Sorted by position. */
  diagnostics: SpecDiagnostic[];
  ranges: SpecSourceMap;
}

export interface ParseOptions {
  /** Directory for relative paths; defaults to the spec file's directory, or the working directory if `file` is ''. */
  dir?: string;
  /**
   * Parsed pieces of this document's earlier versions (see yaml-chunks.ts): the language server passes one per open
   * document so that a keystroke re-parses only the piece it changed. The result is the same with or without it.
   */
  pieces?: YamlChunkCache;
}

interface SourceEntry {
  path: SpecPath;
  key?: SpecRange;
  value: SpecRange;
}

/**
 * Where each key and value of the parsed text is, by key path (`['boot', 'entry']`, `['regions', 0, 'gpa']`).
 * Checks that run later (reading the image, resolving symbols) use it to put their diagnostics in the right place.
 */
export class SpecSourceMap {
  private readonly entries = new Map<string, SourceEntry>();

  /** `lineLengths` (in UTF-16 units, without the line break) lets multi-line ranges be cut to their first line. */
  constructor(private readonly lineLengths: readonly number[] = []) {}

  /** Recorded by the parser only. */
  add(p: SpecPath, key: SpecRange | undefined, value: SpecRange): void {
    this.entries.set(pathKey(p), key ? { path: [...p], key, value } : { path: [...p], value });
  }

  /** Whether the key (or sequence item) is written in the text, as opposed to defaulted. */
  has(p: SpecPath): boolean {
    return this.entries.has(pathKey(p));
  }

  keyRange(p: SpecPath): SpecRange | undefined {
    return this.entries.get(pathKey(p))?.key;
  }

  valueRange(p: SpecPath): SpecRange | undefined {
    return this.entries.get(pathKey(p))?.value;
  }

  /**
   * The best range to report something about `p`: its value (or key) if written; otherwise the key of the
   * nearest written ancestor, since a defaulted value has no text of its own; otherwise the top of the file.
   */
  locate(p: SpecPath, prefer: 'key' | 'value' = 'value'): SpecRange {
    const own = this.entries.get(pathKey(p));
    if (own) return (prefer === 'key' ? own.key : undefined) ?? own.value;
    for (let n = p.length - 1; n > 0; n--) {
      const entry = this.entries.get(pathKey(p.slice(0, n)));
      if (entry) return this.firstLine(entry.key ?? entry.value);
    }
    return zeroRange();
  }

  /** A multi-line range cut to its first line, so a squiggle meant for a key does not cover a whole block. */
  firstLine(r: SpecRange): SpecRange {
    if (r.end.line === r.start.line) return r;
    return { start: r.start, end: { line: r.start.line, character: this.lineLengths[r.start.line] ?? r.start.character } };
  }

  /** The innermost key path whose key or value contains `pos` (end inclusive, so a cursor just after a word counts). */
  pathAt(pos: SpecPosition): { path: SpecPath; on: 'key' | 'value' } | undefined {
    let best: { path: SpecPath; on: 'key' | 'value' } | undefined;
    for (const entry of this.entries.values()) {
      const on = entry.key && contains(entry.key, pos) ? 'key' : contains(entry.value, pos) ? 'value' : undefined;
      if (on && (!best || entry.path.length > best.path.length)) best = { path: entry.path, on };
    }
    return best;
  }
}

/**
 * Parse and check a .vmspec. Never throws on bad input: every problem, from YAML syntax to overlapping regions,
 * becomes a diagnostic with a range. `file` is used for `spec.file` and to resolve relative paths; pass '' for none.
 */
export function parseSpec(text: string, file: string, options: ParseOptions = {}): SpecParseResult {
  const absFile = file === '' ? '' : path.resolve(file);
  const dir = options.dir !== undefined ? path.resolve(options.dir) : absFile === '' ? process.cwd() : path.dirname(absFile);
  const { value, walker } = walkText(text, vmSpecSchema, dir, options.pieces);

  // The walker emits only schema-conforming values or undefined, so this is exactly what it can produce.
  const loose = value as Loose<Parsed>;
  if (loose) checkSemantics(loose, walker);

  const diagnostics = sortByPosition(walker.diagnostics);
  const result: SpecParseResult = { diagnostics, ranges: walker.map };
  if (loose) result.partial = loose;
  if (!diagnostics.some((d) => d.severity === 'error')) {
    // No errors means every required key was present and every value valid, so the loose value is complete.
    result.spec = { ...(value as Parsed), file: absFile, dir };
  }
  return result;
}

/**
 * The generic half of parseSpec: YAML syntax and validation against any object schema, defaults applied, with no
 * cross-key checks. `value` holds whatever is valid (absent or invalid parts are undefined). For tests of the
 * walker and for tools that check other YAML described by a schema of the same kind.
 */
export function checkAgainstSchema(
  text: string,
  schema: ObjectSchema,
  dir: string,
): { value: unknown; diagnostics: SpecDiagnostic[]; ranges: SpecSourceMap } {
  const { value, walker } = walkText(text, schema, dir);
  return { value, diagnostics: sortByPosition(walker.diagnostics), ranges: walker.map };
}

function walkText(text: string, schema: ObjectSchema, dir: string, pieces?: YamlChunkCache): { value: unknown; walker: Walker } {
  let lineCounter = new LineCounter();
  let doc = pieces ? parsePiecewise(text, pieces, lineCounter) : undefined;
  if (!doc) {
    lineCounter = new LineCounter();
    // Integers come back as bigint so a 64-bit address is exact; the walker narrows to number where the schema says so.
    doc = parseDocument(text, { lineCounter, ...YAML_OPTIONS });
  }
  const walker = new Walker(doc, lineCounter, dir, schema, text.split('\n').map((l) => l.replace(/\r$/, '').length));

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

function sortByPosition(diagnostics: SpecDiagnostic[]): SpecDiagnostic[] {
  return diagnostics.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

export type Parsed = SchemaValue<typeof vmSpecSchema>;

/** A partly valid parse: any value may be missing because it was absent or invalid. */
/** A parsed value whose parts may be missing: what is valid of a spec with errors. */
export type Loose<T> = T extends bigint | string | number | boolean | null
  ? T | undefined
  : T extends readonly (infer I)[]
    ? Loose<I>[] | undefined
    : { [K in keyof T]?: Loose<T[K]> } | undefined;

type YamlNode = Scalar | YAMLMap | YAMLSeq;

/** A key as written: its value node (null when empty) and ranges. */
interface Written {
  node: YamlNode | null;
  key: SpecRange;
  value: SpecRange;
}

class Walker {
  readonly diagnostics: SpecDiagnostic[] = [];
  readonly map: SpecSourceMap;

  constructor(
    private readonly doc: Document,
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
    this.diagnostics.push({ severity, code, message, range, ...extra });
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
    const target = isAlias(node) ? node.resolve(this.doc) : node;
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
    const expected = schema.toggle ? 'a mapping, true or false' : 'a mapping';
    this.report('error', 'wrong-type', `${label(p)} must be ${expected}, not ${describe(node)}`, this.rangeOf(node, owner));
    return undefined;
  }

  private properties(schema: ObjectSchema, node: YAMLMap | undefined, p: SpecPath, owner: SpecRange): Record<string, unknown> {
    const written = new Map<string, Written>();
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
      if (child.type !== 'address' || !child.defaultFrom || written.has(key)) continue;
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
          this.report('error', 'duplicate-name', `${label(p)} has two entries with ${schema.uniqueBy} "${id}"`, this.map.locate(idPath), {
            related: [{ message: `first "${id}" is here`, range: this.map.locate([...p, first, schema.uniqueBy]) }],
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
          this.report('error', 'wrong-type', `${label(p)} must be a string, not ${describe(node)}; quote it ("${quoted}") if that is the intended text`, at, {
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
      this.report('error', 'bad-address', `"${raw}" is neither an address nor a symbol name`, at);
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
    this.report('error', 'unknown-value', `unknown ${label(p)} "${value}": expected one of ${schema.values.join(', ')}${hint}`, at,
      guess !== undefined ? { suggestion: guess } : {});
    return undefined;
  }

  private unknownKey(key: string, candidates: readonly string[], p: SpecPath, at: SpecRange): void {
    const guess = didYouMean(key, candidates);
    let hint = '';
    if (guess !== undefined) {
      hint = ` (did you mean "${guess}"?)`;
    } else {
      const home = findKeyElsewhere(key, this.root, [])[0];
      if (home !== undefined) hint = ` ("${key}" belongs under "${home}")`;
    }
    const where = p.length > 0 ? ` in ${label(p)}` : '';
    // An error, not a warning: a misspelt key would otherwise silently fall back to its default.
    this.report('error', 'unknown-key', `unknown key "${key}"${where}${hint}`, at,
      guess !== undefined ? { suggestion: guess } : {});
  }
}

// ---- Checks across keys ----

function checkSemantics(v: NonNullable<Loose<Parsed>>, w: Walker): void {
  const map = w.map;
  const memory = v.memory;
  const ramRange = memory !== undefined ? formatRange(0, memory) : '';

  interface Placed { index: number; name: string; gpa: number; end: number; kind: string | undefined }
  const regions: Placed[] = [];
  (v.regions ?? []).forEach((r, index) => {
    if (!r || r.gpa === undefined || r.size === undefined) return;
    regions.push({ index, name: r.name ?? `#${index}`, gpa: r.gpa, end: r.gpa + r.size, kind: r.kind });
  });

  // For each region, the earlier regions (in the order written) it overlaps: a sweep over the regions sorted by start,
  // so that a spec with thousands of regions is not checked pair by pair.
  const earlierOverlaps: number[][] = regions.map(() => []);
  const byStart = regions.map((_, i) => i).sort((a, b) => regions[a]!.gpa - regions[b]!.gpa);
  for (let s = 0; s < byStart.length; s++) {
    const a = byStart[s]!;
    for (let t = s + 1; t < byStart.length && regions[byStart[t]!]!.gpa < regions[a]!.end; t++) {
      const b = byStart[t]!;
      if (!(regions[a]!.gpa < regions[b]!.end)) continue; // the same test as for any two ranges (b starts no earlier)
      earlierOverlaps[Math.max(a, b)]!.push(Math.min(a, b));
    }
  }
  for (const list of earlierOverlaps) list.sort((x, y) => x - y);
  for (const [i, r] of regions.entries()) {
    const at = (key: string) => map.locate(['regions', r.index, key]);
    const desc = `region "${r.name}" ${formatRange(r.gpa, r.end)}`;
    if (r.end > GPA_LIMIT) {
      w.report('error', 'out-of-range', `${desc} ends beyond the 52-bit guest-physical address space`, at('size'));
    }
    // Only ram and rom become KVM memory slots, which are page-granular; MMIO is any unbacked GPA, so any size works.
    if (r.kind === 'ram' || r.kind === 'rom') {
      if (r.gpa % PAGE_SIZE !== 0) {
        w.report('error', 'misaligned', `${r.kind} region "${r.name}" starts at ${formatHex(r.gpa)}, which is not 4 KiB aligned (KVM memory slots are page-granular)`, at('gpa'));
      }
      if ((r.end - r.gpa) % PAGE_SIZE !== 0) {
        w.report('error', 'misaligned', `${r.kind} region "${r.name}" is ${formatSize(r.end - r.gpa)}, not a multiple of 4 KiB (KVM memory slots are page-granular)`, at('size'));
      }
    }
    if (memory !== undefined && r.gpa < memory) {
      const related = map.has(['memory']) ? [{ message: `guest RAM is ${ramRange} (memory: ${formatSize(memory)})`, range: map.locate(['memory']) }] : [];
      w.report('error', 'region-overlap', `${desc} overlaps guest RAM ${ramRange}`, at('gpa'), { related });
    }
    for (const j of earlierOverlaps[i]!) {
      const other = regions[j]!;
      w.report('error', 'region-overlap', `${desc} overlaps region "${other.name}" ${formatRange(other.gpa, other.end)}`, at('gpa'), {
        related: [{ message: `region "${other.name}" is here`, range: map.locate(['regions', other.index]) }],
      });
    }
  }

  // Port ranges come from the schema's ioPorts, so a new device is checked without code here.
  interface Claim { key: string; start: number; end: number }
  const claims: Claim[] = [];
  for (const [key, schema] of Object.entries(vmSpecSchema.properties.devices.properties)) {
    // Indexed by name from the schema's own keys, so every device object here has the port its schema declares.
    const dev = (v.devices as Record<string, { port?: number } | null | undefined> | undefined)?.[propertyName(key)];
    if (!dev || dev.port === undefined) continue;
    const claim = { key, start: dev.port, end: dev.port + schema.ioPorts };
    if (claim.end - 1 > 0xffff) {
      w.report('error', 'out-of-range', `${key} needs ${schema.ioPorts} ports from ${formatHex(claim.start)}, past the last I/O port 0xffff`, map.locate(['devices', key, 'port']));
      continue;
    }
    for (const other of claims) {
      if (other.start < claim.end && claim.start < other.end) {
        // Report on a port that is written down; a defaulted one has no text to point at.
        const [here, there] = map.has(['devices', key, 'port']) || !map.has(['devices', other.key, 'port']) ? [claim, other] : [other, claim];
        w.report('error', 'port-conflict',
          `${here.key} ports ${portSpan(here)} collide with ${there.key} ports ${portSpan(there)}`,
          map.locate(['devices', here.key, 'port']),
          { related: [{ message: `${there.key} is at ${formatHex(there.start)}`, range: map.locate(['devices', there.key, 'port']) }] });
      }
    }
    claims.push(claim);
  }

  const boot = v.boot;
  if (!boot) return;
  const loadWritten = map.has(['boot', 'load']);
  if (boot.format === 'elf' && loadWritten) {
    w.report('warning', 'ignored-key', 'boot.load is ignored for ELF images, which carry their own load addresses', map.locate(['boot', 'load'], 'key'));
  }
  // With the format left to detection, only a load address the user wrote is surely meant for a flat image.
  if (boot.load !== undefined && memory !== undefined && (boot.format === 'flat' || (boot.format === undefined && loadWritten))) {
    const load = boot.load;
    const inRegion = regions.some((r) => (r.kind === 'ram' || r.kind === 'rom') && r.gpa <= load && load < r.end);
    if (load >= memory && !inRegion) {
      const message = loadWritten
        ? `load address ${formatHex(load)} is outside guest RAM ${ramRange} and every ram/rom region`
        : `flat images load at ${formatHex(load)} by default in ${boot.mode ?? 'long'} mode, which is outside guest RAM ${ramRange}; set boot.load or raise memory`;
      w.report('error', 'load-outside-memory', message, map.locate(loadWritten ? ['boot', 'load'] : ['boot', 'format']));
    }
  }
  if (typeof boot.entry === 'string' && boot.format === 'flat') {
    w.report('error', 'symbol-needs-elf', `entry "${boot.entry}" is a symbol name, but a flat image has no symbols; give an address`, map.locate(['boot', 'entry']));
  }
  if (typeof boot.entry === 'bigint' && boot.mode !== undefined) {
    const e = boot.entry;
    const problem =
      boot.mode === 'real' && e >= 1n << 20n
        ? 'must be below 1 MiB in real mode'
        : boot.mode === 'protected' && e >= 1n << 32n
          ? 'must be below 4 GiB in protected mode'
          : boot.mode === 'long' && !isCanonical(e)
            ? 'is not canonical (bits 63:47 must all equal bit 47), so long mode cannot execute there'
            : undefined;
    if (problem) w.report('error', 'out-of-range', `entry ${formatHex(e, { group: e > 0xffffffffn })} ${problem}`, map.locate(['boot', 'entry']));
  }
}

function isCanonical(address: bigint): boolean {
  const top = address >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}

function portSpan(c: { start: number; end: number }): string {
  return c.end - c.start === 1 ? formatHex(c.start) : `${formatHex(c.start)}-${formatHex(c.end - 1)}`;
}

// ---- Helpers ----

/**
 * The candidate a mistyped word most likely meant: same letters ignoring case and `-`/`_`, a prefix
 * (`mem` → `memory`), or within a small edit distance counting transpositions (`memroy` → `memory`).
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const w = norm(word);
  if (w === '') return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, norm(c));
    const allowed = Math.max(1, Math.floor(c.length / 3));
    if (d <= allowed && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== undefined) return best;
  return w.length >= 3 ? candidates.find((c) => norm(c).startsWith(w)) : undefined;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions, the commonest typo. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Schema paths (as labels such as `boot` or `regions[]`) of every object that defines `key`. */
function findKeyElsewhere(key: string, node: SchemaNode, at: string[]): string[] {
  if (node.type === 'array') return findKeyElsewhere(key, node.items, [...at.slice(0, -1), `${at[at.length - 1] ?? ''}[]`]);
  if (node.type !== 'object') return [];
  const here = Object.prototype.hasOwnProperty.call(node.properties, key) && at.length > 0 ? [at.join('.')] : [];
  return [...here, ...Object.entries(node.properties).flatMap(([k, child]) => findKeyElsewhere(key, child, [...at, k]))];
}

/** A key path as users write it: `boot.entry`, `regions[1].gpa`. */
export function formatPath(p: SpecPath): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
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
  if (typeof v === 'bigint') return `the integer ${node.source ?? String(v)}`;
  if (typeof v === 'number') return `the number ${node.source ?? String(v)}`;
  if (typeof v === 'string') return `the string "${v}"`;
  return 'a value of another type';
}

function yamlMessage(message: string): string {
  return /^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message;
}

function pathKey(p: SpecPath): string {
  return JSON.stringify(p);
}

function zeroRange(): SpecRange {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

function contains(r: SpecRange, pos: SpecPosition): boolean {
  const afterStart = pos.line > r.start.line || (pos.line === r.start.line && pos.character >= r.start.character);
  const beforeEnd = pos.line < r.end.line || (pos.line === r.end.line && pos.character <= r.end.character);
  return afterStart && beforeEnd;
}
