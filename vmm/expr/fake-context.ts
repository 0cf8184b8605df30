// A fake EvalContext for the expression tests: registers, variables and symbols in maps, and byte-addressed
// virtual and physical memory that records every read; with helpers that expect a syntax or evaluation error.
// Shared by evaluate.test.ts and compile.test.ts (not itself a test).

import { hex } from '../../common/address';
import assert from 'node:assert/strict';
import { EvalError, compile, type EvalContext, type Width } from './evaluate';

export interface Read {
  space: 'virtual' | 'physical';
  addr: bigint;
  width: Width;
}

export interface FakeInit {
  registers?: Record<string, bigint>;
  variables?: Record<string, bigint>;
  symbols?: Record<string, bigint>;
}

export class FakeContext implements EvalContext {
  readonly registers: Map<string, bigint>;
  readonly variables: Map<string, bigint>;
  readonly symbols: Map<string, bigint>;
  readonly virtualMemory = new Map<bigint, number>();
  readonly physicalMemory = new Map<bigint, number>();
  readonly reads: Read[] = [];
  readonly registerQueries: string[] = [];

  constructor(init: FakeInit = {}) {
    this.registers = new Map(Object.entries(init.registers ?? {}));
    this.variables = new Map(Object.entries(init.variables ?? {}));
    this.symbols = new Map(Object.entries(init.symbols ?? {}));
  }

  register(name: string): bigint | undefined {
    this.registerQueries.push(name);
    return this.registers.get(name);
  }
  variable(name: string): bigint | undefined {
    return this.variables.get(name);
  }
  symbol(name: string): bigint | undefined {
    return this.symbols.get(name);
  }
  readVirtual(addr: bigint, width: Width): bigint {
    this.reads.push({ space: 'virtual', addr, width });
    return load(this.virtualMemory, addr, width);
  }
  readPhysical(addr: bigint, width: Width): bigint {
    this.reads.push({ space: 'physical', addr, width });
    return load(this.physicalMemory, addr, width);
  }
}

function load(memory: Map<bigint, number>, addr: bigint, width: Width): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) {
    const b = memory.get(addr + BigInt(i));
    if (b === undefined) throw new EvalError(`cannot read ${width} bytes at ${hex(addr)}: page not mapped`);
    v = (v << 8n) | BigInt(b);
  }
  return v;
}

export function store(memory: Map<bigint, number>, addr: bigint, value: bigint, width: number): void {
  for (let i = 0; i < width; i++) memory.set(addr + BigInt(i), Number((value >> BigInt(8 * i)) & 0xffn));
}

export const empty = (): FakeContext => new FakeContext();

export function syntaxError(text: string): EvalError {
  try {
    compile(text);
  } catch (e) {
    assert.ok(e instanceof EvalError, `expected an EvalError for ${JSON.stringify(text)}, got ${String(e)}`);
    return e;
  }
  return assert.fail(`expected a syntax error for ${JSON.stringify(text)}`);
}

export function evaluationError(text: string, ctx: EvalContext): EvalError {
  const compiled = compile(text); // must compile: this is about evaluation
  try {
    compiled.evaluate(ctx);
  } catch (e) {
    assert.ok(e instanceof EvalError, `expected an EvalError for ${JSON.stringify(text)}, got ${String(e)}`);
    return e;
  }
  return assert.fail(`expected ${JSON.stringify(text)} to fail`);
}

export const MAX = 0xffff_ffff_ffff_ffffn;

/** Memory the read tests share: values at 0x1000 and 0x1008 (virtual and physical), a pointer at 0x2000 and a `gpa` variable. */
export function memoryContext(): FakeContext {
  const ctx = new FakeContext({ registers: { rsp: 0x1000n, rbx: 0x2000n }, variables: { gpa: 0x3000n } });
  store(ctx.virtualMemory, 0x1000n, 0x8877665544332211n, 8);
  store(ctx.virtualMemory, 0x1008n, 0xf0e0d0c0b0a09080n, 8);
  store(ctx.virtualMemory, 0x2000n, 0x1008n, 8);
  store(ctx.virtualMemory, 0x3000n, 0x42n, 8);
  store(ctx.physicalMemory, 0x1000n, 0xdeadbeefcafef00dn, 8);
  store(ctx.physicalMemory, 0x1008n, 0x0123456789abcdefn, 8);
  return ctx;
}
