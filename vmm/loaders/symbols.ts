// Symbols from a separate file (boot.symbols): an ELF such as vmlinux, or a
// System.map, for images that carry none (a bzImage, a ROM).

import { isElf, parseElf, type ImageSymbol } from '../../formats/elf';
import { parseSystemMap } from '../../formats/system-map';
import { ImageError } from './types';

export interface SymbolFile {
  symbols: ImageSymbol[];
  /** What a placeholder System.map says instead of symbols. */
  placeholder?: string;
  kind: 'elf' | 'system-map';
}

export function readSymbolFile(bytes: Uint8Array): SymbolFile {
  if (isElf(bytes)) return { kind: 'elf', symbols: parseElf(bytes).symbols };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const map = parseSystemMap(text);
  if (map.placeholder === undefined && map.symbols.length === 0) {
    throw new ImageError('it is neither an ELF file nor a System.map (lines of "address type name")');
  }
  return { kind: 'system-map', symbols: map.symbols, ...(map.placeholder !== undefined ? { placeholder: map.placeholder } : {}) };
}
