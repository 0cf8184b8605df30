import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './rng';

test('a seed gives the same sequence every time, another seed another one', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const seqA = Array.from({ length: 8 }, () => a.u32());
  assert.deepEqual(seqA, Array.from({ length: 8 }, () => b.u32()));
  const c = new Rng(43);
  assert.notDeepEqual(seqA, Array.from({ length: 8 }, () => c.u32()));
});

test('forCase makes each case reproducible alone and distinct from its neighbours', () => {
  assert.equal(Rng.forCase(7, 100).u32(), Rng.forCase(7, 100).u32());
  assert.notEqual(Rng.forCase(7, 100).u32(), Rng.forCase(7, 101).u32());
});

test('below, between and bytes stay in range and cover it', () => {
  const r = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.below(10);
    assert.ok(v >= 0 && v < 10 && Number.isInteger(v));
    seen.add(v);
    const w = r.between(-3, 3);
    assert.ok(w >= -3 && w <= 3);
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  assert.equal(seen.size, 10);
  assert.equal(r.bytes(7).length, 7);
  assert.throws(() => r.below(0), RangeError);
});

test('forCase streams of nearby cases are not shifted copies of each other', () => {
  const draws = (i: number) => Array.from({ length: 16 }, ((r) => () => r.u32())(Rng.forCase(1, i)));
  for (let i = 0; i < 50; i++) {
    const a = draws(i);
    for (let j = i + 1; j < i + 5; j++) {
      const b = draws(j);
      // No draw of one case appears among the other's.
      assert.equal(a.filter((x) => b.includes(x)).length, 0, `cases ${i} and ${j} share draws`);
    }
  }
});
