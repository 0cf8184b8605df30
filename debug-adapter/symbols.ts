// Address -> symbol lookup over an image's symbol table (`func+0x12`).

import { hex } from '../common/address';
import type { ImageSymbol } from '../formats/elf';

export class SymbolIndex {
  private readonly sorted: ImageSymbol[];

  constructor(symbols: readonly ImageSymbol[]) {
    this.sorted = symbols.filter((s) => s.kind === 'func' || s.kind === 'other').sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }

  /** The symbol covering `addr` (or the nearest one below it when sizes are unknown). */
  lookup(addr: bigint): { symbol: ImageSymbol; offset: bigint } | undefined {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let best: ImageSymbol | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.sorted[mid]!;
      if (s.value <= addr) {
        best = s;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!best) return undefined;
    const offset = addr - best.value;
    if (best.size > 0 && offset >= BigInt(best.size)) return undefined;
    return { symbol: best, offset };
  }

  describe(addr: bigint): string {
    const hit = this.lookup(addr);
    if (!hit) return hex(addr);
    return hit.offset === 0n ? hit.symbol.name : `${hit.symbol.name}+${hex(hit.offset)}`;
  }
}
