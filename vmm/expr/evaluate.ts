// The debug adapter's expression evaluator: REPL, watch and hover (`evaluate`), breakpoint and hit
// conditions, logpoint `{expr}` interpolation, and conditions on VM exits. compile() parses a text
// once (cached by text) into a tree of closures, so evaluating it again costs no parsing.

/*
 * Expression syntax
 * =================
 *
 * Values are unsigned 64-bit integers. Arithmetic wraps modulo 2^64 (so -1 is 0xffffffffffffffff),
 * comparisons are unsigned, and a comparison or logical operator gives 1 or 0. Any value other
 * than 0 counts as true.
 *
 * Numbers
 *   42  0x3f8  0o755  0b1010    decimal, hex, octal, binary (the prefix letter may be upper case)
 *   0xffff_ffff_8000_0000       `_` may separate digits
 *   'A'  '\n'  '\x1b'           a character's ASCII code; escapes: \n \r \t \0 \\ \' \" \xHH
 *   A number must fit in 64 bits. A decimal number may not start with 0: write 0o17 for octal.
 *
 * Names
 *   rax          a register if there is one by that name; else a variable of the context (on a VM
 *                exit: port, gpa, write, size, msr, ...); else a symbol, whose value is its address
 *   $rax         a register, and only a register
 *   `name`       a symbol, and only a symbol; backquotes hold any name: `name@plt`, `.Lloop`, `u32`
 *   foo.part.0   a bare name is a letter or _ followed by letters, digits, _ and . (so
 *                compiler-made names such as foo.part.0 or foo.cold need no quotes)
 *   Register names ignore case ($RAX is $rax); variable and symbol names do not.
 *
 * Sub-registers (read from the 64-bit register unless the context knows the name itself)
 *   eax ax al ah        bits 0-31, 0-15, 0-7 and 8-15 of rax; likewise ebx..bh, ecx..ch, edx..dh
 *   esi si sil, edi di dil, ebp bp bpl, esp sp spl
 *   r8d r8w r8b ... r15d r15w r15b   (r8l ... r15l, gdb's spelling, also work)
 *   eip eflags          bits 0-31 of rip and rflags
 *
 * Operators, from tightest to loosest binding (as in C)
 *   -x  ~x  !x  +x      negate (mod 2^64), bitwise not, logical not, no-op
 *   *  /  %             unsigned; dividing by 0 is an error
 *   +  -
 *   <<  >>              logical shifts; shifting by 64 or more gives 0
 *   <  <=  >  >=        unsigned
 *   ==  !=
 *   &
 *   ^
 *   |
 *   &&                  evaluates the right side only if the left is true
 *   ||                  evaluates the right side only if the left is false
 *   c ? a : b           a if c is true, else b; only one of them is evaluated
 *   ( )                 grouping
 *
 * Memory
 *   *(u32*)ADDR         the u32 at virtual address ADDR, translated by the vCPU's page tables
 *   *ADDR               the u64 at ADDR
 *   u32[ADDR]           the same read as *(u32*)ADDR; ADDR is a whole expression: u64[rsp + 8]
 *   Types: u8 u16 u32 u64 i8 i16 i32 i64. The i types sign-extend to 64 bits: i8[p] is
 *   0xffffffffffffff80 when the byte is 0x80.
 *   gpa:                right after '*', after the cast, or after '[', reads guest-physical memory:
 *                       u32[gpa:0x1000]  *(u64*)gpa:0x1000  *gpa:rbx
 *   A read binds like a unary operator: *(u32*)rsp + 4 reads at rsp and adds 4; write
 *   *(u32*)(rsp + 4) or u32[rsp + 4] to read at rsp + 4. Likewise u8[gpa:a + 1] reads physical a + 1.
 *   `gpa:` is written without a space before its colon; anywhere else gpa is an ordinary name
 *   (gpa >= 0xd0000000). As in C, a**p is a times *p.
 *
 * Not supported: assignment, function calls, strings, fractions, value casts such as (u32)x (use a
 * sub-register or & 0xffffffff), and the JavaScript operators === !== >>> ?? ** (use == != >>).
 * Syntax errors name the 1-based column ("expected ')' at column 7").
 */

import { formatHex } from '../../vmspec/units';
import { EvalError } from './error';
import { parse, type BinaryNode, type NameNode, type Node, type ReadNode, type UnaryOperator, type Width } from './parse';

export { EvalError } from './error';
export type { Width } from './parse';

export interface EvalContext {
  /**
   * 64-bit GPRs, rip, rflags, segment selectors, cr*, etc., by lower-case name; undefined if
   * unknown. Every bare name is offered here first (`port` too), so answer non-register names
   * cheaply, before fetching any vCPU state.
   */
  register(name: string): bigint | undefined;
  /** Extra names, e.g. the fields of a VM exit: port, gpa, write, size, msr. */
  variable?(name: string): bigint | undefined;
  /** A symbol's address. */
  symbol(name: string): bigint | undefined;
  /** May throw EvalError (e.g. unmapped); the message reaches the user unchanged. */
  readVirtual(addr: bigint, width: Width): bigint;
  readPhysical(addr: bigint, width: Width): bigint;
}

export interface CompiledExpression {
  readonly text: string;
  /** Throws EvalError: unknown names, division by zero, and whatever the context's reads throw. */
  evaluate(ctx: EvalContext): bigint;
  /**
   * Names the expression refers to, for completion/validation: each register, variable or symbol
   * name once, in order of first use, as written but without `$` or backquotes.
   */
  readonly names: readonly string[];
}

export interface SubRegister {
  base: string;
  shift: number;
  bits: number;
}

/** Sub-register names and how they map, e.g. eax -> { base: 'rax', shift: 0, bits: 32 }. */
export const SUBREGISTERS: Readonly<Record<string, Readonly<SubRegister>>> = (() => {
  const table: Record<string, SubRegister> = {};
  const add = (name: string, base: string, bits: number, shift = 0): void => {
    table[name] = Object.freeze({ base, shift, bits });
  };
  for (const x of ['a', 'b', 'c', 'd']) {
    const base = `r${x}x`;
    add(`e${x}x`, base, 32);
    add(`${x}x`, base, 16);
    add(`${x}l`, base, 8);
    add(`${x}h`, base, 8, 8);
  }
  for (const x of ['si', 'di', 'bp', 'sp']) {
    const base = `r${x}`;
    add(`e${x}`, base, 32);
    add(x, base, 16);
    add(`${x}l`, base, 8);
  }
  for (let n = 8; n <= 15; n++) {
    const base = `r${n}`;
    add(`${base}d`, base, 32);
    add(`${base}w`, base, 16);
    add(`${base}b`, base, 8);
    add(`${base}l`, base, 8);
  }
  add('eip', 'rip', 32);
  add('eflags', 'rflags', 32);
  return Object.freeze(table);
})();

/** How many compiled texts (or their syntax errors) compile() keeps, least recently used first out. */
export const COMPILE_CACHE_SIZE = 1024;

const cache = new Map<string, CompiledExpression | EvalError>();

/** Parses once per text (cached); throws EvalError, with position, on syntax errors. */
export function compile(text: string): CompiledExpression {
  let entry = cache.get(text);
  if (entry !== undefined) {
    cache.delete(text); // re-insert: Map order is the recency order
  } else {
    try {
      entry = build(text);
    } catch (e) {
      if (!(e instanceof EvalError)) throw e;
      // A condition with a syntax error may be tried at every hit; do not parse it every time.
      entry = e;
    }
    if (cache.size >= COMPILE_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(text, entry);
  if (entry instanceof EvalError) throw entry;
  return entry;
}

export function evaluate(text: string, ctx: EvalContext): bigint {
  return compile(text).evaluate(ctx);
}

/** '0x…' (lower case, no padding) or decimal, of the value as an unsigned 64-bit number. */
export function formatValue(v: bigint, hex: boolean): string {
  const u = BigInt.asUintN(64, v);
  return hex ? formatHex(u) : u.toString();
}

/**
 * For REPL completion: the identifier being typed at `column` (0-based) in `text`, and where it
 * starts. Only the part before `column` counts. The prefix keeps a leading `$` (complete registers
 * only) or an opening backquote (complete symbols only); it is empty where no name is being typed
 * (after an operator, inside a number).
 */
export function completionPrefix(text: string, column: number): { prefix: string; start: number } {
  const end = Math.max(0, Math.min(column, text.length));
  let quotes = 0;
  let lastQuote = -1;
  for (let i = 0; i < end; i++) {
    if (text[i] === '`') {
      quotes++;
      lastQuote = i;
    }
  }
  if (quotes % 2 === 1) return { prefix: text.slice(lastQuote, end), start: lastQuote };
  let start = end;
  while (start > 0 && /[A-Za-z0-9_.]/.test(text[start - 1]!)) start--;
  while (start < end && text[start] === '.') start++;
  if (start < end && /[0-9]/.test(text[start]!)) return { prefix: '', start: end };
  if (start > 0 && text[start - 1] === '$') start--;
  return { prefix: text.slice(start, end), start };
}

// ---- compilation to closures ---------------------------------------------------------------------

type Fn = (ctx: EvalContext) => bigint;

class Compiled implements CompiledExpression {
  constructor(
    readonly text: string,
    readonly names: readonly string[],
    private readonly run: Fn,
  ) {}

  evaluate(ctx: EvalContext): bigint {
    return this.run(ctx);
  }
}

function build(text: string): CompiledExpression {
  const names = new Set<string>();
  const run = closure(parse(text), text, names);
  return new Compiled(text, Object.freeze([...names]), run);
}

const wrap = (v: bigint): bigint => BigInt.asUintN(64, v);

function closure(node: Node, text: string, names: Set<string>): Fn {
  switch (node.kind) {
    case 'number': {
      const v = node.value;
      return () => v;
    }
    case 'name':
      names.add(node.name);
      return lookup(node);
    case 'read':
      return read(node, closure(node.address, text, names));
    case 'unary':
      return unary(node.operator, closure(node.argument, text, names));
    case 'binary':
      return binary(node, closure(node.left, text, names), closure(node.right, text, names), text);
    case 'conditional': {
      const test = closure(node.test, text, names);
      const yes = closure(node.consequent, text, names);
      const no = closure(node.alternate, text, names);
      return (ctx) => (test(ctx) !== 0n ? yes(ctx) : no(ctx));
    }
  }
}

/** An error thrown by the context, located at the node that called it; its message is kept. */
function located(e: unknown, position: number): EvalError {
  if (e instanceof EvalError) {
    e.position ??= position;
    return e;
  }
  return new EvalError(e instanceof Error ? e.message : String(e), { position, cause: e });
}

function lookup(node: NameNode): Fn {
  const { name, start } = node;
  const lower = name.toLowerCase();
  const sub = Object.hasOwn(SUBREGISTERS, lower) ? SUBREGISTERS[lower] : undefined;
  const register = (ctx: EvalContext): bigint | undefined => {
    const v = ctx.register(lower);
    if (v !== undefined) return wrap(v);
    if (sub === undefined) return undefined;
    const base = ctx.register(sub.base);
    return base === undefined ? undefined : BigInt.asUintN(sub.bits, wrap(base) >> BigInt(sub.shift));
  };
  switch (node.lookup) {
    case 'register':
      return (ctx) => {
        let v: bigint | undefined;
        try {
          v = register(ctx);
        } catch (e) {
          throw located(e, start);
        }
        if (v === undefined) throw new EvalError(`unknown register '$${name}'`, { position: start });
        return v;
      };
    case 'symbol':
      return (ctx) => {
        let v: bigint | undefined;
        try {
          v = ctx.symbol(name);
        } catch (e) {
          throw located(e, start);
        }
        if (v === undefined) throw new EvalError(`unknown symbol '${name}'`, { position: start });
        return wrap(v);
      };
    case 'any':
      return (ctx) => {
        let v: bigint | undefined;
        try {
          v = register(ctx) ?? ctx.variable?.(name) ?? ctx.symbol(name);
        } catch (e) {
          throw located(e, start);
        }
        if (v === undefined) throw new EvalError(`unknown name '${name}' (not a register, variable or symbol)`, { position: start });
        return wrap(v);
      };
  }
}

function read(node: ReadNode, address: Fn): Fn {
  const { width, start } = node;
  const bits = width * 8;
  // Mask what the context returns to the width read, then sign-extend for the i types.
  const finish: (v: bigint) => bigint = node.signed ? (v) => wrap(BigInt.asIntN(bits, v)) : (v) => BigInt.asUintN(bits, v);
  if (node.physical) {
    return (ctx) => {
      const addr = address(ctx);
      let v: bigint;
      try {
        v = ctx.readPhysical(addr, width);
      } catch (e) {
        throw located(e, start);
      }
      return finish(v);
    };
  }
  return (ctx) => {
    const addr = address(ctx);
    let v: bigint;
    try {
      v = ctx.readVirtual(addr, width);
    } catch (e) {
      throw located(e, start);
    }
    return finish(v);
  };
}

function unary(operator: UnaryOperator, a: Fn): Fn {
  switch (operator) {
    case '-':
      return (ctx) => wrap(-a(ctx));
    case '~':
      return (ctx) => wrap(~a(ctx));
    case '!':
      return (ctx) => (a(ctx) === 0n ? 1n : 0n);
    case '+':
      return a;
  }
}

function binary(node: BinaryNode, l: Fn, r: Fn, text: string): Fn {
  switch (node.operator) {
    case '*':
      return (ctx) => wrap(l(ctx) * r(ctx));
    case '/':
    case '%': {
      const divide = node.operator === '/';
      const message = node.right.kind === 'number' ? 'division by zero' : `division by zero: '${text.slice(node.right.start, node.right.end)}' is 0`;
      const position = node.operatorStart;
      return (ctx) => {
        const a = l(ctx);
        const b = r(ctx);
        if (b === 0n) throw new EvalError(message, { position });
        return divide ? a / b : a % b;
      };
    }
    case '+':
      return (ctx) => wrap(l(ctx) + r(ctx));
    case '-':
      return (ctx) => wrap(l(ctx) - r(ctx));
    // A count of 64 or more would only shift everything out (and a huge one would exhaust BigInt).
    case '<<':
      return (ctx) => {
        const a = l(ctx);
        const b = r(ctx);
        return b >= 64n ? 0n : wrap(a << b);
      };
    case '>>':
      return (ctx) => {
        const a = l(ctx);
        const b = r(ctx);
        return b >= 64n ? 0n : a >> b;
      };
    case '<':
      return (ctx) => (l(ctx) < r(ctx) ? 1n : 0n);
    case '<=':
      return (ctx) => (l(ctx) <= r(ctx) ? 1n : 0n);
    case '>':
      return (ctx) => (l(ctx) > r(ctx) ? 1n : 0n);
    case '>=':
      return (ctx) => (l(ctx) >= r(ctx) ? 1n : 0n);
    case '==':
      return (ctx) => (l(ctx) === r(ctx) ? 1n : 0n);
    case '!=':
      return (ctx) => (l(ctx) !== r(ctx) ? 1n : 0n);
    case '&':
      return (ctx) => l(ctx) & r(ctx);
    case '^':
      return (ctx) => l(ctx) ^ r(ctx);
    case '|':
      return (ctx) => l(ctx) | r(ctx);
    case '&&':
      return (ctx) => (l(ctx) !== 0n && r(ctx) !== 0n ? 1n : 0n);
    case '||':
      return (ctx) => (l(ctx) !== 0n || r(ctx) !== 0n ? 1n : 0n);
  }
}
