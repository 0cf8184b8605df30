// Reading a .vmspec from disk, and printing diagnostics the way compilers do (file:line:col: severity: ...).
// Used by the CLI, the runner and the debug adapter; the language server parses editor text with parseSpec instead.

import * as path from 'node:path';
import { readRegularFile } from '../common/read-file';
import { safeMessage } from './message-text';
import { type ParseOptions, type SpecParseResult, parseSpec } from './parse';
import { SpecSourceMap } from './source-map';
import type { SpecDiagnostic } from './types';

/** The largest spec file read (a spec is a few KiB); parse.ts applies the same limit to text from an editor. */
export const MAX_SPEC_BYTES = 256 * 1024;

/**
 * Reads and parses a spec file. Never throws for a bad or missing file: an unreadable file comes back
 * as an `unreadable-file` diagnostic at 1:1 (a too big one as `too-large`), so every caller reports problems
 * the same way. Only a regular file is read, and only up to MAX_SPEC_BYTES: /dev/zero or a FIFO is refused.
 */
export function loadSpecFile(file: string, options: ParseOptions = {}): SpecParseResult {
  const read = readRegularFile(file, MAX_SPEC_BYTES, 'a spec');
  if (!read.ok) {
    const at = { line: 0, character: 0 };
    const code = read.code === 'EFBIG' ? 'too-large' : 'unreadable-file';
    return {
      diagnostics: [{ severity: 'error', code, message: `cannot read ${file}: it ${read.problem}`, range: { start: at, end: at } }],
      ranges: new SpecSourceMap(),
    };
  }
  let text = new TextDecoder().decode(read.bytes);
  // Editors drop a UTF-8 byte order mark from the text they show; do the same so columns agree with theirs.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return parseSpec(text, path.resolve(file), options);
}

/**
 * `hello.vmspec:3:9: error: unknown key "memroy" (did you mean "memory"?) [unknown-key]`, with 1-based line and
 * column (UTF-16 units, as editors count). Related locations follow as `note:` lines.
 */
export function formatDiagnostic(file: string, d: SpecDiagnostic): string {
  // The file name and every message may hold bytes from the user (a path, a key): never raw control characters.
  const name = file === '' ? '<input>' : safeMessage(file);
  const where = (r: SpecDiagnostic['range']) => `${name}:${r.start.line + 1}:${r.start.character + 1}`;
  const lines = [`${where(d.range)}: ${d.severity}: ${safeMessage(d.message)} [${d.code}]`];
  for (const r of d.related ?? []) lines.push(`${where(r.range)}: note: ${safeMessage(r.message)}`);
  return lines.join('\n');
}
