// Outline: the machine (named by `name`), with its boot block, each region by name, and each device.

import type { DocumentSymbol } from 'vscode-languageserver/node';
import { SymbolKind } from 'vscode-languageserver/node';
import type { SpecPath, SpecRange } from '../vmspec/types';
import { type ParsedDocument, textAt, unquote } from './documents';

export function documentSymbols(doc: ParsedDocument): DocumentSymbol[] {
  const ranges = doc.result.ranges;
  const span = (p: SpecPath): { range: SpecRange; selectionRange: SpecRange } | undefined => {
    const value = ranges.valueRange(p);
    if (!value) return undefined;
    const key = ranges.keyRange(p) ?? value;
    return { range: { start: key.start, end: after(value.end, key.end) ? value.end : key.end }, selectionRange: key };
  };
  const scalar = (p: SpecPath) => {
    const r = ranges.valueRange(p);
    return r ? unquote(textAt(doc, r)) : '';
  };

  const children: DocumentSymbol[] = [];
  const boot = span(['boot']);
  if (boot) children.push({ name: 'boot', detail: [scalar(['boot', 'image']), scalar(['boot', 'mode'])].filter(Boolean).join(', '), kind: SymbolKind.Function, ...boot });

  const regions = span(['regions']);
  if (regions) {
    const items: DocumentSymbol[] = [];
    for (let i = 0; i < 10_000 && ranges.has(['regions', i]); i++) {
      const item = ranges.valueRange(['regions', i])!;
      const name = scalar(['regions', i, 'name']) || `#${i}`;
      const detail = [scalar(['regions', i, 'kind']), scalar(['regions', i, 'gpa'])].filter(Boolean).join(' at ');
      const sel = ranges.valueRange(['regions', i, 'name']) ?? ranges.firstLine(item);
      items.push({ name, detail, kind: SymbolKind.Struct, range: item, selectionRange: sel });
    }
    children.push({ name: 'regions', kind: SymbolKind.Array, ...regions, children: items });
  }

  const devices = span(['devices']);
  if (devices) {
    const items: DocumentSymbol[] = [];
    for (const key of ['serial', 'debug-exit']) {
      const s = span(['devices', key]);
      if (s) items.push({ name: key, detail: scalar(['devices', key, 'port']), kind: SymbolKind.Object, ...s });
    }
    children.push({ name: 'devices', kind: SymbolKind.Namespace, ...devices, children: items });
  }

  const root = ranges.valueRange([]);
  if (!root) return children;
  const name = scalar(['name']) || 'VM';
  const memory = scalar(['memory']);
  const vcpus = scalar(['vcpus']);
  const detail = [memory && `memory ${memory}`, vcpus && `${vcpus} vCPU${vcpus === '1' ? '' : 's'}`].filter(Boolean).join(', ');
  const selectionRange = ranges.valueRange(['name']) ?? ranges.firstLine(root);
  return [{ name, detail, kind: SymbolKind.Module, range: root, selectionRange: inside(selectionRange, root) ? selectionRange : ranges.firstLine(root), children }];
}

function after(a: SpecRange['start'], b: SpecRange['start']): boolean {
  return a.line > b.line || (a.line === b.line && a.character > b.character);
}

function inside(inner: SpecRange, outer: SpecRange): boolean {
  return !after(outer.start, inner.start) && !after(inner.end, outer.end);
}
