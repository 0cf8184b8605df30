// Incremental YAML for the language server: a spec is cut into independent pieces (each top-level key, and each
// item of a top-level block sequence such as `regions:`), each piece is parsed on its own and cached by its text,
// and the pieces are joined into one Document whose node ranges are offsets into the whole text. A keystroke then
// re-parses one piece instead of the whole file.
//
// The join is only used where it is exactly what a whole parse gives: any piece that does not parse cleanly into
// the shape expected of it, an anchor or alias, a document marker or directive, or a key written twice sends the
// caller back to the whole parse (which then reports the problem itself). vmspec/yaml-chunks.test.ts checks the
// equivalence on mutated specs.

import { Composer, Document, isMap, isNode, isPair, isScalar, isSeq, LineCounter, Pair, Parser, YAMLMap, YAMLParseError, YAMLSeq } from 'yaml';
import type { CST, Node, ParsedNode } from 'yaml';

/**
 * The options every spec parse uses: integers as bigint so that 64-bit addresses are exact; duplicate keys found by
 * `reportDuplicateKeys` in one pass, since the library's own check compares each key with every earlier one
 * (a spec of 50,000 keys took 16 s).
 */
export const YAML_OPTIONS = { intAsBigInt: true, prettyErrors: false, uniqueKeys: false } as const;

/**
 * Deeper nesting than this is refused before the document is built: the library builds nodes recursively, so
 * 10,000 levels overflowed the stack at a depth that varied from run to run. A spec needs five levels at most.
 */
export const MAX_NESTING = 64;

/** The YAML of a spec, or where its nesting first passes MAX_NESTING (then nothing is built). */
export type YamlParse = { doc: Document.Parsed } | { tooDeep: { offset: number } };

/**
 * parseDocument's work (the first document; more are an error), with the nesting limit and a linear duplicate-key
 * check. The tokenizer and parser keep their own stacks, so only the building of nodes needs the limit.
 */
export function parseYaml(text: string, lineCounter?: LineCounter): YamlParse {
  const tokens = [...new Parser(lineCounter?.addNewLine).parse(text)];
  const deep = firstTooDeep(tokens);
  if (deep !== undefined) return { tooDeep: { offset: deep } };
  const composer = new Composer(YAML_OPTIONS);
  let doc: Document.Parsed | undefined;
  for (const d of composer.compose(tokens, true, text.length)) {
    if (!doc) {
      doc = d;
    } else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
  }
  // compose(…, forceDoc = true) always yields a document.
  reportDuplicateKeys(doc!);
  return { doc: doc! };
}

/** The offset of the first token (in source order) nested deeper than MAX_NESTING, walking the tokens without recursion. */
function firstTooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: Array<{ t: CST.Token; depth: number }> = [];
  for (let i = tokens.length - 1; i >= 0; i--) stack.push({ t: tokens[i]!, depth: 0 });
  while (stack.length > 0) {
    const { t, depth } = stack.pop()!;
    if (depth > MAX_NESTING) return t.offset;
    const children: CST.Token[] = [];
    switch (t.type) {
      case 'document':
        if (t.value) children.push(t.value);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection':
        for (const item of t.items) {
          if ('key' in item && item.key) children.push(item.key);
          if (item.value) children.push(item.value);
        }
        break;
      default:
        break;
    }
    const next = t.type === 'document' ? depth : depth + 1;
    for (let k = children.length - 1; k >= 0; k--) stack.push({ t: children[k]!, depth: next });
  }
  return undefined;
}

/** A DUPLICATE_KEY error, as the library would give, for each scalar key written twice in one mapping. */
function reportDuplicateKeys(doc: Document.Parsed): void {
  const todo: unknown[] = [doc.contents];
  while (todo.length > 0) {
    const node = todo.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const k = pair.key;
        if (isScalar(k)) {
          const id = `${typeof k.value}:${String(k.value)}`;
          if (seen.has(id) && k.range) doc.errors.push(new YAMLParseError([k.range[0], k.range[1]], 'DUPLICATE_KEY', 'Map keys must be unique'));
          seen.add(id);
        } else if (k) {
          todo.push(k);
        }
        todo.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) todo.push(item);
    }
  }
}

interface Piece {
  /** The parsed piece; its ranges are relative to `shift`. */
  readonly node: ParsedNode;
  shift: number;
  /** The assembly in which this piece was last used (a piece written twice is parsed twice). */
  round: number;
}

/** Parsed pieces by text, for one document. Entries not used by the latest assembly are dropped. */
export class YamlChunkCache {
  private pieces = new Map<string, Piece>();
  private round = 0;
  /** How many pieces the last assembly parsed (the rest came from the cache); for tests and benchmarks. */
  parsedLast = 0;
  /** Whether the last parse was joined from pieces (false: the caller had to parse the whole text). */
  joinedLast = false;

  /** @internal */
  begin(): number {
    this.parsedLast = 0;
    this.joinedLast = false;
    return ++this.round;
  }

  /** @internal The node for `text`, with ranges moved to start at `at`; undefined when it does not parse cleanly. */
  take(text: string, at: number, round: number, want: (n: ParsedNode) => ParsedNode | undefined): ParsedNode | undefined {
    let piece = this.pieces.get(text);
    if (piece && piece.round === round) piece = undefined; // the same text twice in one document: parse it again
    if (!piece) {
      const parsed = parseYaml(text);
      this.parsedLast++;
      if (!('doc' in parsed)) return undefined; // too deep: the whole parse reports it
      const doc = parsed.doc;
      if (doc.errors.length || doc.warnings.length || doc.contents === null) return undefined;
      const node = want(doc.contents);
      if (!node) return undefined;
      piece = { node, shift: 0, round };
      if (!this.pieces.has(text)) this.pieces.set(text, piece);
    }
    if (piece.shift !== at) {
      moveRanges(piece.node, at - piece.shift);
      piece.shift = at;
    }
    piece.round = round;
    return piece.node;
  }

  /** @internal Forget pieces the latest assembly did not use. */
  end(round: number): void {
    this.joinedLast = true;
    for (const [text, piece] of this.pieces) if (piece.round !== round) this.pieces.delete(text);
  }
}

/** Characters and lines that make the pieces depend on each other, or that only the whole parse reports well. */
export const NOT_PIECEWISE = /(^|[\s[{,])[&*!]|^(---|\.\.\.|%)|\t/m;

/**
 * The Document for `text`, joined from cached pieces, or undefined when only a whole parse is exact (see the top
 * of this file). Fills `lineCounter` for the whole text.
 */
export function parsePiecewise(text: string, cache: YamlChunkCache, lineCounter: LineCounter): Document.Parsed | undefined {
  if (NOT_PIECEWISE.test(text)) return undefined;
  const lines = splitLines(text);
  const round = cache.begin();
  const root = new YAMLMap<ParsedNode, ParsedNode | null>();
  const seen = new Set<string>();
  const outer = { end: [0, 0] as [number, number] };

  // Top-level blocks: a line at column 0 that is neither blank nor a comment starts one.
  let i = 0;
  while (i < lines.length && !startsBlock(lines[i]!.text)) i++;
  if (i < lines.length && i > 0 && lines.slice(0, i).some((l) => l.text.trim() !== '' && !l.text.trimStart().startsWith('#'))) return undefined;
  while (i < lines.length) {
    let j = i + 1;
    while (j < lines.length && !startsBlock(lines[j]!.text)) j++;
    const pair = block(text, lines, i, j, cache, round, outer);
    if (!pair) return undefined;
    const key = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined;
    if (key === undefined || seen.has(key)) return undefined;
    seen.add(key);
    root.items.push(pair);
    i = j;
  }
  if (root.items.length === 0) return undefined; // empty and comment-only files: the whole parse is as cheap
  cache.end(round);

  const first = root.items[0]!.key as ParsedNode;
  // The whole parse ends the top-level map where the last piece's own top node ends (trailing comments included).
  root.range = [first.range[0], outer.end[0], outer.end[1]];
  const doc = new Document() as Document.Parsed;
  doc.contents = root as unknown as Document.Parsed['contents'];
  for (const l of lines) lineCounter.addNewLine(l.start);
  return doc;
}

interface Line {
  readonly start: number;
  readonly text: string;
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    out.push({ start, text: text.slice(start, nl < 0 ? text.length : nl) });
    if (nl < 0) return out;
    start = nl + 1;
  }
}

function startsBlock(line: string): boolean {
  // A block sequence may sit at column 0 under its key (`regions:` then `- name: ...`).
  return line !== '' && line[0] !== ' ' && line[0] !== '#' && line[0] !== '\r' && !/^-(\s|$)/.test(line);
}

type PieceMap = YAMLMap<ParsedNode, ParsedNode | null>;
type PiecePair = PieceMap['items'][number];

/** Lines [from, to) as one top-level `key: value` pair, with a block sequence value cut into its items. */
function block(
  text: string,
  lines: Line[],
  from: number,
  to: number,
  cache: YamlChunkCache,
  round: number,
  outer: { end: [number, number] },
): PiecePair | undefined {
  const header = lines[from]!.text;
  const items = /^[A-Za-z_][\w-]*:\s*(#.*)?\r?$/.test(header) ? sequenceItems(lines, from + 1, to) : undefined;
  const wholeEnd = to < lines.length ? lines[to]!.start : text.length;
  if (!items || items.length === 0) {
    const map = cache.take(text.slice(lines[from]!.start, wholeEnd), lines[from]!.start, round, onePair);
    if (!map) return undefined;
    outer.end = [map.range[1], map.range[2]];
    return (map as PieceMap).items[0];
  }
  const headEnd = lines[items[0]!]!.start;
  const head = cache.take(text.slice(lines[from]!.start, headEnd), lines[from]!.start, round, onePair) as PieceMap | undefined;
  const pair = head?.items[0];
  if (!pair || !(pair.value === null || (isScalar(pair.value) && pair.value.value === null))) return undefined;
  const seq = new YAMLSeq<ParsedNode>();
  for (let k = 0; k < items.length; k++) {
    const s = lines[items[k]!]!.start;
    const e = k + 1 < items.length ? lines[items[k + 1]!]!.start : wholeEnd;
    const one = cache.take(text.slice(s, e), s, round, oneItem) as YAMLSeq<ParsedNode> | undefined;
    if (!one) return undefined;
    seq.items.push(one.items[0]!);
    const r = one.range;
    if (!r) return undefined;
    outer.end = [r[1], r[2]];
    seq.range = k === 0 ? [r[0], r[1], r[2]] : [seq.range![0], r[1], r[2]];
  }
  // A fresh pair each time: the cached header's pair keeps its empty value for the next assembly.
  return new Pair(pair.key, seq as ParsedNode);
}

/**
 * The lines (indices) that start the items of a block sequence written under a top-level key, or undefined when the
 * lines are anything else. Every line that is not blank, a comment or inside an item must start an item at the
 * indentation of the first.
 */
function sequenceItems(lines: Line[], from: number, to: number): number[] | undefined {
  let indent = -1;
  const starts: number[] = [];
  for (let k = from; k < to; k++) {
    const t = lines[k]!.text;
    const body = t.trimStart();
    if (body === '' || body === '\r' || body.startsWith('#')) continue;
    const n = t.length - body.length;
    if (indent < 0) {
      if (!/^-(\s|$)/.test(body)) return undefined;
      indent = n;
    }
    if (n < indent) return undefined;
    if (n === indent) {
      if (!/^-(\s|$)/.test(body)) return undefined;
      starts.push(k);
    }
  }
  return starts;
}

function onePair(n: ParsedNode): ParsedNode | undefined {
  return isMap(n) && n.items.length === 1 && isScalar(n.items[0]!.key) ? n : undefined;
}

function oneItem(n: ParsedNode): ParsedNode | undefined {
  return isSeq(n) && n.items.length === 1 ? n : undefined;
}

/** Adds `delta` to the ranges of a node and everything under it. */
function moveRanges(node: unknown, delta: number): void {
  if (isPair(node)) {
    moveRanges(node.key, delta);
    moveRanges(node.value, delta);
    return;
  }
  if (!isNode(node)) return;
  const r = (node as Node).range;
  if (r) (node as Node).range = [r[0] + delta, r[1] + delta, r[2] + delta];
  if (isMap(node) || isSeq(node)) for (const item of node.items) moveRanges(item, delta);
}
