// A seeded pseudo-random generator for the fuzz harness, so that every case
// it generates is reproducible from (seed, case number). SplitMix32-style
// mixing: not cryptographic, just fast and well spread.

/** A 32-bit finalizer (murmur3's): every input bit affects every output bit. */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator for case `index` of a run seeded with `seed`: cases are independent, so one can be replayed alone. */
  static forCase(seed: number, index: number): Rng {
    // The case's starting state is a hash of (seed, index), not a multiple of the step: with `seed ^ (index+1)·step`,
    // the states of cases i and i+2 differ by about 2·step, so case i+2's stream was case i's shifted by two draws.
    return new Rng(mix32(mix32(seed >>> 0) ^ mix32((index + 0x6a09e667) >>> 0)));
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    if (n <= 0) throw new RangeError(`below(${n})`);
    return n <= 0x1_0000_0000 ? Math.floor((this.u32() / 0x1_0000_0000) * n) : Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** A float in [0, 1). */
  float(): number {
    return (this.u32() * 0x20_0000 + (this.u32() >>> 11)) / 2 ** 53;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from nothing');
    return items[this.below(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
}
