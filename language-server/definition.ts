// Go to definition: from `entry: <symbol>` to the symbol's source line, when
// the image carries DWARF line information.

import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Location, Position } from 'vscode-languageserver/node';
import { imageFacts } from '../vmspec/image-checks';
import { LineTable } from '../formats/dwarf/line-table';
import type { ParsedDocument } from './documents';

/** Line tables by image path, re-read when the image changes (symbols come from vmspec/image-checks' cache). */
const tables = new Map<string, { mtimeMs: number; table: LineTable }>();

function lineTable(file: string): LineTable {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const hit = tables.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.table;
  const table = LineTable.fromElf(fs.readFileSync(file));
  tables.set(file, { mtimeMs, table });
  return table;
}

export function definition(doc: ParsedDocument, pos: Position): Location | null {
  const spec = doc.result.spec;
  const at = doc.result.ranges.pathAt(pos);
  if (!spec || !at || at.on !== 'value' || at.path.join('.') !== 'boot.entry' || typeof spec.boot.entry !== 'string') return null;
  const facts = imageFacts(spec.boot.image);
  const addr = 'missing' in facts ? undefined : facts.symbols.get(spec.boot.entry);
  if (addr === undefined) return null;
  const loc = lineTable(spec.boot.image).lookup(addr);
  if (!loc) return null;
  const line = Math.max(0, loc.line - 1);
  return { uri: pathToFileURL(loc.file).href, range: { start: { line, character: 0 }, end: { line, character: 0 } } };
}
