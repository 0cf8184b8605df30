// Folding: every mapping or sequence (and every sequence item) that spans several lines.

import type { FoldingRange } from 'vscode-languageserver/node';
import { type ParsedDocument, writtenPaths } from './documents';

export function foldingRanges(doc: ParsedDocument): FoldingRange[] {
  const ranges = doc.result.ranges;
  const out: FoldingRange[] = [];
  const seen = new Set<number>();
  for (const { path } of writtenPaths(doc)) {
    const value = ranges.valueRange(path);
    if (!value) continue;
    const startLine = (ranges.keyRange(path) ?? value).start.line;
    // A block node's range runs to the start of the line after it.
    const endLine = value.end.character === 0 && value.end.line > value.start.line ? value.end.line - 1 : value.end.line;
    if (endLine <= startLine || seen.has(startLine)) continue;
    seen.add(startLine);
    out.push({ startLine, endLine });
  }
  return out;
}
