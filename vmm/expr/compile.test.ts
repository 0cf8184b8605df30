// Unit tests for compiling expressions and for what goes wrong (evaluate.ts, parse.ts): syntax errors and
// evaluation errors with their messages and 0-based positions, the compile cache, the names an expression looks up,
// and the helpers around evaluation (formatValue, completionPrefix, the jsep hooks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsep from 'jsep';
import { COMPILE_CACHE_SIZE, EvalError, compile, completionPrefix, evaluate, formatValue, type EvalContext } from './evaluate';
import { FakeContext, MAX, evaluationError, memoryContext, syntaxError } from './fake-context';

test('syntax errors give a readable message and the 0-based position', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['1 +', /^expected an operand after '\+' at column 4$/, 3],
    ['1 + *', /^expected an address after '\*' at column 6$/, 5],
    ['(1 + 2', /^expected '\)' at column 7; close the '\(' at column 1$/, 6],
    ['u32[1', /^expected '\]' at column 6; close the '\[' at column 4$/, 5],
    ['u32[]', /^expected an address before '\]'/, 4],
    ['rax = 1', /^unexpected '=' at column 5; to compare, write '=='$/, 4],
    ['1 @ 2', /^unexpected '@' at column 3$/, 2],
    ['1 2', /^unexpected '2' at column 3$/, 2],
    ['1, 2', /^unexpected ','/, 1],
    ['(1))', /^unexpected '\)' at column 4$/, 3],
    ['foo(1)', /^unexpected '\(' at column 4; there are no function calls$/, 3],
    ['rax[1]', /^unexpected '\[' at column 4; only a memory type is indexed/, 3],
    ['"foo"', /^unexpected '"'.*backquotes/, 0],
    ['&main', /^unexpected '&'.*address-of/, 0],
    ['.Lloop', /^unexpected '\.'.*`\.Lloop`/, 0],
    ['gpa:0x1000', /^unexpected ':'.*'gpa:' goes right after/, 3],
    ['`abc', /^unclosed '`' at column 1/, 0],
    ['``', /^empty name between backquotes/, 0],
    ['1 + $', /^expected a register name after '\$' at column 6$/, 5],
    ['*(u128*)rsp', /^unknown type 'u128' at column 3; the types are u8 u16 u32 u64 i8 i16 i32 i64$/, 2],
    ['(u32*)rsp', /^'\(u32\*\)' needs a '\*' before it.*\*\(u32\*\)ADDR/, 0],
    ['1 + (u32)rax', /^'\(u32\)' is a value cast/, 4],
    ['a === b', /^operator '===' is not supported at column 3; write '=='$/, 2],
    ['a !== b', /^operator '!==' is not supported.*write '!='$/, 2],
    ['a >>> 1', /^operator '>>>' is not supported/, 2],
    ['a ?? b', /^operator '\?\?' is not supported/, 2],
    ['a ? b', /^expected ':'/, 5],
    ['-', /^expected an operand after '-' at column 2$/, 1],
    ['', /^empty expression$/, 0],
    ['   ', /^empty expression$/, 0],
  ];
  for (const [text, message, position] of cases) {
    const e = syntaxError(text);
    assert.match(e.message, message, text);
    assert.equal(e.position, position, text);
  }
});

test('what looks like a value cast is still fine as a parenthesised name', () => {
  const ctx = new FakeContext({ variables: { u32: 5n } });
  assert.equal(evaluate('(u32) + 1', ctx), 6n);
  assert.equal(evaluate('u32 * 2', ctx), 10n);
});

test('an unknown name is an evaluation error that names it', () => {
  const ctx = new FakeContext({ registers: { rax: 1n } });
  const compiled = compile('rax + nosuchthing'); // compiles: names are resolved at evaluation
  const e = evaluationError(compiled.text, ctx);
  assert.equal(e.message, "unknown name 'nosuchthing' (not a register, variable or symbol)");
  assert.equal(e.position, 6);
});

test("the context's memory errors reach the user unchanged, with a position", () => {
  const ctx = memoryContext();
  const e = evaluationError('1 + u32[0xdead0000]', ctx);
  assert.equal(e.message, 'cannot read 4 bytes at 0xdead0000: page not mapped');
  assert.equal(e.position, 4);
  const p = evaluationError('*(u64*)gpa:0x9000', ctx);
  assert.equal(p.message, 'cannot read 8 bytes at 0x9000: page not mapped');
  assert.equal(p.position, 0);
  // A position the context set itself is kept.
  const own = new EvalError('own', { position: 99 });
  const thrower: EvalContext = {
    register: () => 1n,
    symbol: () => undefined,
    readVirtual: () => {
      throw own;
    },
    readPhysical: () => 0n,
  };
  assert.equal(evaluationError('*rax', thrower).position, 99);
});

test('other errors from the context become EvalErrors that keep the message and the cause', () => {
  const cause = new Error('vCPU 1 is running');
  const ctx: EvalContext = {
    register: () => {
      throw cause;
    },
    symbol: () => undefined,
    readVirtual: () => 0n,
    readPhysical: () => 0n,
  };
  const e = evaluationError('2 + rax', ctx);
  assert.equal(e.message, 'vCPU 1 is running');
  assert.equal(e.cause, cause);
  assert.equal(e.position, 4);
});

test('division by zero is an error at the operator', () => {
  const ctx = new FakeContext({ registers: { rax: 5n } });
  const d = evaluationError('rax / (rax - rax)', ctx);
  assert.equal(d.message, "division by zero: '(rax - rax)' is 0");
  assert.equal(d.position, 4);
  const m = evaluationError('1 + rax % 0', ctx);
  assert.equal(m.message, 'division by zero');
  assert.equal(m.position, 8);
  assert.equal(evaluate('rax / 1', ctx), 5n);
});

test('compile caches by text and evaluate reuses the cache', () => {
  let parses = 0;
  // Counts jsep's work: every parse skips whitespace at least once.
  jsep.hooks.add('gobble-spaces', () => {
    parses++;
  });
  const text = 'rax + 0x1234 * 2 + 0';
  const ctx = new FakeContext({ registers: { rax: 1n } });
  const first = compile(text);
  const afterFirst = parses;
  assert.ok(afterFirst > 0);
  assert.equal(compile(text), first);
  for (let i = 0; i < 100; i++) assert.equal(evaluate(text, ctx), 0x2469n);
  assert.equal(parses, afterFirst, 'evaluate() parsed again');
  assert.notEqual(compile(text + ' '), first);
  // Syntax errors are cached too: a bad breakpoint condition is not re-parsed at every hit.
  const bad = 'rax + + +';
  const e1 = syntaxError(bad);
  const afterBad = parses;
  assert.equal(syntaxError(bad), e1);
  assert.equal(parses, afterBad);
});

test('the cache forgets the least recently used text', () => {
  const kept = compile('1 + 1');
  const dropped = compile('2 + 2');
  for (let i = 0; i < COMPILE_CACHE_SIZE; i++) {
    compile(`${i} + 1000000`);
    if (i % 100 === 0) compile('1 + 1'); // keep it recent
  }
  assert.equal(compile('1 + 1'), kept);
  assert.notEqual(compile('2 + 2'), dropped);
});

test('names lists each looked-up name once, in order, without $ or backquotes', () => {
  assert.deepEqual(compile('rax + $rbx + `sym.1` + port + u32[gpa:p] + *(i8*)q + rax + gpa').names, [
    'rax',
    'rbx',
    'sym.1',
    'port',
    'p',
    'q',
    'gpa',
  ]);
  assert.deepEqual(compile('1 + u8[0x10]').names, []);
  assert.ok(Object.isFrozen(compile('rax').names));
  assert.equal(compile('  rax ').text, '  rax ');
});

test('formatValue', () => {
  assert.equal(formatValue(0n, true), '0x0');
  assert.equal(formatValue(0x3f8n, true), '0x3f8');
  assert.equal(formatValue(MAX, true), '0xffffffffffffffff');
  assert.equal(formatValue(MAX, false), '18446744073709551615');
  assert.equal(formatValue(1016n, false), '1016');
  assert.equal(formatValue(-1n, true), '0xffffffffffffffff'); // shown as the 64-bit value
});

test('completionPrefix finds the name being typed', () => {
  assert.deepEqual(completionPrefix('rax + rb', 8), { prefix: 'rb', start: 6 });
  assert.deepEqual(completionPrefix('rax + rb', 7), { prefix: 'r', start: 6 });
  assert.deepEqual(completionPrefix('ra', 2), { prefix: 'ra', start: 0 });
  assert.deepEqual(completionPrefix('1 + $ra', 7), { prefix: '$ra', start: 4 });
  assert.deepEqual(completionPrefix('`foo.pa', 7), { prefix: '`foo.pa', start: 0 });
  assert.deepEqual(completionPrefix('`a` + foo.pa', 12), { prefix: 'foo.pa', start: 6 });
  assert.deepEqual(completionPrefix('u32[gpa:', 8), { prefix: '', start: 8 });
  assert.deepEqual(completionPrefix('rax + 0x1f', 10), { prefix: '', start: 10 });
  assert.deepEqual(completionPrefix('*(u64*)r8', 9), { prefix: 'r8', start: 7 });
  assert.deepEqual(completionPrefix('rax + ', 6), { prefix: '', start: 6 });
  assert.deepEqual(completionPrefix('', 0), { prefix: '', start: 0 });
  assert.deepEqual(completionPrefix('rip', 99), { prefix: 'rip', start: 0 });
});

test('the jsep hooks act only on our parses', () => {
  // Another jsep user in the process still gets jsep's own JavaScript syntax.
  const member = jsep('a.b') as jsep.MemberExpression;
  assert.equal(member.type, 'MemberExpression');
  assert.equal((jsep('$x') as jsep.Identifier).name, '$x');
});
