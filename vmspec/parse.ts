// Text → VmSpec with diagnostics and a source map: the schema walk (schema-walk.ts, generic, driven by schema.ts),
// then the semantic checks (semantic-checks.ts), the only key-specific code, for rules that span several keys.

import * as path from 'node:path';
import { type ObjectSchema, vmSpecSchema } from './schema';
import { droppedDiagnostic, walkText } from './schema-walk';
import { checkSemantics } from './semantic-checks';
import type { SpecSourceMap } from './source-map';
import type { Loose, Parsed, SpecDiagnostic, VmSpec } from './types';
import type { YamlChunkCache } from './yaml-chunks';

export interface SpecParseResult {
  /** Present only when there are no error diagnostics. */
  spec?: VmSpec;
  /**
   * Every value that is valid on its own, even when other keys have errors
   * (absent or invalid parts are undefined): host checks use it, so that they
   * show together with the spec's other errors.
   */
  partial?: Loose<Parsed>;
  /** Sorted by position. */
  diagnostics: SpecDiagnostic[];
  ranges: SpecSourceMap;
}

export interface ParseOptions {
  /** Directory for relative paths; defaults to the spec file's directory, or the working directory if `file` is ''. */
  dir?: string;
  /**
   * Parsed pieces of this document's earlier versions (see yaml-chunks.ts): the language server passes one per open
   * document so that a keystroke re-parses only the piece it changed. The result is the same with or without it.
   */
  pieces?: YamlChunkCache;
}

/**
 * Parse and check a .vmspec. Never throws on bad input: every problem, from YAML syntax to overlapping regions,
 * becomes a diagnostic with a range. `file` is used for `spec.file` and to resolve relative paths; pass '' for none.
 */
export function parseSpec(text: string, file: string, options: ParseOptions = {}): SpecParseResult {
  const absFile = file === '' ? '' : path.resolve(file);
  const dir = options.dir !== undefined ? path.resolve(options.dir) : absFile === '' ? process.cwd() : path.dirname(absFile);
  const { value, walker } = walkText(text, vmSpecSchema, dir, options.pieces);

  // The walker emits only schema-conforming values or undefined, so this is exactly what it can produce.
  const loose = value as Loose<Parsed>;
  if (loose) checkSemantics(loose, walker);

  const dropped = droppedDiagnostic(walker);
  const diagnostics = sortByPosition(dropped ? [...walker.diagnostics, dropped] : walker.diagnostics);
  const result: SpecParseResult = { diagnostics, ranges: walker.map };
  if (loose) result.partial = loose;
  if (!diagnostics.some((d) => d.severity === 'error')) {
    // No errors means every required key was present and every value valid, so the loose value is complete.
    result.spec = { ...(value as Parsed), file: absFile, dir };
  }
  return result;
}

/**
 * The generic half of parseSpec: YAML syntax and validation against any object schema, defaults applied, with no
 * cross-key checks. `value` holds whatever is valid (absent or invalid parts are undefined). For tests of the
 * walker and for tools that check other YAML described by a schema of the same kind.
 */
export function checkAgainstSchema(
  text: string,
  schema: ObjectSchema,
  dir: string,
): { value: unknown; diagnostics: SpecDiagnostic[]; ranges: SpecSourceMap } {
  const { value, walker } = walkText(text, schema, dir);
  const dropped = droppedDiagnostic(walker);
  return { value, diagnostics: sortByPosition(dropped ? [...walker.diagnostics, dropped] : walker.diagnostics), ranges: walker.map };
}

function sortByPosition(diagnostics: SpecDiagnostic[]): SpecDiagnostic[] {
  return diagnostics.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}
