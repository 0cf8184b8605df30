// Selection ranges (expand/shrink selection): from the scalar under the
// cursor out through its key, each enclosing entry, to the whole document.

import type { Position, Range, SelectionRange } from 'vscode-languageserver/node';
import type { ParsedDocument } from './documents';

export function selectionRanges(doc: ParsedDocument, positions: readonly Position[]): SelectionRange[] {
  const whole: Range = { start: { line: 0, character: 0 }, end: { line: doc.lines.length, character: 0 } };
  return positions.map((pos) => {
    let sel: SelectionRange = { range: whole };
    const at = doc.result.ranges.pathAt(pos);
    if (!at) return { range: { start: pos, end: pos }, parent: sel };
    // Outermost first: each enclosing entry (key through value), then the value alone.
    for (let n = 1; n <= at.path.length; n++) {
      const p = at.path.slice(0, n);
      const key = doc.result.ranges.keyRange(p);
      const value = doc.result.ranges.valueRange(p);
      const range = key && value ? { start: key.start, end: value.end } : (value ?? key);
      if (range) sel = { range, parent: sel };
    }
    const value = doc.result.ranges.valueRange(at.path);
    if (at.on === 'value' && value) sel = { range: value, parent: sel };
    return sel;
  });
}
