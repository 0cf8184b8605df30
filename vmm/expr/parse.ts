// Parser of the debugger's expression language (the syntax is documented in evaluate.ts).
// jsep climbs the binary operators by precedence and parses `a ? b : c`; a jsep plugin adds this
// language's tokens (64-bit numbers, names, $registers, `symbols`, memory reads, unary operators).
// The result is a small typed tree in which every node keeps its offsets into the text.

import jsep from 'jsep';
import { parseIntegerLiteral } from '../../vmspec/units';
import { EvalError, syntaxError } from './error';

export type Width = 1 | 2 | 4 | 8;

/** How a name is looked up: `any` tries register, then variable, then symbol; `$` forces a register, backquotes a symbol. */
export type NameLookup = 'any' | 'register' | 'symbol';

export const UNARY_OPERATORS = ['-', '~', '!', '+'] as const;
export type UnaryOperator = (typeof UNARY_OPERATORS)[number];
export const BINARY_OPERATORS = ['*', '/', '%', '+', '-', '<<', '>>', '<', '<=', '>', '>=', '==', '!=', '&', '^', '|', '&&', '||'] as const;
export type BinaryOperator = (typeof BINARY_OPERATORS)[number];

/** [start, end) offsets into the expression text. A parenthesised node's span includes its parentheses. */
export interface Span {
  start: number;
  end: number;
}
export interface NumberNode extends Span {
  kind: 'number';
  value: bigint;
}
export interface NameNode extends Span {
  kind: 'name';
  /** As written, without `$` or backquotes. */
  name: string;
  lookup: NameLookup;
}
export interface ReadNode<Child = Node> extends Span {
  kind: 'read';
  width: Width;
  signed: boolean;
  /** `gpa:` prefix: read guest-physical memory instead of translating a virtual address. */
  physical: boolean;
  address: Child;
}
export interface UnaryNode<Child = Node> extends Span {
  kind: 'unary';
  operator: UnaryOperator;
  argument: Child;
}
export interface BinaryNode extends Span {
  kind: 'binary';
  operator: BinaryOperator;
  left: Node;
  right: Node;
  /** Offset of the operator itself, for errors such as division by zero. */
  operatorStart: number;
}
export interface ConditionalNode extends Span {
  kind: 'conditional';
  test: Node;
  consequent: Node;
  alternate: Node;
}
export type Node = NumberNode | NameNode | ReadNode | UnaryNode | BinaryNode | ConditionalNode;

export interface MemoryType {
  width: Width;
  signed: boolean;
}
export const MEMORY_TYPES: Readonly<Record<string, MemoryType>> = Object.freeze({
  u8: { width: 1, signed: false },
  u16: { width: 2, signed: false },
  u32: { width: 4, signed: false },
  u64: { width: 8, signed: false },
  i8: { width: 1, signed: true },
  i16: { width: 2, signed: true },
  i32: { width: 4, signed: true },
  i64: { width: 8, signed: true },
});
const TYPE_LIST = Object.keys(MEMORY_TYPES).join(' ');

function memoryType(name: string): MemoryType | undefined {
  return Object.hasOwn(MEMORY_TYPES, name) ? MEMORY_TYPES[name] : undefined;
}

/** Parses `text` into a tree; throws EvalError (with position) on syntax errors. */
export function parse(text: string): Node {
  const parser = new JsepParser(text);
  let raw: jsep.Expression | false | undefined;
  active = true;
  try {
    raw = parser.gobbleExpression();
  } catch (e) {
    throw fromJsep(e);
  } finally {
    active = false;
  }
  if (!raw) throw new EvalError('empty expression', { position: 0 });
  if (parser.index < text.length) throw unexpected(text, parser.index);
  return toNode(raw, text);
}

// ---- jsep plugin -------------------------------------------------------------------------------

// jsep's typings omit the Jsep class that its README documents (`const { Jsep } = require('jsep')`);
// an instance is the parser state that hooks see as `this`. parse() calls gobbleExpression() on one
// directly, instead of jsep(text), so that `,` and `;` are not accepted as expression separators.
const JsepParser = (jsep as unknown as { Jsep: new (text: string) => jsep.HookScope }).Jsep;

/** jsep's hooks are process-wide; ours act only while parse() runs, so other jsep users are unaffected. */
let active = false;

/** jsep node type of every node the plugin builds; toNode() turns them into the exported Node types. */
const TOKEN = 'VmscopeToken';
interface GroupNode extends Span {
  kind: 'group';
  expression: jsep.Expression;
}
type TokenNode = { type: typeof TOKEN } & (NumberNode | NameNode | ReadNode<jsep.Expression> | UnaryNode<jsep.Expression> | GroupNode);

// jsep's Expression type has no room for bigint fields. jsep reads nothing of our nodes but `operator`
// (the ternary plugin, looking for assignments), which only unary ones have.
const asJsep = (node: TokenNode): jsep.Expression => node as unknown as jsep.Expression;

jsep.plugins.register({
  name: 'vmscope-expressions',
  init() {
    jsep.hooks.add('gobble-token', gobbleToken, true);
    // Without this, `a**p` (a times *p, as in C) would parse as a power. This one change to jsep's
    // operator table is process-wide; other unsupported JS operators (=== !== >>> ??) are left in
    // the table and rejected by toNode() with a message that names the C spelling.
    jsep.removeBinaryOp('**');
  },
});

const NAME = /[A-Za-z_][A-Za-z0-9_.]*/y;
const REGISTER_NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER_RUN = /[0-9A-Za-z_.]*/y;
const CAST = /\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\*\s*\)/y;
const CHAR = /'(?:\\x([0-9a-fA-F]{2})|\\([nrt0\\'"])|([\x20-\x26\x28-\x5b\x5d-\x7e]))'/y;
const ESCAPES: Readonly<Record<string, number>> = { n: 10, r: 13, t: 9, '0': 0, '\\': 92, "'": 39, '"': 34 };
const U64_MAX = 0xffff_ffff_ffff_ffffn;

function matchAt(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** The plugin's 'gobble-token' hook: every token except end of text, which jsep reports itself. */
function gobbleToken(this: jsep.HookScope, env: { node?: jsep.Expression }): void {
  if (!active || this.index >= this.expr.length) return;
  const c = this.code;
  const ch = this.char;
  let node: TokenNode;
  if (isDigit(c)) node = readNumber(this);
  else if (ch === "'") node = readChar(this);
  else if (ch === '`') node = readQuotedSymbol(this);
  else if (ch === '$') node = readRegister(this);
  else if (isNameStart(c)) node = readName(this);
  else if (ch === '*') node = readDeref(this);
  else if (ch === '(') node = readGroup(this);
  else if ((UNARY_OPERATORS as readonly string[]).includes(ch)) node = readUnary(this, ch as UnaryOperator);
  else throw unexpected(this.expr, this.index);
  env.node = asJsep(node);
}

function readNumber(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const raw = matchAt(NUMBER_RUN, p.expr, start)![0];
  const parsed = parseIntegerLiteral(raw);
  if (!parsed.ok) {
    throw syntaxError(`'${raw}' is not a number`, start, "numbers are whole: decimal, 0x hex, 0o octal or 0b binary, with '_' allowed between digits");
  }
  // C reads 017 as octal, the vmspec number syntax as decimal: refuse rather than pick one silently.
  if (/^0[0-9_]*[1-9]/.test(raw)) {
    const digits = raw.replace(/_/g, '').replace(/^0+/, '');
    throw syntaxError(`'${raw}' starts with 0`, start, `write 0o${digits} for octal or ${digits} for decimal`);
  }
  if (parsed.value > U64_MAX) throw syntaxError(`${raw} does not fit in 64 bits`, start);
  p.index = start + raw.length;
  return { type: TOKEN, kind: 'number', value: parsed.value, start, end: p.index };
}

function readChar(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const m = matchAt(CHAR, p.expr, start);
  if (!m) {
    throw syntaxError('invalid character literal', start, "put one ASCII character or an escape (\\n \\r \\t \\0 \\\\ \\' \\\" \\xHH) between single quotes");
  }
  const [, hex, escape, plain] = m;
  const code = hex !== undefined ? parseInt(hex, 16) : escape !== undefined ? ESCAPES[escape]! : plain!.charCodeAt(0);
  p.index = start + m[0].length;
  return { type: TOKEN, kind: 'number', value: BigInt(code), start, end: p.index };
}

function readQuotedSymbol(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const close = p.expr.indexOf('`', start + 1);
  if (close < 0) throw syntaxError("unclosed '`'", start, 'end the name with another backquote');
  const name = p.expr.slice(start + 1, close);
  if (name === '') throw syntaxError('empty name between backquotes', start);
  p.index = close + 1;
  return { type: TOKEN, kind: 'name', name, lookup: 'symbol', start, end: p.index };
}

function readRegister(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const m = matchAt(REGISTER_NAME, p.expr, start + 1);
  if (!m) throw syntaxError("expected a register name after '$'", start + 1);
  p.index = start + 1 + m[0].length;
  return { type: TOKEN, kind: 'name', name: m[0], lookup: 'register', start, end: p.index };
}

/** A name, or `u32[ADDR]` when the name is a memory type followed by '['. */
function readName(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const name = matchAt(NAME, p.expr, start)![0];
  p.index = start + name.length;
  const type = memoryType(name);
  if (type) {
    const end = p.index;
    p.gobbleSpaces();
    if (p.char === '[') return readIndexed(p, type, start);
    p.index = end;
  }
  return { type: TOKEN, kind: 'name', name, lookup: 'any', start, end: p.index };
}

function readIndexed(p: jsep.HookScope, type: MemoryType, start: number): TokenNode {
  const open = p.index;
  p.index++;
  p.gobbleSpaces();
  const physical = gobbleGpaPrefix(p);
  p.gobbleSpaces();
  if (p.char === ']') throw syntaxError("expected an address before ']'", p.index);
  const address = p.gobbleExpression();
  if (!address) throw syntaxError(`expected an address after '${physical ? 'gpa:' : '['}'`, p.index);
  if (p.char !== ']') {
    throw syntaxError("expected ']'", p.index, p.index >= p.expr.length ? `close the '[' at column ${open + 1}` : undefined);
  }
  p.index++;
  return { type: TOKEN, kind: 'read', ...type, physical, address, start, end: p.index };
}

/** `*ADDR`, `*(T*)ADDR`, either with `gpa:` before ADDR. The read binds like a unary operator. */
function readDeref(p: jsep.HookScope): TokenNode {
  const start = p.index;
  p.index++;
  p.gobbleSpaces();
  let type: MemoryType = { width: 8, signed: false };
  const cast = matchAt(CAST, p.expr, p.index);
  if (cast) {
    const named = memoryType(cast[1]!);
    if (!named) throw syntaxError(`unknown type '${cast[1]}'`, p.index + cast[0].indexOf(cast[1]!, 1), `the types are ${TYPE_LIST}`);
    type = named;
    p.index += cast[0].length;
    p.gobbleSpaces();
  }
  const physical = gobbleGpaPrefix(p);
  const address = p.gobbleToken();
  if (!address) throw syntaxError(`expected an address after '${physical ? 'gpa:' : cast ? cast[0] : '*'}'`, p.index);
  return { type: TOKEN, kind: 'read', ...type, physical, address, start, end: p.index };
}

/** `gpa:` right where an address starts. Elsewhere `gpa` is an ordinary name (an exit field, say). */
function gobbleGpaPrefix(p: jsep.HookScope): boolean {
  if (!p.expr.startsWith('gpa:', p.index)) return false;
  p.index += 4;
  return true;
}

function readGroup(p: jsep.HookScope): TokenNode {
  const start = p.index;
  const cast = matchAt(CAST, p.expr, start);
  if (cast && memoryType(cast[1]!)) {
    throw syntaxError(`'${cast[0]}' needs a '*' before it`, start, `to read memory write *${cast[0]}ADDR`);
  }
  p.index++;
  const expression = p.gobbleExpression();
  if (!expression) throw syntaxError("expected an expression after '('", p.index);
  if (p.char !== ')') {
    throw syntaxError("expected ')'", p.index, p.index >= p.expr.length ? `close the '(' at column ${start + 1}` : undefined);
  }
  p.index++;
  const end = p.index;
  // `(u32)x` is a C value cast; say so rather than "unexpected 'x'".
  if (expression.type === TOKEN) {
    const inner = expression as unknown as TokenNode;
    if (inner.kind === 'name' && inner.lookup === 'any' && memoryType(inner.name)) {
      p.gobbleSpaces();
      if (startsOperand(p.code)) {
        throw syntaxError(
          `'${p.expr.slice(start, end)}' is a value cast, which expressions do not have`,
          start,
          'to read memory write *(u32*)ADDR or u32[ADDR]; for low bits use a sub-register (eax) or a mask (& 0xffffffff)',
        );
      }
      p.index = end;
    }
  }
  return { type: TOKEN, kind: 'group', expression, start, end };
}

function startsOperand(c: number): boolean {
  return isDigit(c) || isNameStart(c) || c === 36 /* $ */ || c === 96 /* ` */ || c === 40 /* ( */ || c === 39 /* ' */;
}

function readUnary(p: jsep.HookScope, operator: UnaryOperator): TokenNode {
  const start = p.index;
  p.index++;
  const argument = p.gobbleToken();
  if (!argument) throw syntaxError(`expected an operand after '${operator}'`, p.index);
  return { type: TOKEN, kind: 'unary', operator, argument, start, end: p.index };
}

// ---- errors ------------------------------------------------------------------------------------

const UNEXPECTED_HINTS: Readonly<Record<string, string>> = {
  '=': "to compare, write '=='",
  '[': `only a memory type is indexed: ${TYPE_LIST.split(' ').map((t) => `${t}[ADDR]`).join(' ')}`,
  '(': 'there are no function calls',
  '"': 'there are no strings; put unusual symbol names in backquotes, as in `name@plt`',
  '&': "there is no address-of operator: a symbol's value already is its address",
  '.': 'put a name that starts with . in backquotes, as in `.Lloop`',
};

function unexpected(text: string, at: number): EvalError {
  if (at >= text.length) return syntaxError('unexpected end of expression', at);
  const ch = text[at]!;
  let fix = Object.hasOwn(UNEXPECTED_HINTS, ch) ? UNEXPECTED_HINTS[ch] : undefined;
  if (ch === ':' && text.slice(0, at).endsWith('gpa')) fix = "'gpa:' goes right after '*', after '*(T*)' or after the '[' of T[ADDR]";
  return syntaxError(`unexpected '${ch}'`, at, fix);
}

interface JsepError extends Error {
  index: number;
  description: string;
}
function isJsepError(e: unknown): e is JsepError {
  return e instanceof Error && typeof (e as Partial<JsepError>).index === 'number' && typeof (e as Partial<JsepError>).description === 'string';
}

/** jsep's own errors (missing operands, a ? b without : c) in this module's wording. */
function fromJsep(e: unknown): unknown {
  if (e instanceof EvalError || !isJsepError(e)) return e;
  const after = /^Expected expression after (.+)$/.exec(e.description);
  const message = after
    ? `expected an operand after '${after[1]}'`
    : e.description === 'Expected :'
      ? "expected ':' (as in a ? b : c)"
      : e.description.charAt(0).toLowerCase() + e.description.slice(1);
  return syntaxError(message, e.index);
}

const OPERATOR_HINTS: Readonly<Record<string, string>> = {
  '===': "write '=='",
  '!==': "write '!='",
  '>>>': "values are unsigned, so '>>' already shifts in zeros",
};

// ---- jsep tree -> Node ---------------------------------------------------------------------------

function toNode(e: jsep.Expression, text: string): Node {
  if (e.type === TOKEN) {
    const n = e as unknown as TokenNode;
    switch (n.kind) {
      case 'number':
        return { kind: 'number', value: n.value, start: n.start, end: n.end };
      case 'name':
        return { kind: 'name', name: n.name, lookup: n.lookup, start: n.start, end: n.end };
      case 'read':
        return { kind: 'read', width: n.width, signed: n.signed, physical: n.physical, address: toNode(n.address, text), start: n.start, end: n.end };
      case 'unary':
        return { kind: 'unary', operator: n.operator, argument: toNode(n.argument, text), start: n.start, end: n.end };
      case 'group':
        return { ...toNode(n.expression, text), start: n.start, end: n.end };
    }
  }
  if (e.type === 'BinaryExpression') {
    const b = e as jsep.BinaryExpression;
    const left = toNode(b.left, text);
    const right = toNode(b.right, text);
    // jsep skips only whitespace between an operand and the operator after it.
    let operatorStart = left.end;
    while (/\s/.test(text.charAt(operatorStart))) operatorStart++;
    if (!(BINARY_OPERATORS as readonly string[]).includes(b.operator)) {
      throw syntaxError(`operator '${b.operator}' is not supported`, operatorStart, OPERATOR_HINTS[b.operator]);
    }
    return { kind: 'binary', operator: b.operator as BinaryOperator, left, right, operatorStart, start: left.start, end: right.end };
  }
  if (e.type === 'ConditionalExpression') {
    const c = e as jsep.ConditionalExpression;
    const test = toNode(c.test, text);
    const alternate = toNode(c.alternate, text);
    return { kind: 'conditional', test, consequent: toNode(c.consequent, text), alternate, start: test.start, end: alternate.end };
  }
  // Only reachable if another module registers a jsep plugin that builds new node types.
  throw new EvalError(`unsupported expression (${e.type})`, { position: 0 });
}
