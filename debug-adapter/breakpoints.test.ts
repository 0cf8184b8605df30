import { test } from 'node:test';
import { gva } from '../common/address';
import assert from 'node:assert/strict';
import { BreakpointManager, interpolate, parseHitCondition } from './breakpoints';

test('without int3, code breakpoints take DR slots and say why; the fifth does not fit', () => {
  const m = new BreakpointManager(false, 'int3 breakpoints end in a KVM internal error on this PVM host');
  const bps = m.setInstruction([0x1000, 0x2000, 0x3000, 0x4000, 0x5000].map((a) => ({ instructionReference: '0x' + a.toString(16) })));
  assert.deepEqual(bps.map((b) => b.verified), [true, true, true, true, false]);
  assert.match(bps[0]!.message!, /hardware breakpoint \(DR0\): int3 breakpoints end in a KVM internal error/);
  assert.match(bps[4]!.message!, /DR0-3\) are all in use/);
  const cfg = m.debugConfig();
  assert.deepEqual(cfg.slots.map((s) => s?.addr), [0x1000n, 0x2000n, 0x3000n, 0x4000n]);
  assert.equal(cfg.softwareBreakpoints, false);
});

test('with int3, code breakpoints are software and leave the slots to data breakpoints', () => {
  const m = new BreakpointManager(true);
  m.setFunction([{ name: 'main' }, { name: 'nope' }], (n) => (n === 'main' ? gva(0x100000n) : undefined));
  const data = m.setData([{ dataId: 'x', access: 'write' }], () => ({ addr: gva(0x2000n), len: 4 }));
  assert.equal(data[0]!.verified, true);
  assert.deepEqual(m.softwareAddresses(), [0x100000n]);
  const cfg = m.debugConfig();
  assert.deepEqual(cfg.slots[0], { addr: 0x2000n, kind: 'write', len: 4 });
  assert.equal(cfg.softwareBreakpoints, true);
  const fn = m.all().find((b) => b.name === 'nope')!;
  assert.equal(fn.verified, false);
  assert.match(fn.message!, /no function "nope"/);
});

test('data breakpoints come first in slot assignment and need alignment', () => {
  const m = new BreakpointManager(false);
  m.setInstruction([{ instructionReference: '0x1000' }]);
  const [ok, bad] = m.setData(
    [
      { dataId: 'a', access: 'readWrite' },
      { dataId: 'b', access: 'write' },
    ],
    (id) => (id === 'a' ? { addr: gva(0x3000n), len: 8 } : { addr: gva(0x3001n), len: 4 }),
  );
  assert.equal(ok!.impl[0]!.how === 'hw' && ok!.impl[0]!.slot, 0);
  assert.equal(bad!.verified, false);
  assert.match(bad!.message!, /4-byte aligned/);
  assert.equal(m.debugConfig().slots[0]?.kind, 'rw');
  assert.equal(m.debugConfig().slots[1]?.addr, 0x1000n);
});

test('source breakpoints land on the resolved line and replace the file’s previous set', () => {
  const m = new BreakpointManager(false);
  const [bp] = m.setSource('/src/a.c', [{ line: 10 }], (l) => ({ line: l + 2, addresses: [gva(0x100010n)] }));
  assert.equal(bp!.line, 12);
  assert.equal(bp!.requestedLine, 10);
  m.setSource('/src/a.c', [], () => undefined);
  assert.equal(m.all().length, 0);
});

test('conditions, hit conditions and logpoints decide whether a hit stops', () => {
  const m = new BreakpointManager(false);
  const [cond, hit, log] = m.setInstruction([
    { instructionReference: '0x10', condition: 'rax == 1' },
    { instructionReference: '0x10', hitCondition: '%2' },
    { instructionReference: '0x10', logMessage: 'rax is {rax}, {{literal}}' },
  ]);
  let rax = 0n;
  const evaluate = (e: string) => {
    if (e === 'rax == 1') return rax === 1n ? 1n : 0n;
    if (e === 'rax') return rax;
    throw new Error(`unknown ${e}`);
  };
  const format = (e: string) => '0x' + evaluate(e).toString(16);
  let d = m.onHit(m.codeAt(gva(0x10n)), evaluate, format);
  assert.equal(d.stop, false, 'condition false, hit 1 of %2, logpoint');
  assert.deepEqual(d.logs, ['rax is 0x0, {literal}']);
  assert.equal(cond!.hits, 0, 'a false condition does not count');
  rax = 1n;
  d = m.onHit(m.codeAt(gva(0x10n)), evaluate, format);
  assert.equal(d.stop, true);
  assert.deepEqual(d.hitIds, [cond!.id, hit!.id]);
  assert.equal(log!.hits, 2);
});

test('a condition that cannot be evaluated stops and says why', () => {
  const m = new BreakpointManager(false);
  m.setInstruction([{ instructionReference: '0x10', condition: 'bogus +' }]);
  const d = m.onHit(m.codeAt(gva(0x10n)), () => {
    throw new Error('syntax error at 6');
  }, String);
  assert.equal(d.stop, true);
  assert.match(d.errors[0]!, /condition "bogus \+" failed: syntax error at 6/);
});

test('hit condition syntax', () => {
  assert.equal(parseHitCondition('3')(2), false);
  assert.equal(parseHitCondition('3')(3), true);
  assert.equal(parseHitCondition('==3')(4), false);
  assert.equal(parseHitCondition('>3')(4), true);
  assert.equal(parseHitCondition('<=1')(2), false);
  assert.equal(parseHitCondition('%3')(6), true);
  assert.throws(() => parseHitCondition('often'), /not understood/);
  assert.equal(interpolate('{a} {b}', (e) => (e === 'a' ? '1' : (() => { throw new Error('no b'); })())), '1 <no b>');
});
