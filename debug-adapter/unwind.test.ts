// Unit tests for the frame-pointer unwinder over synthetic stacks in a Map-backed memory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unwind, type Frame, type UnwindInput } from './unwind';

/** Word-addressed fake memory: only the addresses that were set are readable. */
class Memory {
  readonly words = new Map<bigint, bigint>();
  readonly reads: bigint[] = [];
  set(addr: bigint, value: bigint): this {
    this.words.set(addr, value);
    return this;
  }
  readWord = (addr: bigint): bigint | undefined => {
    this.reads.push(addr);
    return this.words.get(addr);
  };
}

// Code lives in [0x1000, 0x3000); functions are 0x100 apart and start with `push rbp` (0x55).
const CODE_LO = 0x1000n;
const CODE_HI = 0x3000n;
const isCode = (a: bigint): boolean => a >= CODE_LO && a < CODE_HI;
const functionStart = (pc: bigint): bigint | undefined => (isCode(pc) ? pc & ~0xffn : undefined);

function input(mem: Memory, regs: { pc: bigint; sp: bigint; fp: bigint }, extra: Partial<UnwindInput> = {}): UnwindInput {
  return { ...regs, wordSize: 8, readWord: mem.readWord, isCode, functionStart, ...extra };
}

/**
 * leaf (frame 0, pc 0x1510) <- mid (ret 0x1420) <- top (ret 0x1330), 64-bit.
 * Each frame record is [fp] = caller's fp, [fp+8] = return address.
 */
function threeDeep(): Memory {
  return new Memory()
    .set(0x7f80n, 0x7fc0n)
    .set(0x7f88n, 0x1420n) // leaf's record: mid's fp, return into mid
    .set(0x7fc0n, 0x7ff0n)
    .set(0x7fc8n, 0x1330n) // mid's record: top's fp, return into top
    .set(0x7ff0n, 0x8010n)
    .set(0x7ff8n, 0n); // top's record: a plausible fp, but return address 0 ends the walk
}

const pcs = (frames: Frame[]): bigint[] => frames.map((f) => f.pc);

test('walks a 3-deep frame-pointer chain and stops at a zero return address', () => {
  const frames = unwind(input(threeDeep(), { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }));
  assert.deepEqual(frames, [
    { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n, via: 'frame-pointer' },
    { pc: 0x1420n, sp: 0x7f90n, fp: 0x7fc0n, via: 'frame-pointer' },
    { pc: 0x1330n, sp: 0x7fd0n, fp: 0x7ff0n, via: 'frame-pointer' },
  ]);
});

test('a caller whose saved fp is 0 is the outermost frame', () => {
  // _start did `xor ebp, ebp; call top`: top's record holds fp 0 and a return into _start.
  const mem = threeDeep().set(0x7ff0n, 0n).set(0x7ff8n, 0x1240n).set(0n, 0x7f00n).set(8n, 0x1100n);
  const frames = unwind(input(mem, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }));
  assert.deepEqual(pcs(frames), [0x1510n, 0x1420n, 0x1330n, 0x1240n]);
  assert.equal(frames[3]!.fp, 0n);
  assert.ok(!mem.reads.includes(0n), 'must not follow fp 0 into low memory');
});

test('stops at a corrupt saved fp without emitting the frame it describes', () => {
  const cases: [string, bigint][] = [
    ['misaligned', 0x7ff3n],
    ['below the current fp', 0x7f00n],
    ['equal to the current fp', 0x7fc0n],
    ['inside the return slot', 0x7fc8n],
  ];
  for (const [why, bad] of cases) {
    const mem = threeDeep().set(0x7fc0n, bad);
    const frames = unwind(input(mem, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }));
    assert.deepEqual(pcs(frames), [0x1510n, 0x1420n], why);
  }
});

test('stops at a misaligned fp or sp in frame 0, and at fp 0', () => {
  // The misaligned slots hold a plausible record, so only the alignment check stops the walk.
  const skewed = threeDeep().set(0x7f84n, 0x7fc0n).set(0x7f8cn, 0x1420n).set(0x7f5cn, 0x1420n).set(0x7f4cn, 0x7fc0n).set(0x7f54n, 0x1420n);
  assert.deepEqual(pcs(unwind(input(skewed, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f84n }))), [0x1510n]);
  assert.deepEqual(pcs(unwind(input(skewed, { pc: 0x1500n, sp: 0x7f5cn, fp: 0x7fc0n }))), [0x1500n]); // entry
  assert.deepEqual(pcs(unwind(input(skewed, { pc: 0x1501n, sp: 0x7f4cn, fp: 0x7fc0n }))), [0x1501n]); // prologue
  const mem = threeDeep().set(0n, 0x7fc0n).set(8n, 0x1420n);
  assert.deepEqual(pcs(unwind(input(mem, { pc: 0x1510n, sp: 0x7f60n, fp: 0n }))), [0x1510n]);
});

test('stops at a return address that is not in code, or unreadable memory', () => {
  const notCode = threeDeep().set(0x7fc8n, 0x9000n);
  assert.deepEqual(pcs(unwind(input(notCode, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }))), [0x1510n, 0x1420n]);

  const unreadableRet = threeDeep();
  unreadableRet.words.delete(0x7fc8n);
  assert.deepEqual(pcs(unwind(input(unreadableRet, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }))), [0x1510n, 0x1420n]);

  const unreadableFp = threeDeep();
  unreadableFp.words.delete(0x7fc0n);
  assert.deepEqual(pcs(unwind(input(unreadableFp, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }))), [0x1510n, 0x1420n]);
});

test('accepts a return address just past the end of code (a noreturn call at the very end)', () => {
  const mem = threeDeep().set(0x7fc8n, CODE_HI);
  assert.deepEqual(pcs(unwind(input(mem, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }))), [0x1510n, 0x1420n, CODE_HI]);
});

test('frame 0 at function entry: return address at [sp], caller fp is the current fp', () => {
  // leaf was just called from mid: [sp] = return into mid, rbp is still mid's 0x7fc0.
  const mem = threeDeep().set(0x7f58n, 0x1420n);
  const frames = unwind(input(mem, { pc: 0x1500n, sp: 0x7f58n, fp: 0x7fc0n }));
  assert.deepEqual(frames, [
    { pc: 0x1500n, sp: 0x7f58n, fp: 0x7fc0n, via: 'entry' },
    { pc: 0x1420n, sp: 0x7f60n, fp: 0x7fc0n, via: 'frame-pointer' },
    { pc: 0x1330n, sp: 0x7fd0n, fp: 0x7ff0n, via: 'frame-pointer' },
  ]);
});

test('frame 0 right after push rbp: return address at [sp+8], caller fp at [sp]', () => {
  // After `push rbp`: [sp] = mid's fp 0x7fc0, [sp+8] = return into mid; rbp still 0x7fc0.
  const mem = threeDeep().set(0x7f50n, 0x7fc0n).set(0x7f58n, 0x1420n);
  const frames = unwind(input(mem, { pc: 0x1501n, sp: 0x7f50n, fp: 0x7fc0n }));
  assert.deepEqual(frames, [
    { pc: 0x1501n, sp: 0x7f50n, fp: 0x7fc0n, via: 'prologue' },
    { pc: 0x1420n, sp: 0x7f60n, fp: 0x7fc0n, via: 'frame-pointer' },
    { pc: 0x1330n, sp: 0x7fd0n, fp: 0x7ff0n, via: 'frame-pointer' },
  ]);
  // Without symbols the prologue cannot be recognised, and the chain rule skips mid.
  const noSymbols = unwind(input(mem, { pc: 0x1501n, sp: 0x7f50n, fp: 0x7fc0n }, { functionStart: undefined }));
  assert.equal(noSymbols[0]!.via, 'frame-pointer');
  assert.deepEqual(pcs(noSymbols), [0x1501n, 0x1330n]);
});

test('prologue detection reads the code when it can: endbr64, no push rbp, stopped on ret', () => {
  const stack = (): Memory => threeDeep().set(0x7f50n, 0x7fc0n).set(0x7f58n, 0x1420n);
  // f3 0f 1e fa 55 ...: endbr64; push rbp. pc at the push is still entry, after it is the prologue.
  const endbr = (): Memory => stack().set(0x1500n, 0x894855_fa1e0ff3n).set(0x1504n, 0xe589_4855n);
  assert.equal(unwind(input(endbr(), { pc: 0x1504n, sp: 0x7f58n, fp: 0x7fc0n }))[0]!.via, 'entry');
  const afterPush = unwind(input(endbr(), { pc: 0x1505n, sp: 0x7f50n, fp: 0x7fc0n }));
  assert.equal(afterPush[0]!.via, 'prologue');
  assert.deepEqual(pcs(afterPush), [0x1505n, 0x1420n, 0x1330n]);
  // 90 ...: the function starts with a nop, not push rbp, so start+1 is not "after push rbp".
  const noPush = stack().set(0x1500n, 0x90n);
  assert.equal(unwind(input(noPush, { pc: 0x1501n, sp: 0x7f50n, fp: 0x7fc0n }))[0]!.via, 'frame-pointer');
  // c3: stopped on ret after `pop rbp`, so the return address is at [sp] and rbp is mid's.
  const atRet = stack().set(0x1580n, 0xccc3n);
  const frames = unwind(input(atRet, { pc: 0x1580n, sp: 0x7f58n, fp: 0x7fc0n }));
  assert.equal(frames[0]!.via, 'entry');
  assert.deepEqual(pcs(frames), [0x1580n, 0x1420n, 0x1330n]);
});

test('32-bit words: records are [ebp] and [ebp+4]', () => {
  const mem = new Memory()
    .set(0x7f80n, 0x7fa0n)
    .set(0x7f84n, 0x1420n)
    .set(0x7fa0n, 0x7fc0n)
    .set(0x7fa4n, 0x1330n)
    .set(0x7fc0n, 0x7fe0n)
    .set(0x7fc4n, 0n);
  const frames = unwind(input(mem, { pc: 0x1510n, sp: 0x7f70n, fp: 0x7f80n }, { wordSize: 4 }));
  assert.deepEqual(frames, [
    { pc: 0x1510n, sp: 0x7f70n, fp: 0x7f80n, via: 'frame-pointer' },
    { pc: 0x1420n, sp: 0x7f88n, fp: 0x7fa0n, via: 'frame-pointer' },
    { pc: 0x1330n, sp: 0x7fa8n, fp: 0x7fc0n, via: 'frame-pointer' },
  ]);
  // 4-aligned but not 8-aligned is fine with 4-byte words, and post-push uses [sp+4].
  const post = new Memory().set(0x7f6cn, 0x7fa0n).set(0x7f70n, 0x1420n).set(0x7fa0n, 0x7fc0n).set(0x7fa4n, 0x1330n);
  const p = unwind(input(post, { pc: 0x1501n, sp: 0x7f6cn, fp: 0x7fa0n }, { wordSize: 4 }));
  assert.deepEqual(p.map((f) => [f.pc, f.sp, f.via]), [
    [0x1501n, 0x7f6cn, 'prologue'],
    [0x1420n, 0x7f74n, 'frame-pointer'],
    [0x1330n, 0x7fa8n, 'frame-pointer'],
  ]);
});

test('a cyclic chain terminates without repeating a frame', () => {
  // Two records that point at each other: A -> B -> A -> ...
  const mem = new Memory().set(0x7f80n, 0x7fc0n).set(0x7f88n, 0x1420n).set(0x7fc0n, 0x7f80n).set(0x7fc8n, 0x1330n);
  const frames = unwind(input(mem, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }));
  assert.deepEqual(pcs(frames), [0x1510n, 0x1420n]);
  // A record pointing at itself.
  const self = new Memory().set(0x7f80n, 0x7f80n).set(0x7f88n, 0x1420n);
  assert.deepEqual(pcs(unwind(input(self, { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }))), [0x1510n]);
});

test('maxFrames caps a long, valid chain; frame 0 is always returned', () => {
  const mem = new Memory();
  for (let i = 0n; i < 200n; i++) {
    const fp = 0x10000n + i * 0x20n;
    mem.set(fp, fp + 0x20n).set(fp + 8n, 0x1000n + i);
  }
  assert.equal(unwind(input(mem, { pc: 0x2010n, sp: 0xff00n, fp: 0x10000n })).length, 64);
  assert.equal(unwind(input(mem, { pc: 0x2010n, sp: 0xff00n, fp: 0x10000n }, { maxFrames: 5 })).length, 5);
  assert.deepEqual(unwind(input(mem, { pc: 0x2010n, sp: 0xff00n, fp: 0x10000n }, { maxFrames: 0 })), [
    { pc: 0x2010n, sp: 0xff00n, fp: 0x10000n, via: 'frame-pointer' },
  ]);
  // Frame 0 comes back even when nothing about it is readable or in code.
  assert.deepEqual(pcs(unwind(input(new Memory(), { pc: 0xdead0000n, sp: 0n, fp: 0x1234n }))), [0xdead0000n]);
});

test('high-half 64-bit addresses stay exact and the walk stops rather than wrap past 2^64', () => {
  const K = 0xffffffff80000000n;
  const codeK = (a: bigint): boolean => a >= K + 0x1000000n && a < K + 0x2000000n;
  const mem = new Memory().set(0xffffffffffffff00n, 0xffffffffffffff40n).set(0xffffffffffffff08n, K + 0x1000123n);
  const frames = unwind(input(mem, { pc: K + 0x1000500n, sp: 0xfffffffffffffee0n, fp: 0xffffffffffffff00n }, { isCode: codeK, functionStart: undefined }));
  assert.deepEqual(pcs(frames), [K + 0x1000500n, K + 0x1000123n]);
  // The top frame's record would straddle 2^64: [fp+8] overflows.
  const top = new Memory().set(0xfffffffffffffff8n, 0xfffffffffffffff8n);
  assert.deepEqual(pcs(unwind(input(top, { pc: K + 0x1000500n, sp: 0xffffffffffffff00n, fp: 0xfffffffffffffff8n }, { isCode: codeK }))), [K + 0x1000500n]);
  assert.ok(!top.reads.includes(0n));
});

test('a frameless leaf: the return address at [sp] is used when it follows a call to the leaf', async () => {
  const { unwind } = await import('./unwind');
  // leaf at 0x1000 (no push rbp), stopped at its nop; caller at 0x2000 calls it from 0x2010 (e8 rel32).
  const mem = new Map<bigint, number>();
  const put = (addr: bigint, bytes: number[]) => bytes.forEach((b, i) => mem.set(addr + BigInt(i), b));
  put(0x1000n, [0xba, 0xfd, 0x03, 0x00, 0x00, 0x90, 0xc3]); // mov edx, 0x3fd; nop; ret
  const callAt = 0x2010n;
  const rel = Number((0x1000n - (callAt + 5n)) & 0xffffffffn);
  put(callAt, [0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff]);
  const word = (a: bigint, v: bigint) => put(a, Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
  word(0x7ff0n, callAt + 5n); // [sp] = return address
  word(0x8000n, 0n); // caller's frame record: saved fp 0 (outermost) ...
  word(0x8008n, 0x3000n); // ... and its return address
  put(0x3000n, [0x90]);
  // Bytes that were never set read as 0, as long as the first byte exists.
  const readWord = (a: bigint) => {
    if (!mem.has(a)) return undefined;
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(mem.get(a + BigInt(i)) ?? 0);
    return v;
  };
  const input = {
    pc: 0x1000n + 5n, sp: 0x7ff0n, fp: 0x8000n, wordSize: 8 as const, readWord,
    isCode: (a: bigint) => (a >= 0x1000n && a < 0x1010n) || (a >= 0x2000n && a < 0x2020n) || a === 0x3000n,
    functionStart: (a: bigint) => (a >= 0x1000n && a < 0x1010n ? 0x1000n : a >= 0x2000n && a < 0x2020n ? 0x2000n : undefined),
  };
  const frames = unwind(input);
  assert.deepEqual(frames.map((f) => f.pc), [0x1005n, callAt + 5n, 0x3000n]);
  // Without the call in front of [sp], the frame-pointer chain is used (the leaf's caller is skipped).
  put(callAt, [0x90, 0x90, 0x90, 0x90, 0x90]);
  assert.deepEqual(unwind(input).map((f) => f.pc), [0x1005n, 0x3000n]);
});

test('a caller that no call precedes is marked interrupted; the others are not', () => {
  // leaf <- mid (0x1420, after a call) <- top (0x1330: an interrupt struck there; its stub linked the record).
  const followsCall = (a: bigint): boolean | undefined => (a === 0x1330n ? false : a === 0x1420n ? true : undefined);
  const frames = unwind(input(threeDeep(), { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }, { followsCall }));
  assert.deepEqual(
    frames.map((f) => f.interrupted ?? false),
    [false, false, true],
  );
  // Unknown (unreadable code) is not taken as interrupted.
  const unknown = unwind(input(threeDeep(), { pc: 0x1510n, sp: 0x7f60n, fp: 0x7f80n }, { followsCall: () => undefined }));
  assert.ok(unknown.every((f) => f.interrupted === undefined));
});
