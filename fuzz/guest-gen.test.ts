// The random-guest generator: its instruction encodings mean what they say in
// each mode (decoded with iced-x86), streams decode to the end without a
// stray byte, and cases replay from (seed, index).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, type Bitness } from '../vmm/disasm';
import { Asm, generateCase, instructionStream, mutate, type GuestMode } from './guest-gen';
import { Rng } from './rng';

const BITS: Record<GuestMode, Bitness> = { real: 16, protected: 32, long: 64 };
const text = (mode: GuestMode, bytes: number[]) =>
  decode(Uint8Array.from(bytes), 0n, BITS[mode])
    .map((i) => i.text)
    .join('; ');

test('each instruction shape encodes as intended in real, protected and long mode', () => {
  for (const mode of ['real', 'protected', 'long'] as const) {
    const wide = mode === 'long' ? 'rax' : 'eax';
    const [si, di] = mode === 'real' ? ['si', 'di'] : mode === 'long' ? ['rsi', 'rdi'] : ['esi', 'edi'];
    const mem = mode === 'real' ? '[bx]' : mode === 'long' ? '[rbx]' : '[ebx]';
    assert.equal(text(mode, new Asm(mode).movImm(2, 0x3f8).out), 'mov edx, 0x3f8');
    assert.equal(text(mode, new Asm(mode).outDx(1).outDx(2).outDx(4).out), 'out dx, al; out dx, ax; out dx, eax');
    assert.equal(text(mode, new Asm(mode).inDx(1).inDx(2).inDx(4).out), 'in al, dx; in ax, dx; in eax, dx');
    assert.equal(text(mode, new Asm(mode).inImm(0x60, 4).out), 'in eax, 0x60');
    assert.equal(text(mode, new Asm(mode).repString('outs', 1).repString('ins', 2).repString('outs', 4).out), `rep outsb dx, [${si}]; rep insw [${di}], dx; rep outsd dx, [${si}]`);
    assert.equal(text(mode, new Asm(mode).movDr(7, true).movDr(3, false).out), `mov dr7, ${wide}; mov ${wide}, dr3`);
    assert.equal(text(mode, new Asm(mode).memAccess(true, 1).memAccess(false, 2).memAccess(true, 4).out), `mov ${mem}, al; mov ax, ${mem}; mov ${mem}, eax`);
  }
  assert.equal(text('long', new Asm('long').storeDisp(8).throughMemory('lidt').throughMemory('lgdt').throughMemory('ljmp').out), 'mov [rbx+8], eax; lidt [rbx]; lgdt [rbx]; jmp far fword ptr [rbx]');
  assert.equal(text('real', new Asm('real').storeDisp(8).throughMemory('lidt').movCr(0, true).movSreg(2).loadSystem('ltr').out), 'mov [bx+8], eax; lidt [bx]; mov cr0, eax; mov ss, ax; ltr ax');
  assert.equal(text('protected', new Asm('protected').pushImm(0x12345678).iret().movCr(4, false).out), 'push 0x12345678; iretd; mov eax, cr4');
  assert.equal(text('long', new Asm('long').iret().movCr(3, true).out), 'iretq; mov cr3, rax');
  assert.equal(text('real', new Asm('real').address(0xf1234).out), 'mov ax, 0xf123; mov ds, ax; mov bx, 4');
  assert.equal(text('long', new Asm('long').address(0xd0000010).out), 'mov ebx, 0xd0000010');
});

test('instruction streams decode with no invalid byte up to their ending', () => {
  for (let i = 0; i < 300; i++) {
    const rng = Rng.forCase(11, i);
    const mode = rng.pick(['real', 'protected', 'long'] as const);
    const { bytes } = instructionStream(rng, mode, 16);
    const insns = decode(bytes, 0n, BITS[mode]);
    // The ending may be random bytes; everything before the first invalid one must be ours, and most of the stream.
    const firstBad = insns.findIndex((x) => x.invalid);
    const good = insns.slice(0, firstBad < 0 ? insns.length : firstBad).reduce((n, x) => n + x.length, 0);
    assert.ok(good >= Math.min(bytes.length - 64, bytes.length * 0.5), `case ${i} (${mode}): only ${good} of ${bytes.length} bytes decode`);
  }
});

test('a case regenerates from its seed and index', () => {
  const seeds = [{ name: 'x', bytes: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), mode: 'long' as const, platform: 'minimal' as const }];
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(generateCase(Rng.forCase(3, i), seeds), generateCase(Rng.forCase(3, i), seeds));
  }
});

test('mutations never leave an empty image unless truncated to nothing, and say what they did', () => {
  const rng = new Rng(5);
  for (let i = 0; i < 200; i++) {
    const { bytes, ops } = mutate(rng, Uint8Array.from({ length: 100 }, (_, k) => k), []);
    assert.ok(ops.length >= 1);
    assert.ok(bytes.length >= 1);
  }
});
