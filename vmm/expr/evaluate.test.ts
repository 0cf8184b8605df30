// Unit tests for what expressions evaluate to (evaluate.ts, parse.ts) against a fake EvalContext (fake-context.ts):
// numbers, C operators, names (registers, variables, symbols), sub-registers, memory reads and VM-exit conditions.
// Errors, the compile cache and the helpers around evaluation are in compile.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUBREGISTERS, evaluate, type EvalContext } from './evaluate';
import { FakeContext, MAX, empty, evaluationError, memoryContext, store, syntaxError } from './fake-context';

test('numbers: decimal, hex, octal, binary, separators, characters', () => {
  const cases: Array<[string, bigint]> = [
    ['42', 42n],
    ['0x3f8', 0x3f8n],
    ['0X3F8', 0x3f8n],
    ['0o755', 0o755n],
    ['0b1010', 10n],
    ['1_000_000', 1000000n],
    ['0xffff_ffff_8000_0000', 0xffffffff80000000n],
    ['0xffffffffffffffff', MAX],
    ['0', 0n],
    ["'A'", 65n],
    ["'\\n'", 10n],
    ["'\\x1b'", 0x1bn],
    ["'\\''", 39n],
    ["'\\\\'", 92n],
    ["' '", 32n],
  ];
  for (const [text, expected] of cases) assert.equal(evaluate(text, empty()), expected, text);
});

test('malformed numbers are syntax errors that name the text', () => {
  for (const bad of ['0x', '12ab', '1_', '1__0', '0x_1', '0b102', '0o8', '1.5']) {
    const e = syntaxError(bad);
    assert.match(e.message, new RegExp(`'${bad.replace('.', '\\.')}' is not a number`), bad);
    assert.equal(e.position, 0, bad);
  }
  assert.match(syntaxError('017').message, /'017' starts with 0.*0o17 for octal or 17 for decimal/);
  assert.match(syntaxError('0x1_0000_0000_0000_0000').message, /does not fit in 64 bits/);
  assert.match(syntaxError("'ab'").message, /invalid character literal/);
  assert.match(syntaxError("'").message, /invalid character literal/);
});

test('precedence and associativity follow C', () => {
  const cases: Array<[string, bigint]> = [
    ['1 + 2 * 3', 7n],
    ['(1 + 2) * 3', 9n],
    ['10 - 3 - 2', 5n],
    ['100 / 10 / 5', 2n],
    ['2 * 3 % 4', 2n],
    ['1 << 2 + 1', 8n],
    ['1 + 2 < 4', 1n],
    ['2 < 1 == 0', 1n],
    ['6 & 3 == 3', 0n], // == binds tighter than &: 6 & (3 == 3)
    ['1 | 2 ^ 3 & 1', 3n], // 1 | (2 ^ (3 & 1))
    ['0 || 1 && 0', 0n],
    ['1 || 0 && 0', 1n],
    ['-2 + 3', 1n],
    ['~0 >> 60', 15n],
    ['!0 + 1', 2n],
    ['- -5', 5n],
    ['1 ? 2 : 3 ? 4 : 5', 2n],
    ['0 ? 2 : 0 ? 4 : 5', 5n],
    ['1 + (0 ? 10 : 20)', 21n],
  ];
  for (const [text, expected] of cases) assert.equal(evaluate(text, empty()), expected, text);
});

test('arithmetic wraps modulo 2^64', () => {
  const cases: Array<[string, bigint]> = [
    ['0xffffffffffffffff + 1', 0n],
    ['0 - 1', MAX],
    ['-1', MAX],
    ['~0', MAX],
    ['-0', 0n],
    ['0x8000000000000000 * 2', 0n],
    ['0xffffffffffffffff * 0xffffffffffffffff', 1n],
    ['1 << 63 << 1', 0n],
    ['1 << 63', 0x8000000000000000n],
    ['0xff << 60', 0xf000000000000000n],
    ['1 << 64', 0n],
    ['1 << 0xffffffffffffffff', 0n],
    ['-1 >> 63', 1n],
    ['-1 >> 64', 0n],
  ];
  for (const [text, expected] of cases) assert.equal(evaluate(text, empty()), expected, text);
});

test('each operator', () => {
  const cases: Array<[string, bigint]> = [
    ['-5', MAX - 4n],
    ['~0xf0', MAX ^ 0xf0n],
    ['!0', 1n],
    ['!7', 0n],
    ['+7', 7n],
    ['6 * 7', 42n],
    ['7 / 2', 3n],
    ['-1 / 2', MAX / 2n], // unsigned division
    ['7 % 3', 1n],
    ['7 + 8', 15n],
    ['7 - 8', MAX],
    ['3 << 4', 48n],
    ['48 >> 4', 3n],
    ['1 < 2', 1n],
    ['2 < 2', 0n],
    ['2 <= 2', 1n],
    ['3 <= 2', 0n],
    ['3 > 2', 1n],
    ['2 > 2', 0n],
    ['2 >= 2', 1n],
    ['1 >= 2', 0n],
    ['-1 > 0', 1n], // unsigned comparison
    ['5 == 5', 1n],
    ['5 == 6', 0n],
    ['5 != 6', 1n],
    ['5 != 5', 0n],
    ['0b1100 & 0b1010', 0b1000n],
    ['0b1100 ^ 0b1010', 0b0110n],
    ['0b1100 | 0b1010', 0b1110n],
    ['2 && 3', 1n],
    ['2 && 0', 0n],
    ['0 || 5', 1n],
    ['0 || 0', 0n],
    ['7 ? 8 : 9', 8n],
    ['0 ? 8 : 9', 9n],
  ];
  for (const [text, expected] of cases) assert.equal(evaluate(text, empty()), expected, text);
});

test('&&, || and ?: evaluate only what they need', () => {
  const ctx = empty(); // no memory mapped: any read would throw
  assert.equal(evaluate('0 && *0x10', ctx), 0n);
  assert.equal(evaluate('1 || u8[0x10]', ctx), 1n);
  assert.equal(evaluate('1 ? 5 : *0x10', ctx), 5n);
  assert.equal(evaluate('0 ? *0x10 : 6', ctx), 6n);
  assert.deepEqual(ctx.reads, []);
  assert.match(evaluationError('1 && *0x10', ctx).message, /page not mapped/);
});

test('a bare name is a register, else a variable, else a symbol', () => {
  const ctx = new FakeContext({
    registers: { rax: 1n },
    variables: { rax: 2n, port: 0x3f8n },
    symbols: { rax: 3n, port: 4n, main: 0x400000n },
  });
  assert.equal(evaluate('rax', ctx), 1n);
  assert.equal(evaluate('port', ctx), 0x3f8n);
  assert.equal(evaluate('main', ctx), 0x400000n);
  // A context without variable() goes straight to symbols.
  const noVariables: EvalContext = {
    register: (n) => ctx.register(n),
    symbol: (n) => ctx.symbol(n),
    readVirtual: (a, w) => ctx.readVirtual(a, w),
    readPhysical: (a, w) => ctx.readPhysical(a, w),
  };
  assert.equal(evaluate('port', noVariables), 4n);
});

test('register names ignore case and are asked for in lower case; other names keep their case', () => {
  const ctx = new FakeContext({ registers: { rip: 0x1000n, rax: 0xabcdn }, symbols: { Main: 5n } });
  assert.equal(evaluate('RIP', ctx), 0x1000n);
  assert.equal(evaluate('$RiP', ctx), 0x1000n);
  assert.equal(evaluate('EAX', ctx), 0xabcdn);
  assert.equal(evaluate('Main', ctx), 5n);
  assert.ok(ctx.registerQueries.every((n) => n === n.toLowerCase()));
  assert.match(evaluationError('main', ctx).message, /unknown name 'main'/);
});

test('$ forces a register and backquotes force a symbol', () => {
  const ctx = new FakeContext({
    registers: { rax: 1n },
    variables: { port: 0x3f8n },
    symbols: { rax: 3n, 'foo.part.0': 0x5000n, 'memcpy@plt': 0x6000n, u32: 0x7000n },
  });
  assert.equal(evaluate('$rax', ctx), 1n);
  assert.equal(evaluate('`rax`', ctx), 3n);
  assert.equal(evaluate('`memcpy@plt` + 1', ctx), 0x6001n);
  assert.equal(evaluate('`u32`', ctx), 0x7000n);
  const e = evaluationError('$port', ctx);
  assert.equal(e.message, "unknown register '$port'");
  assert.equal(e.position, 0);
  const s = evaluationError('1 + `port`', ctx);
  assert.equal(s.message, "unknown symbol 'port'");
  assert.equal(s.position, 4);
});

test('bare names may contain dots', () => {
  const ctx = new FakeContext({ symbols: { 'foo.part.0': 0x5000n, 'bar.cold': 0x10n } });
  assert.equal(evaluate('foo.part.0 + bar.cold', ctx), 0x5010n);
  assert.equal(evaluate('`foo.part.0`', ctx), 0x5000n);
});

test('sub-registers read bits of the 64-bit register', () => {
  const ctx = new FakeContext({
    registers: {
      rax: 0x1122334455667788n,
      rsi: 0xa1a2a3a4a5a6a7a8n,
      r8: 0xf1f2f3f4f5f6f7f8n,
      r15: 0x0102030405060708n,
      rip: 0xffffffff81000010n,
      rflags: 0x0000000100000246n,
    },
  });
  const cases: Array<[string, bigint]> = [
    ['eax', 0x55667788n],
    ['ax', 0x7788n],
    ['al', 0x88n],
    ['ah', 0x77n],
    ['esi', 0xa5a6a7a8n],
    ['si', 0xa7a8n],
    ['sil', 0xa8n],
    ['r8d', 0xf5f6f7f8n],
    ['r8w', 0xf7f8n],
    ['r8b', 0xf8n],
    ['r8l', 0xf8n],
    ['r15d', 0x05060708n],
    ['eip', 0x81000010n],
    ['eflags', 0x246n],
    ['$eax', 0x55667788n],
    ['$ah + 1', 0x78n],
  ];
  for (const [text, expected] of cases) assert.equal(evaluate(text, ctx), expected, text);
  assert.match(evaluationError('ebx', ctx).message, /unknown name 'ebx'/); // rbx unknown to this context
});

test('a register the context knows by itself wins over the derived sub-register', () => {
  const ctx = new FakeContext({ registers: { rax: 0x1122334455667788n, eax: 42n } });
  assert.equal(evaluate('eax', ctx), 42n);
  assert.equal(evaluate('ax', ctx), 0x7788n);
});

test('the SUBREGISTERS table', () => {
  assert.deepEqual({ ...SUBREGISTERS['eax'] }, { base: 'rax', shift: 0, bits: 32 });
  assert.deepEqual({ ...SUBREGISTERS['ah'] }, { base: 'rax', shift: 8, bits: 8 });
  assert.deepEqual({ ...SUBREGISTERS['dil'] }, { base: 'rdi', shift: 0, bits: 8 });
  assert.deepEqual({ ...SUBREGISTERS['sp'] }, { base: 'rsp', shift: 0, bits: 16 });
  assert.deepEqual({ ...SUBREGISTERS['r12w'] }, { base: 'r12', shift: 0, bits: 16 });
  assert.deepEqual({ ...SUBREGISTERS['r9b'] }, { base: 'r9', shift: 0, bits: 8 });
  assert.equal(SUBREGISTERS['rax'], undefined);
  assert.equal(SUBREGISTERS['sih'], undefined);
  assert.ok(Object.isFrozen(SUBREGISTERS));
  // Every entry names a 64-bit base and fits in it.
  for (const [name, sub] of Object.entries(SUBREGISTERS)) {
    assert.ok(sub.shift + sub.bits <= 64, name);
    assert.ok(/^r/.test(sub.base), name);
  }
});

test('C-style cast dereference in every width', () => {
  const ctx = memoryContext();
  assert.equal(evaluate('*(u8*)rsp', ctx), 0x11n);
  assert.equal(evaluate('*(u16*)rsp', ctx), 0x2211n);
  assert.equal(evaluate('*(u32*)rsp', ctx), 0x44332211n);
  assert.equal(evaluate('*(u64*)rsp', ctx), 0x8877665544332211n);
  assert.equal(evaluate('* ( u16 * ) rsp', ctx), 0x2211n);
  assert.equal(evaluate('*rsp', ctx), 0x8877665544332211n);
  assert.deepEqual(
    ctx.reads.map((r) => r.width),
    [1, 2, 4, 8, 2, 8],
  );
  assert.ok(ctx.reads.every((r) => r.space === 'virtual' && r.addr === 0x1000n));
});

test('bracket reads in every width', () => {
  const ctx = memoryContext();
  assert.equal(evaluate('u8[rsp + 1]', ctx), 0x22n);
  assert.equal(evaluate('u16[rsp]', ctx), 0x2211n);
  assert.equal(evaluate('u32[rsp + 4]', ctx), 0x88776655n);
  assert.equal(evaluate('u64[0x1008]', ctx), 0xf0e0d0c0b0a09080n);
  assert.equal(evaluate('u32 [ rsp ]', ctx), 0x44332211n);
  assert.deepEqual(
    ctx.reads.map((r) => [r.addr, r.width]),
    [
      [0x1001n, 1],
      [0x1000n, 2],
      [0x1004n, 4],
      [0x1008n, 8],
      [0x1000n, 4],
    ],
  );
});

test('a read binds like a unary operator; reads nest', () => {
  const ctx = memoryContext();
  assert.equal(evaluate('*(u8*)rsp + 1', ctx), 0x12n); // read, then add
  assert.equal(evaluate('*(u8*)(rsp + 1)', ctx), 0x22n);
  assert.equal(evaluate('*(u8*)*(u64*)rbx', ctx), 0x80n); // rbx -> 0x1008 -> 0x80
  assert.equal(evaluate('**rbx', ctx), 0xf0e0d0c0b0a09080n);
  assert.equal(evaluate('u8[u64[rbx] + 1]', ctx), 0x90n);
  assert.equal(evaluate('2**(u8*)rsp', ctx), 0x22n); // as in C: 2 * *(u8*)rsp
  assert.equal(evaluate('-*(u8*)rsp', ctx), MAX - 0x10n);
});

test('signed types sign-extend to 64 bits', () => {
  const ctx = memoryContext();
  store(ctx.virtualMemory, 0x4000n, 0x80n, 1);
  store(ctx.virtualMemory, 0x4001n, 0x7fn, 1);
  store(ctx.virtualMemory, 0x4010n, 0x8000n, 2);
  store(ctx.virtualMemory, 0x4020n, 0x80000000n, 4);
  store(ctx.virtualMemory, 0x4030n, 0x8000000000000000n, 8);
  store(ctx.virtualMemory, 0x4040n, 0x7fffffffn, 4);
  assert.equal(evaluate('i8[0x4000]', ctx), 0xffffffffffffff80n);
  assert.equal(evaluate('*(i8*)0x4000', ctx), 0xffffffffffffff80n);
  assert.equal(evaluate('u8[0x4000]', ctx), 0x80n);
  assert.equal(evaluate('i8[0x4001]', ctx), 0x7fn);
  assert.equal(evaluate('i16[0x4010]', ctx), 0xffffffffffff8000n);
  assert.equal(evaluate('i32[0x4020]', ctx), 0xffffffff80000000n);
  assert.equal(evaluate('i32[0x4040]', ctx), 0x7fffffffn);
  assert.equal(evaluate('i64[0x4030]', ctx), 0x8000000000000000n);
  assert.equal(evaluate('i8[0x4000] + 0x80', ctx), 0n); // -128 + 128, wrapped
  assert.equal(evaluate('i8[0x4000] < 0', ctx), 0n); // comparisons stay unsigned
});

test('a context that returns more bits than asked for is masked to the width', () => {
  const ctx: EvalContext = {
    register: () => undefined,
    symbol: () => undefined,
    readVirtual: () => 0x1234_5678_9abc_def0n,
    readPhysical: () => -1n,
  };
  assert.equal(evaluate('u8[0]', ctx), 0xf0n);
  assert.equal(evaluate('i16[0]', ctx), 0xffffffffffffdef0n);
  assert.equal(evaluate('u32[gpa:0]', ctx), 0xffffffffn);
});

test('gpa: reads go to readPhysical, in every form', () => {
  const ctx = memoryContext();
  assert.equal(evaluate('u32[gpa:0x1000]', ctx), 0xcafef00dn);
  assert.equal(evaluate('*(u64*)gpa:0x1000', ctx), 0xdeadbeefcafef00dn);
  assert.equal(evaluate('*(u16*) gpa:rsp', ctx), 0xf00dn);
  assert.equal(evaluate('*gpa:0x1008', ctx), 0x0123456789abcdefn);
  assert.equal(evaluate('u8[gpa:0x1000 + 8]', ctx), 0xefn); // the whole bracket is the address
  assert.equal(evaluate('*(u8*)gpa:0x1000 + 8', ctx), 0x15n); // read, then add
  assert.equal(evaluate('i8[ gpa:0x1000 + 3]', ctx), 0xffffffffffffffcan); // byte 0xca
  assert.deepEqual(
    ctx.reads.map((r) => [r.space, r.addr, r.width]),
    [
      ['physical', 0x1000n, 4],
      ['physical', 0x1000n, 8],
      ['physical', 0x1000n, 2],
      ['physical', 0x1008n, 8],
      ['physical', 0x1008n, 1],
      ['physical', 0x1000n, 1],
      ['physical', 0x1003n, 1],
    ],
  );
});

test('gpa is an ordinary name outside the gpa: prefix', () => {
  const ctx = memoryContext();
  assert.equal(evaluate('gpa >= 0x3000', ctx), 1n);
  assert.equal(evaluate('u8[gpa]', ctx), 0x42n);
  assert.equal(evaluate('1 ? *gpa : 0', ctx), 0x42n);
  assert.deepEqual(
    ctx.reads.map((r) => [r.space, r.addr]),
    [
      ['virtual', 0x3000n],
      ['virtual', 0x3000n],
    ],
  );
});

test('VM-exit conditions', () => {
  const exit = new FakeContext({ registers: { rax: 0n }, variables: { port: 0x3f8n, write: 1n, size: 1n } });
  assert.equal(evaluate('port == 0x3f8 && write', exit), 1n);
  assert.equal(evaluate('port == 0x3f8 && !write', exit), 0n);
  assert.equal(evaluate('size == 4', exit), 0n);
  const mmio = new FakeContext({ variables: { gpa: 0xd0000010n, msr: 0xc0000080n } });
  assert.equal(evaluate('gpa >= 0xd0000000', mmio), 1n);
  assert.equal(evaluate('msr == 0xc0000080', mmio), 1n);
});
