// Inlay hints: a size written as a raw byte count gets its binary-unit reading (`16777216` → `16 MiB`),
// and each region gets its end address.

import type { InlayHint, Range } from 'vscode-languageserver/node';
import { InlayHintKind } from 'vscode-languageserver/node';
import type { SpecRange } from '../vmspec/types';
import { formatHex, formatSize, parseAddress, parseIntegerLiteral, parseSize } from '../vmspec/units';
import { type ParsedDocument, textAt, unquote, writtenPaths } from './documents';

export function inlayHints(doc: ParsedDocument, range: Range): InlayHint[] {
  const ranges = doc.result.ranges;
  const hints: InlayHint[] = [];
  const add = (at: SpecRange, label: string) => {
    if (at.end.line < range.start.line || at.end.line > range.end.line) return;
    hints.push({ position: at.end, label, kind: InlayHintKind.Type, paddingLeft: true });
  };
  for (const { path, schema } of writtenPaths(doc)) {
    if (schema.type !== 'size') continue;
    const r = ranges.valueRange(path);
    if (!r) continue;
    const text = unquote(textAt(doc, r));
    const n = parseIntegerLiteral(text);
    if (!n.ok || n.value < 1024n) continue;
    const human = formatSize(n.value);
    if (!human.endsWith('bytes')) add(r, human);
  }
  for (let i = 0; i < 10_000 && ranges.has(['regions', i]); i++) {
    const gpaRange = ranges.valueRange(['regions', i, 'gpa']);
    const sizeRange = ranges.valueRange(['regions', i, 'size']);
    if (!gpaRange || !sizeRange) continue;
    const gpa = parseAddress(unquote(textAt(doc, gpaRange)));
    const size = parseSize(unquote(textAt(doc, sizeRange)));
    if (!gpa.ok || !size.ok) continue;
    add(sizeRange, `→ ends ${formatHex(gpa.value + size.value)}`);
  }
  return hints.sort((a, b) => a.position.line - b.position.line || a.position.character - b.position.character);
}
