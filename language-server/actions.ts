// Quick fixes: every diagnostic that carries a `suggestion` (did-you-mean for keys and enum values, binary
// size units, quoting) becomes an edit of the diagnostic's range; `misaligned` also offers aligning up to 4 KiB.
// And one rewrite: a size written as a byte count, in binary units.

import type { CodeAction, CodeActionParams, Diagnostic } from 'vscode-languageserver/node';
import { CodeActionKind } from 'vscode-languageserver/node';
import type { SpecDiagnostic, SpecRange } from '../vmspec/types';
import { PAGE_SIZE, formatHex, formatSize, parseAddress, parseIntegerLiteral } from '../vmspec/units';
import { toLspDiagnostic } from './diagnostics';
import { type ParsedDocument, textAt, unquote } from './documents';
import { schemaAt } from '../vmspec/schema';

export function codeActions(doc: ParsedDocument, params: CodeActionParams): CodeAction[] {
  const only = params.context.only;
  const actions: CodeAction[] = [];
  if (!only || only.some((k) => CodeActionKind.RefactorRewrite.startsWith(k))) actions.push(...sizeRewrites(doc, params));
  if (only && !only.some((k) => CodeActionKind.QuickFix.startsWith(k))) return actions;
  for (const d of doc.result.diagnostics) {
    if (!overlaps(d.range, params.range)) continue;
    const lsp = toLspDiagnostic(doc.uri, d);
    if (d.suggestion !== undefined) {
      actions.push(fix(doc.uri, title(d, d.suggestion), d.range, d.suggestion, lsp, d.code === 'unknown-key' || d.code === 'unknown-value' || d.code === 'bad-size'));
    } else if (d.code === 'misaligned') {
      const up = alignUp(textAt(doc, d.range));
      if (up !== undefined) actions.push(fix(doc.uri, `Align up to 4 KiB (${up})`, d.range, up, lsp, true));
    }
  }
  return actions;
}

/** A size written as a raw byte count, under the cursor: offer it with binary units (16777216 -> 16MiB). */
function sizeRewrites(doc: ParsedDocument, params: CodeActionParams): CodeAction[] {
  const at = doc.result.ranges.pathAt(params.range.start);
  if (!at || at.on !== 'value' || schemaAt(at.path)?.type !== 'size') return [];
  const range = doc.result.ranges.valueRange(at.path);
  if (!range) return [];
  const text = unquote(textAt(doc, range));
  const n = parseIntegerLiteral(text);
  if (!n.ok || n.value < 1024n || n.value % 1024n !== 0n) return [];
  const sized = formatSize(n.value).replace(' ', '');
  if (!/[KMGT]iB$/.test(sized)) return [];
  return [{ title: `Write as ${sized}`, kind: CodeActionKind.RefactorRewrite, edit: { changes: { [doc.uri]: [{ range, newText: sized }] } } }];
}

function title(d: SpecDiagnostic, suggestion: string): string {
  switch (d.code) {
    case 'unknown-key': return `Change key to "${suggestion}"`;
    case 'unknown-value': return `Change value to "${suggestion}"`;
    case 'bad-size': return `Use the binary unit: ${suggestion}`;
    case 'misaligned': return `Align up to 4 KiB (${suggestion})`;
    case 'wrong-type': return `Quote as ${suggestion}`;
    default: return `Replace with ${suggestion}`;
  }
}

function fix(uri: string, title: string, range: SpecRange, newText: string, diagnostic: Diagnostic, isPreferred: boolean): CodeAction {
  return { title, kind: CodeActionKind.QuickFix, diagnostics: [diagnostic], isPreferred, edit: { changes: { [uri]: [{ range, newText }] } } };
}

/** The next multiple of 4 KiB, written the way the original was (hex stays hex, a size with a unit stays a size). */
function alignUp(written: string): string | undefined {
  const text = unquote(written);
  const n = parseAddress(text);
  if (!n.ok) return undefined;
  const page = BigInt(PAGE_SIZE);
  const up = ((n.value + page - 1n) / page) * page;
  if (up === n.value) return undefined;
  if (/^\s*0x/i.test(text)) return formatHex(up);
  if (parseIntegerLiteral(text).ok) return up.toString();
  return formatSize(up).replace(' ', '');
}

function overlaps(a: SpecRange, b: SpecRange): boolean {
  const before = (p: SpecRange['start'], q: SpecRange['start']) => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}
