// Go to definition: from `entry: <symbol>` to the symbol's source line, when
// the image carries DWARF line information. The image's symbols also serve
// completion of `entry:`.

import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Location, Position } from 'vscode-languageserver/node';
import { parseElf } from '../vmm/loaders/elf';
import { LineTable } from '../debug-adapter/dwarf/line-table';
import type { ParsedDocument } from './documents';

/** Line tables by image path, re-read when the image changes. */
const tables = new Map<string, { mtimeMs: number; table: LineTable; symbols: Map<string, bigint>; functions: Map<string, bigint> }>();

/** Symbols and line table of an ELF image, cached by mtime (also serves entry completion). */
export function imageInfo(file: string) {
  const st = fs.statSync(file);
  const hit = tables.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit;
  const bytes = fs.readFileSync(file);
  const elf = parseElf(bytes);
  const entry = {
    mtimeMs: st.mtimeMs,
    table: LineTable.fromElf(bytes),
    symbols: new Map(elf.symbols.map((s) => [s.name, s.value])),
    functions: new Map(elf.symbols.filter((s) => s.kind === 'func').map((s) => [s.name, s.value])),
  };
  tables.set(file, entry);
  return entry;
}

export function definition(doc: ParsedDocument, pos: Position): Location | null {
  const spec = doc.result.spec;
  const at = doc.result.ranges.pathAt(pos);
  if (!spec || !at || at.on !== 'value' || at.path.join('.') !== 'boot.entry' || typeof spec.boot.entry !== 'string') return null;
  const info = imageInfo(spec.boot.image);
  const addr = info.symbols.get(spec.boot.entry);
  if (addr === undefined) return null;
  const loc = info.table.lookup(addr);
  if (!loc) return null;
  const line = Math.max(0, loc.line - 1);
  return { uri: pathToFileURL(loc.file).href, range: { start: { line, character: 0 }, end: { line, character: 0 } } };
}
