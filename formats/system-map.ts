// System.map files (`nm -n` output: address, type letter, name) as symbols
// for the debugger. Debian ships a placeholder System.map whose only line
// points at the -dbg package; that is detected, so the user hears why no
// kernel symbol resolves instead of seeing none.

import { gva } from '../common/address';
import type { ImageSymbol } from './elf';

export interface SystemMap {
  symbols: ImageSymbol[];
  /** Set for a placeholder file: what it says instead of symbols. */
  placeholder?: string;
  /** Lines that are not `address type name`. */
  malformed: number;
}

const LINE = /^([0-9a-fA-F]{1,16})\s+([A-Za-z?-])\s+(\S+)/;

/** True for text whose first non-empty line looks like a System.map line (for content detection). */
export function looksLikeSystemMap(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim() !== '');
  return first !== undefined && LINE.test(first);
}

export function parseSystemMap(text: string): SystemMap {
  const symbols: ImageSymbol[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = LINE.exec(line);
    if (!m) {
      malformed++;
      continue;
    }
    const type = m[2]!;
    const value = BigInt(`0x${m[1]}`);
    // nm's letters: t/T text, d/D/b/B/r/R/g/G/s/S data, upper case global.
    const lower = type.toLowerCase();
    const kind = lower === 't' || lower === 'w' ? 'func' : 'bdrgsv'.includes(lower) ? 'object' : 'other';
    symbols.push({ name: m[3]!, value: gva(value), size: 0, kind, global: type !== lower });
  }
  // Debian: "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package".
  const placeholderLine = text.split('\n').find((l) => /real System\.map is in/i.test(l));
  if (placeholderLine !== undefined && symbols.length <= 1) {
    return { symbols: [], placeholder: placeholderLine.replace(/^\s*[0-9a-fA-F]+\s+\S\s+/, '').trim(), malformed };
  }
  // Sizes from the distance to the next symbol, as the debugger looks symbols up by range.
  const sorted = [...symbols].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  for (let i = 0; i + 1 < sorted.length; i++) {
    const gap = Number(BigInt(sorted[i + 1]!.value) - BigInt(sorted[i]!.value));
    if (sorted[i]!.kind === 'func' && gap > 0 && gap < 1 << 24) sorted[i]!.size = gap;
  }
  return { symbols, malformed };
}
