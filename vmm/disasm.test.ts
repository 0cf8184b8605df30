// Tests for the iced-x86 decoder wrapper: fixtures are assembled at test time with GNU as, and the
// decoding is checked against objdump's reading of the same object.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as iced from 'iced-x86';
import { bitnessOf, CALL_LOOKBEHIND, decode, decodeOne, disassemblyWindow, endsWithCall, type Bitness, type DecodedInstruction, type FlowKind } from './disasm';

// ---- fixtures: GNU as + objcopy, objdump as the reference ----

interface RefInstruction {
  address: bigint;
  bytes: number[];
  mnemonic: string;
  /** objdump's target for a direct branch (`call 0x54`, `jmp ffffffff81000010 <x>`). */
  target?: bigint;
}

interface Fixture {
  bin: Uint8Array;
  ref: RefInstruction[];
  /** The whole objdump -d text, for failure messages. */
  listing: string;
}

const BRANCH = /^(call|jmp|j[a-z]+|loop[a-z]*|xbegin)$/;
const PREFIXES = new Set(['lock', 'rep', 'repz', 'repnz', 'repe', 'repne', 'bnd', 'notrack', 'data16', 'addr32', 'cs', 'ds', 'es', 'ss', 'fs', 'gs']);

/** Parses `objdump -d --insn-width=15` lines: `  addr:\tbytes\tmnemonic operands`. */
function parseObjdump(listing: string): RefInstruction[] {
  const out: RefInstruction[] = [];
  for (const line of listing.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t(.*)$/.exec(line);
    if (!m) continue;
    const words = m[3]!.trim().split(/\s+/);
    while (words.length > 1 && PREFIXES.has(words[0]!)) words.shift();
    const mnemonic = words[0]!;
    const operands = words.slice(1).join(' ');
    const ins: RefInstruction = { address: BigInt('0x' + m[1]!), bytes: m[2]!.trim().split(' ').map((b) => parseInt(b, 16)), mnemonic };
    const t = /^(?:0x)?([0-9a-f]+)(?: <[^>]*>)?$/.exec(operands);
    if (BRANCH.test(mnemonic) && t) ins.target = BigInt('0x' + t[1]!);
    out.push(ins);
  }
  return out;
}

/** Assembles Intel-syntax `source` for `mode`, places .text at `vma`, returns its bytes and objdump's listing. */
function assemble(mode: Bitness, source: string, vma = 0n): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'vmscope-disasm-'));
  try {
    const head = `.intel_syntax noprefix\n${mode === 16 ? '.code16\n' : ''}.text\n`;
    writeFileSync(join(dir, 'f.s'), head + source + '\n');
    const run = (cmd: string, args: string[]): string => {
      try {
        return execFileSync(cmd, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        // GNU binutils are a prerequisite of these tests; say so rather than skip silently.
        throw new Error(`${cmd} ${args.join(' ')} failed (these tests need GNU binutils): ${(e as Error).message}`);
      }
    };
    run('as', [mode === 64 ? '--64' : '--32', '-o', 'f.o', 'f.s']);
    run('objcopy', ['-O', 'binary', '-j', '.text', 'f.o', 'f.bin']);
    const machine = mode === 16 ? ['-m', 'i8086'] : [];
    const listing = run('objdump', ['-d', '-z', '-M', 'intel', '--insn-width=15', `--adjust-vma=0x${vma.toString(16)}`, ...machine, 'f.o']);
    const relocs = run('objdump', ['-r', 'f.o']);
    // A relocation would leave objdump showing an unrelocated target; fixtures use local labels only.
    assert.ok(!/R_X86_64|R_386/.test(relocs), `fixture has relocations:\n${relocs}`);
    const bin = new Uint8Array(readFileSync(join(dir, 'f.bin')));
    return { bin, ref: parseObjdump(listing), listing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mnemonics that the two tools spell differently for the same instruction. */
function sameMnemonic(ours: string, theirs: string): boolean {
  if (ours === theirs) return true;
  // movabs vs mov, stos vs stosb, iretq vs iret: one is a prefix of the other.
  return ours.startsWith(theirs) || theirs.startsWith(ours);
}

/** Checks addresses, lengths and bytes exactly, mnemonics roughly, and direct branch targets exactly. */
function assertMatchesObjdump(ours: DecodedInstruction[], fx: Fixture): void {
  const ctx = (i: number): string => `instruction ${i} (ours: ${ours[i]?.text ?? '-'}), objdump:\n${fx.listing}`;
  assert.equal(ours.length, fx.ref.length, `instruction count; ours: ${ours.map((d) => d.text).join(' | ')}\nobjdump:\n${fx.listing}`);
  for (let i = 0; i < ours.length; i++) {
    const d = ours[i]!;
    const r = fx.ref[i]!;
    assert.equal(d.address, r.address, ctx(i));
    assert.equal(d.length, r.bytes.length, ctx(i));
    assert.deepEqual([...d.bytes], r.bytes, ctx(i));
    assert.ok(sameMnemonic(d.mnemonic, r.mnemonic), `mnemonic ${d.mnemonic} vs ${r.mnemonic}: ${ctx(i)}`);
    assert.equal(d.invalid, r.mnemonic === '(bad)', ctx(i));
    assert.equal(d.branchTarget, r.target, ctx(i));
    if (i + 1 < ours.length) assert.equal(d.nextAddress, ours[i + 1]!.address, ctx(i));
  }
}

// ---- the tests ----

const KERNEL_TEXT = 0xffffffff81000000n;

const MIXED64 = `
  push rbp
  mov rbp, rsp
  sub rsp, 0x20
  mov qword ptr [rbp-8], rdi
  movabs rax, 0x1122334455667788
  lea rsi, [rip+0x200]
  movzx ecx, byte ptr [rsi+rcx*4+0x10]
  cmp ecx, 0x7f
  ja 1f
  call 2f
  test eax, eax
  .byte 0x0f, 0x84; .long -0x100
  xor edx, edx
  div rcx
  mov cr3, rax
  wrmsr
  out dx, al
  in al, dx
  movdqu xmm0, xmmword ptr [rax]
  vaddps ymm0, ymm1, ymm2
  vpxorq zmm1, zmm2, zmm3
  lock add dword ptr [rax], 1
  rep stosb
  nop dword ptr [rax+rax+0]
  .byte 0x06, 0x27
  jmp rax
1:
  leave
  ret
2:
  hlt
  jmp 2b
`;

test('64-bit code at a high-half address matches objdump exactly', () => {
  const fx = assemble(64, MIXED64, KERNEL_TEXT);
  const ours = decode(fx.bin, KERNEL_TEXT, 64);
  assertMatchesObjdump(ours, fx);
  assert.equal(ours[0]!.address, KERNEL_TEXT);
  const last = ours[ours.length - 1]!;
  assert.equal(last.nextAddress, KERNEL_TEXT + BigInt(fx.bin.length));
  // The je rel32 goes backwards past the start: an exact 64-bit target below 0xffffffff81000000.
  const je = ours.find((d) => d.mnemonic === 'je')!;
  assert.equal(je.branchTarget, je.nextAddress - 0x100n);
  assert.ok(je.branchTarget! < KERNEL_TEXT && je.branchTarget! > 0xffffffff80000000n);
});

test('classifies call, ret, jmp, jcc and int with their branch targets', () => {
  const table: [string, FlowKind, 'target' | 'none'][] = [
    ['call 1f', 'call', 'target'],
    ['call rax', 'call', 'none'],
    ['call qword ptr [rip+0x10]', 'call', 'none'],
    ['ret', 'ret', 'none'],
    ['ret 8', 'ret', 'none'],
    ['iretq', 'ret', 'none'],
    ['sysretq', 'ret', 'none'],
    ['jmp 1f', 'jump', 'target'],
    ['.byte 0xe9; .long 0x100', 'jump', 'target'],
    ['jmp rax', 'jump', 'none'],
    ['jmp qword ptr [rax]', 'jump', 'none'],
    ['je 1f', 'cond-jump', 'target'],
    ['.byte 0x0f, 0x85; .long -0x40', 'cond-jump', 'target'],
    ['loop 1f', 'cond-jump', 'target'],
    ['jrcxz 1f', 'cond-jump', 'target'],
    ['xbegin 1f', 'cond-jump', 'target'],
    ['int 0x80', 'interrupt', 'none'],
    ['int3', 'interrupt', 'none'],
    ['syscall', 'interrupt', 'none'],
    ['vmcall', 'interrupt', 'none'],
    ['ud2', 'other', 'none'],
    ['nop', 'other', 'none'],
    ['mov eax, 1', 'other', 'none'],
    ['lea rax, [rip+0x100]', 'other', 'none'],
    ['hlt', 'other', 'none'],
  ];
  const fx = assemble(64, table.map(([src]) => src).join('\n') + '\n1:\n  ret', KERNEL_TEXT);
  const ours = decode(fx.bin, KERNEL_TEXT, 64);
  assertMatchesObjdump(ours, fx);
  table.forEach(([src, kind, target], i) => {
    const d = ours[i]!;
    assert.equal(d.kind, kind, `${src}: ${d.text}`);
    if (target === 'target') {
      assert.equal(typeof d.branchTarget, 'bigint', `${src}: ${d.text}`);
      assert.equal(d.branchTarget, fx.ref[i]!.target, src);
    } else assert.equal(d.branchTarget, undefined, `${src}: ${d.text}`);
  });
  // Spot-check targets against hand arithmetic too: `call 1f` lands on the final ret.
  assert.equal(ours[0]!.branchTarget, ours[ours.length - 1]!.address);
  assert.equal(ours[8]!.branchTarget, ours[8]!.nextAddress + 0x100n);
});

test('32-bit code matches objdump, including a far jump without a near target', () => {
  const src = `
  push ebp
  mov ebp, esp
  mov eax, dword ptr [ebp+8]
  call 1f
  jne 1f
  int 0x21
  .byte 0xea; .long 0x1000; .word 0x08
  mov eax, 1
  lgdt [eax]
1:
  pop ebp
  ret`;
  const fx = assemble(32, src, 0x100000n);
  const ours = decode(fx.bin, 0x100000n, 32);
  assertMatchesObjdump(ours, fx);
  const far = ours.find((d) => d.bytes[0] === 0xea)!;
  assert.equal(far.kind, 'jump');
  assert.equal(far.length, 7);
  assert.equal(far.branchTarget, undefined);
  assert.equal(ours[3]!.kind, 'call');
  assert.equal(ours[3]!.branchTarget, ours[ours.length - 2]!.address);
});

test('16-bit code matches objdump, and bitness changes lengths', () => {
  const src = `
  mov ax, 1
  mov ds, ax
  call 1f
  jne 1f
  int 0x10
  loop 1f
  lgdt [bx]
  mov eax, cr0
1:
  ret`;
  const fx = assemble(16, src, 0x7c00n);
  const ours = decode(fx.bin, 0x7c00n, 16);
  assertMatchesObjdump(ours, fx);
  assert.equal(ours[0]!.length, 3);
  assert.equal(ours[0]!.text, 'mov ax, 1');
  // The same bytes in 32-bit code: b8 is mov eax, imm32, which swallows the next instruction's bytes.
  const as32 = decodeOne(fx.bin, 0x7c00n, 32);
  assert.equal(as32.length, 5);
  assert.match(as32.text, /^mov eax, /);
});

test('16-bit IP wraps within its 64 KiB window, keeping the linear high bits', () => {
  // At F000:FFF0 (linear 0xffff0): jmp short +0x20 wraps IP to 0x0012, i.e. linear 0xf0012.
  const jmp = decodeOne(new Uint8Array([0xeb, 0x20]), 0xffff0n, 16);
  assert.equal(jmp.branchTarget, 0xf0012n);
  assert.equal(jmp.nextAddress, 0xffff2n);
  const nop = decodeOne(new Uint8Array([0x90]), 0xfffffn, 16);
  assert.equal(nop.nextAddress, 0xf0000n);
  // call -0x10 at IP 0 (linear 0x70000): target IP 0xfff3 wraps downwards within the segment.
  const call = decodeOne(new Uint8Array([0xe8, 0xf0, 0xff]), 0x70000n, 16);
  assert.equal(call.branchTarget, 0x7fff3n);
});

test('64-bit and 32-bit addresses wrap at 2^64 and 2^32 and stay exact', () => {
  const loop = decodeOne(new Uint8Array([0xeb, 0xfe]), 0xfffffffffffffffen, 64);
  assert.equal(loop.branchTarget, 0xfffffffffffffffen);
  assert.equal(loop.nextAddress, 0n);
  const fwd = decodeOne(new Uint8Array([0xeb, 0x10]), 0xfffffffffffffff0n, 64);
  assert.equal(fwd.branchTarget, 0x2n);
  const last = decode(new Uint8Array([0x90, 0x90]), 0xfffffffen, 32);
  assert.deepEqual(last.map((d) => [d.address, d.nextAddress]), [
    [0xfffffffen, 0xffffffffn],
    [0xffffffffn, 0n],
  ]);
  const call = decodeOne(new Uint8Array([0xe8, 0x00, 0x00, 0x00, 0x00]), 0xfffffff0n, 32);
  assert.equal(call.branchTarget, 0xfffffff5n);
});

test('invalid bytes come out as one-byte (bad) entries and decoding resumes at the next byte', () => {
  // 06 is invalid in 64-bit mode; iced reads it together with the following c3, which must not be lost.
  const ours = decode(new Uint8Array([0x06, 0xc3, 0x27, 0x90, 0x0f, 0x0b]), 0x1000n, 64);
  assert.deepEqual(
    ours.map((d) => [d.address, d.length, d.text, d.invalid, d.kind]),
    [
      [0x1000n, 1, '(bad)', true, 'other'],
      [0x1001n, 1, 'ret', false, 'ret'],
      [0x1002n, 1, '(bad)', true, 'other'],
      [0x1003n, 1, 'nop', false, 'other'],
      [0x1004n, 2, 'ud2', false, 'other'],
    ],
  );
  assert.deepEqual([...ours[0]!.bytes], [0x06]);
  // An instruction cut short by the end of the buffer (movabs rax, imm64 with one byte of its
  // immediate): every remaining byte is still covered, and none of the suffixes decodes either.
  const cut = decode(new Uint8Array([0x90, 0x48, 0xb8, 0xff]), 0x2000n, 64);
  assert.deepEqual(cut.map((d) => [d.address, d.invalid]), [
    [0x2000n, false],
    [0x2001n, true],
    [0x2002n, true],
    [0x2003n, true],
  ]);
  const one = decodeOne(new Uint8Array([0x06]), 0x3000n, 64);
  assert.equal(one.invalid, true);
  assert.equal(one.length, 1);
  assert.equal(one.nextAddress, 0x3001n);
  // The same byte is push es in 32-bit code.
  assert.equal(decodeOne(new Uint8Array([0x06]), 0x3000n, 32).text, 'push es');
  assert.throws(() => decodeOne(new Uint8Array(0), 0n, 64), RangeError);
});

test('maxCount limits the output; decodeOne agrees with decode', () => {
  const fx = assemble(64, MIXED64, KERNEL_TEXT);
  const three = decode(fx.bin, KERNEL_TEXT, 64, 3);
  assert.deepEqual(three.map((d) => d.mnemonic), ['push', 'mov', 'sub']);
  assert.deepEqual(decode(fx.bin, KERNEL_TEXT, 64, 0), []);
  const all = decode(fx.bin, KERNEL_TEXT, 64);
  for (const d of all) {
    const offset = Number(d.address - KERNEL_TEXT);
    assert.deepEqual(decodeOne(fx.bin.subarray(offset), d.address, 64), d);
  }
});

test('gas syntax and symbolized branch targets', () => {
  const bytes = new Uint8Array([0xe8, 0x0b, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe5, 0x74, 0x02, 0xff, 0xd0]);
  const asked: bigint[] = [];
  const symbolize = (a: bigint): string | undefined => {
    asked.push(a);
    return a === KERNEL_TEXT + 0x10n ? 'uart_putc+0x4' : undefined;
  };
  const gas = decode(bytes, KERNEL_TEXT, 64, undefined, { syntax: 'gas', symbolize });
  assert.deepEqual(gas.map((d) => d.text), ['call 0xffffffff81000010 <uart_putc+0x4>', 'mov %rsp,%rbp', 'je 0xffffffff8100000c', 'call *%rax']);
  // Asked only about the two direct branch targets.
  assert.deepEqual(asked, [KERNEL_TEXT + 0x10n, KERNEL_TEXT + 0xcn]);
  const intel = decode(bytes, KERNEL_TEXT, 64);
  assert.deepEqual(intel.map((d) => d.text), ['call 0xffffffff81000010', 'mov rbp, rsp', 'je 0xffffffff8100000c', 'call rax']);
});

test('bitnessOf follows EFER.LMA, CS.L, CR0.PE and CS.D/B', () => {
  const PE = 1n;
  const PG = 1n << 31n;
  const LMA = 1n << 10n;
  const LME = 1n << 8n;
  assert.equal(bitnessOf({ cr0: PE | PG, efer: LME | LMA, csL: 1, csDb: 0 }), 64);
  assert.equal(bitnessOf({ cr0: PE | PG, efer: LME | LMA, csL: 0, csDb: 1 }), 32); // compatibility mode
  assert.equal(bitnessOf({ cr0: PE | PG, efer: LME | LMA, csL: 0, csDb: 0 }), 16); // 16-bit compatibility mode
  assert.equal(bitnessOf({ cr0: PE, efer: LME, csL: 1, csDb: 1 }), 32); // LME without LMA: not yet long mode
  assert.equal(bitnessOf({ cr0: PE, efer: 0n, csL: 0, csDb: 1 }), 32);
  assert.equal(bitnessOf({ cr0: PE, efer: 0n, csL: 0, csDb: 0 }), 16);
  assert.equal(bitnessOf({ cr0: 0n, efer: 0n, csL: 0, csDb: 1 }), 16); // real mode, even with a big-real CS
});

/** The module exports its wasm instance as `__wasm`, which iced_x86.d.ts does not declare. */
function wasmMemoryBytes(): number {
  return (iced as unknown as { __wasm: { memory: { buffer: ArrayBuffer } } }).__wasm.memory.buffer.byteLength;
}

test('decoding 10k times does not grow wasm memory, while a real leak would', () => {
  const fx = assemble(64, MIXED64, KERNEL_TEXT);
  const big = new Uint8Array(fx.bin.length * 100);
  for (let i = 0; i < 100; i++) big.set(fx.bin, i * fx.bin.length);
  const opts = { symbolize: (a: bigint) => `f+0x${a.toString(16)}` };
  // Warm up: formatters, the scratch instruction and the allocator's first pages.
  for (let i = 0; i < 50; i++) {
    decode(big, KERNEL_TEXT, 64, undefined, opts);
    decode(fx.bin, KERNEL_TEXT, 64, undefined, { syntax: 'gas' });
  }
  const before = wasmMemoryBytes();
  for (let i = 0; i < 10_000; i++) {
    decode(fx.bin, KERNEL_TEXT, 64, undefined, opts);
    decodeOne(fx.bin, KERNEL_TEXT, 16);
    decode(fx.bin, KERNEL_TEXT, 32, 5, { syntax: 'gas' });
  }
  for (let i = 0; i < 20; i++) decode(big, KERNEL_TEXT, 64);
  const growth = wasmMemoryBytes() - before;
  assert.ok(growth <= 64 * 1024, `wasm memory grew by ${growth} bytes over 10k decodes`);

  // Control: the same number of Decoders that are never freed does grow it, so the check above can fail.
  const leaked: iced.Decoder[] = [];
  const start = wasmMemoryBytes();
  for (let i = 0; i < 10_000; i++) leaked.push(new iced.Decoder(64, fx.bin, iced.DecoderOptions.None));
  const leakGrowth = wasmMemoryBytes() - start;
  for (const d of leaked) d.free();
  assert.ok(leakGrowth > 64 * 1024, `leaking 10k decoders grew wasm memory by only ${leakGrowth} bytes`);
});

// ---- the DAP disassemble window --------------------------------------------------------------------------------

/** Two functions with int3 padding between them, at 0x1000; nothing readable outside. */
const CODE_BASE = 0x1000n;
const CODE = Uint8Array.from([
  0x55, 0x48, 0x89, 0xe5, 0x90, 0x5d, 0xc3, // a: push rbp; mov rbp, rsp; nop; pop rbp; ret (0x1000..0x1006)
  0xcc, 0xcc, 0xcc, // padding (0x1007..0x1009)
  0xb8, 0x01, 0x00, 0x00, 0x00, 0xee, 0xc3, // b: mov eax, 1; out dx, al; ret (0x100a..0x1010)
]);
const OUT = 0x100fn;

function fakeDecodeFrom(start: bigint, count: number, maxBytes = count * 15): DecodedInstruction[] {
  if (start < CODE_BASE || start >= CODE_BASE + BigInt(CODE.length)) return [];
  const from = Number(start - CODE_BASE);
  return decode(CODE.subarray(from, Math.min(CODE.length, from + maxBytes)), start, 64, count);
}
const symbolsAt = (a: bigint) => (a >= 0x100an ? 0x100an : a >= 0x1000n ? 0x1000n : undefined);
const addrs = (l: DecodedInstruction[]) => l.map((i) => '0x' + i.address.toString(16) + ' ' + i.mnemonic);

test('disassembly window: instructions before base come from the function starts, across functions', () => {
  const w = disassemblyWindow(OUT, -3, 5, fakeDecodeFrom, symbolsAt);
  assert.deepEqual(addrs(w.before), ['0x1008 int3', '0x1009 int3', '0x100a mov']);
  assert.deepEqual(addrs(w.from), ['0x100f out', '0x1010 ret']);
});

test('disassembly window: a window entirely before base (as VS Code asks when scrolling up)', () => {
  const w = disassemblyWindow(OUT, -6, 3, fakeDecodeFrom, symbolsAt);
  assert.deepEqual(addrs(w.before), ['0x1005 pop', '0x1006 ret', '0x1007 int3']);
  assert.deepEqual(w.from, []);
});

test('disassembly window: what lies before readable memory is left out, not invented', () => {
  const w = disassemblyWindow(OUT, -20, 25, fakeDecodeFrom, symbolsAt);
  assert.equal(w.before.length, 9);
  assert.equal(w.before[0]!.address, 0x1000n);
  assert.deepEqual(addrs(w.from), ['0x100f out', '0x1010 ret']);
  // The 11 missing ones are the front of the window: a window of only them is empty.
  assert.deepEqual(disassemblyWindow(OUT, -20, 5, fakeDecodeFrom, symbolsAt).before, []);
  assert.equal(disassemblyWindow(OUT, -20, 13, fakeDecodeFrom, symbolsAt).before.length, 2);
});

test('disassembly window: without symbols, the decode that lands exactly on base is kept', () => {
  const w = disassemblyWindow(OUT, -2, 2, fakeDecodeFrom, () => undefined);
  assert.deepEqual(addrs(w.before), ['0x1009 int3', '0x100a mov']);
  const forward = disassemblyWindow(OUT, 1, 1, fakeDecodeFrom, () => undefined);
  assert.deepEqual(addrs(forward.from), ['0x1010 ret']);
});

test('endsWithCall tells a return address from an interrupted pc', () => {
  const end = 0x100010n;
  const pad = (tail: number[]): Uint8Array => Uint8Array.from([...new Array<number>(CALL_LOOKBEHIND - tail.length).fill(0x90), ...tail]);
  assert.equal(endsWithCall(pad([0xe8, 0x10, 0x00, 0x00, 0x00]), end, 32), true, 'call rel32');
  assert.equal(endsWithCall(pad([0xff, 0xd0]), end, 64), true, 'call rax');
  assert.equal(endsWithCall(pad([0xff, 0x55, 0x08]), end, 32), true, 'call [ebp+8]');
  assert.equal(endsWithCall(pad([0x41, 0xff, 0xd3]), end, 64), true, 'call r11');
  // The multiboot kernel's wait loop: `jae +10; hlt` before the pc the timer interrupt returns to.
  assert.equal(endsWithCall(pad([0x39, 0xd0, 0x73, 0x0a, 0xf4]), end, 32), false, 'after hlt');
  assert.equal(endsWithCall(pad([0x89, 0xe5]), end, 32), false, 'after mov ebp, esp');
});
