// Where each key and value of a .vmspec is in its text, by key path, and how a key path is written for users.
// The parser fills it in; diagnostics from later checks (the image, the host) and the language server read it.

import type { SpecPath, SpecPosition, SpecRange } from './types';

interface SourceEntry {
  path: SpecPath;
  key?: SpecRange;
  value: SpecRange;
}

/**
 * Where each key and value of the parsed text is, by key path (`['boot', 'entry']`, `['regions', 0, 'gpa']`).
 * Checks that run later (reading the image, resolving symbols) use it to put their diagnostics in the right place.
 */
export class SpecSourceMap {
  private readonly entries = new Map<string, SourceEntry>();

  /** `lineLengths` (in UTF-16 units, without the line break) lets multi-line ranges be cut to their first line. */
  constructor(private readonly lineLengths: readonly number[] = []) {}

  /** Recorded by the parser only. */
  add(p: SpecPath, key: SpecRange | undefined, value: SpecRange): void {
    this.entries.set(pathKey(p), key ? { path: [...p], key, value } : { path: [...p], value });
  }

  /** Whether the key (or sequence item) is written in the text, as opposed to defaulted. */
  has(p: SpecPath): boolean {
    return this.entries.has(pathKey(p));
  }

  keyRange(p: SpecPath): SpecRange | undefined {
    return this.entries.get(pathKey(p))?.key;
  }

  valueRange(p: SpecPath): SpecRange | undefined {
    return this.entries.get(pathKey(p))?.value;
  }

  /**
   * The best range to report something about `p`: its value (or key) if written; otherwise the key of the
   * nearest written ancestor, since a defaulted value has no text of its own; otherwise the top of the file.
   */
  locate(p: SpecPath, prefer: 'key' | 'value' = 'value'): SpecRange {
    const own = this.entries.get(pathKey(p));
    if (own) return (prefer === 'key' ? own.key : undefined) ?? own.value;
    for (let n = p.length - 1; n > 0; n--) {
      const entry = this.entries.get(pathKey(p.slice(0, n)));
      if (entry) return this.firstLine(entry.key ?? entry.value);
    }
    return zeroRange();
  }

  /** A multi-line range cut to its first line, so a squiggle meant for a key does not cover a whole block. */
  firstLine(r: SpecRange): SpecRange {
    if (r.end.line === r.start.line) return r;
    return { start: r.start, end: { line: r.start.line, character: this.lineLengths[r.start.line] ?? r.start.character } };
  }

  /** The innermost key path whose key or value contains `pos` (end inclusive, so a cursor just after a word counts). */
  pathAt(pos: SpecPosition): { path: SpecPath; on: 'key' | 'value' } | undefined {
    let best: { path: SpecPath; on: 'key' | 'value' } | undefined;
    for (const entry of this.entries.values()) {
      const on = entry.key && contains(entry.key, pos) ? 'key' : contains(entry.value, pos) ? 'value' : undefined;
      if (on && (!best || entry.path.length > best.path.length)) best = { path: entry.path, on };
    }
    return best;
  }
}

/** A key path as users write it: `boot.entry`, `regions[1].gpa`. */
export function formatPath(p: SpecPath): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function pathKey(p: SpecPath): string {
  return JSON.stringify(p);
}

/** The top of the file: where a problem with no text of its own is reported. */
export function zeroRange(): SpecRange {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

function contains(r: SpecRange, pos: SpecPosition): boolean {
  const afterStart = pos.line > r.start.line || (pos.line === r.start.line && pos.character >= r.start.character);
  const beforeEnd = pos.line < r.end.line || (pos.line === r.end.line && pos.character <= r.end.character);
  return afterStart && beforeEnd;
}
