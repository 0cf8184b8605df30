// Reading a .vmspec from disk, and printing diagnostics the way compilers do (file:line:col: severity: ...).
// Used by the CLI, the runner and the debug adapter; the language server parses editor text with parseSpec instead.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type ParseOptions, type SpecParseResult, parseSpec } from './parse';
import { SpecSourceMap } from './source-map';
import type { SpecDiagnostic } from './types';

const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent of it is not a directory',
  ELOOP: 'too many symbolic links',
};

/**
 * Reads and parses a spec file. Never throws for a bad or missing file: an unreadable file comes back
 * as an `unreadable-file` diagnostic at 1:1, so every caller reports problems the same way.
 */
export function loadSpecFile(file: string, options: ParseOptions = {}): SpecParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = (code !== undefined ? READ_ERRORS[code] : undefined) ?? (e instanceof Error ? e.message : String(e));
    const at = { line: 0, character: 0 };
    return {
      diagnostics: [{ severity: 'error', code: 'unreadable-file', message: `cannot read ${file}: ${reason}`, range: { start: at, end: at } }],
      ranges: new SpecSourceMap(),
    };
  }
  // Editors drop a UTF-8 byte order mark from the text they show; do the same so columns agree with theirs.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseSpec(text, path.resolve(file), options);
}

/**
 * `hello.vmspec:3:9: error: unknown key "memroy" (did you mean "memory"?) [unknown-key]`, with 1-based line and
 * column (UTF-16 units, as editors count). Related locations follow as `note:` lines.
 */
export function formatDiagnostic(file: string, d: SpecDiagnostic): string {
  const where = (r: SpecDiagnostic['range']) => `${file === '' ? '<input>' : file}:${r.start.line + 1}:${r.start.character + 1}`;
  const lines = [`${where(d.range)}: ${d.severity}: ${d.message} [${d.code}]`];
  for (const r of d.related ?? []) lines.push(`${where(r.range)}: note: ${r.message}`);
  return lines.join('\n');
}
