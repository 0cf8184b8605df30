// The parse of each open document, cached per document version so that every feature of one keystroke
// (diagnostics, hover, completion, hints, ...) shares one parseSpec call.

import { fileURLToPath } from 'node:url';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { type SpecParseResult, parseSpec } from '../vmspec/parse';
import { checkImage } from '../vmspec/image-checks';
import { YamlChunkCache } from '../vmspec/yaml-chunks';
import { checkHost, thisHost } from '../vmspec/host-checks';
import { type SchemaNode, schemaAt, vmSpecSchema } from '../vmspec/schema';
import type { SpecPath, SpecRange } from '../vmspec/types';

export interface ParsedDocument {
  readonly uri: string;
  readonly version: number;
  readonly text: string;
  readonly lines: readonly string[];
  readonly result: SpecParseResult;
}

export class ParseCache {
  private readonly byUri = new Map<string, ParsedDocument>();
  /** Each document's parsed YAML pieces, so that an edit re-parses only the top-level block or region it touched. */
  private readonly pieces = new Map<string, YamlChunkCache>();
  /** The host's RAM, CPUs and /dev/kvm access, read once. */
  private readonly host = thisHost();

  get(doc: TextDocument): ParsedDocument {
    const hit = this.byUri.get(doc.uri);
    if (hit && hit.version === doc.version) return hit;
    const text = doc.getText();
    let pieces = this.pieces.get(doc.uri);
    if (!pieces) this.pieces.set(doc.uri, (pieces = new YamlChunkCache()));
    const result = parseSpec(text, fileOf(doc.uri), { pieces });
    // What only the image file and the host can tell (the image's facts are cached by mtime).
    const more = [...checkImage(result), ...checkHost(result, this.host)];
    if (more.length) {
      result.diagnostics = [...result.diagnostics, ...more].sort(
        (a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
      );
    }
    const parsed: ParsedDocument = { uri: doc.uri, version: doc.version, text, lines: text.split(/\r?\n/), result };
    this.byUri.set(doc.uri, parsed);
    return parsed;
  }

  delete(uri: string): void {
    this.byUri.delete(uri);
    this.pieces.delete(uri);
  }
}

/** The file system path of a file: URI (relative image paths resolve against it), or '' for untitled buffers. */
function fileOf(uri: string): string {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : '';
  } catch {
    return '';
  }
}

/** The text a range covers, for ranges on one line (the only kind scalar values have). */
export function textAt(doc: ParsedDocument, r: SpecRange): string {
  if (r.start.line !== r.end.line) return '';
  return (doc.lines[r.start.line] ?? '').slice(r.start.character, r.end.character);
}

/** A scalar's text without YAML quotes. */
export function unquote(s: string): string {
  const t = s.trim();
  return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t;
}

/**
 * Every key path written in the document that the schema knows, parents before children, with its schema node.
 * Sequence items are found by index until the first one that is not written.
 */
export function writtenPaths(doc: ParsedDocument): { path: SpecPath; schema: SchemaNode }[] {
  const out: { path: SpecPath; schema: SchemaNode }[] = [];
  const ranges = doc.result.ranges;
  const visit = (p: SpecPath, node: SchemaNode) => {
    if (node.type === 'object') {
      for (const [key, child] of Object.entries(node.properties)) {
        const cp = [...p, key];
        if (!ranges.has(cp)) continue;
        out.push({ path: cp, schema: child });
        visit(cp, child);
      }
    } else if (node.type === 'array') {
      for (let i = 0; i < 10_000 && ranges.has([...p, i]); i++) {
        out.push({ path: [...p, i], schema: node.items });
        visit([...p, i], node.items);
      }
    }
  };
  visit([], vmSpecSchema);
  return out;
}

export { schemaAt };
