// Completion: keys valid in the mapping at the cursor (minus those already written), with snippets for the
// boot block and for a region; enum values (and booleans) at value positions, including list items;
// files next to the spec for `image:`, and the image's functions for `entry:`.

import { hex } from '../common/address';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageFacts } from '../vmspec/image-checks';
import type { CompletionItem, Position } from 'vscode-languageserver/node';
import { CompletionItemKind, InsertTextFormat, InsertTextMode, MarkupKind } from 'vscode-languageserver/node';
import { type EnumSchema, type ObjectSchema, type SchemaNode, schemaAt } from '../vmspec/schema';
import type { SpecPath } from '../vmspec/types';
import { type Span, cursorContext, itemKeysBelow } from './context';
import type { ParsedDocument } from './documents';
import { keyHover } from './hover';

const BOOT_SNIPPET = 'boot:\n  image: ${1:build/guest.elf}\n  format: ${2|elf,flat|}\n  mode: ${3|long,protected,real|}\n$0';
const REGION_FIELDS = 'name: ${1:mmio0}\n  gpa: ${2:0xd0000000}\n  size: ${3:4KiB}\n  kind: ${4|mmio,ram,rom|}';

export function complete(doc: ParsedDocument, pos: Position): CompletionItem[] {
  const ctx = cursorContext(doc.lines, pos.line, pos.character);
  if (!ctx) return [];
  if (ctx.kind === 'key') {
    const parent = schemaAt(ctx.parent);
    return parent?.type === 'object' ? keyItems(parent, ctx.parent, ctx.present, ctx.replace) : [];
  }
  const schema = schemaAt(ctx.path);
  if (!schema) return [];
  if (schema.type === 'object' && typeof ctx.path[ctx.path.length - 1] === 'number') {
    // `- |` in a list of mappings: the item's first key, or the whole item.
    const present = itemKeysBelow(doc.lines, pos.line, ctx.replace.start);
    const items = keyItems(schema, ctx.path, present, ctx.replace);
    if (ctx.path[0] === 'regions' && ctx.path.length === 2 && present.size === 0) items.unshift(regionItem(ctx.replace, false));
    return items;
  }
  const prefix = ctx.needsSpace ? ' ' : '';
  const where = ctx.path.join('.');
  if (where === 'boot.image') {
    // The whole path typed so far after `image:`, which the word-based span does not cover past a `/`.
    const typed = /:\s*(\S*)$/.exec((doc.lines[pos.line] ?? '').slice(0, pos.character))?.[1] ?? '';
    return pathItems(doc, typed, { line: pos.line, start: pos.character - typed.length, end: Math.max(ctx.replace.end, pos.character) }, prefix);
  }
  if (where === 'boot.entry') return symbolItems(doc, ctx.replace, prefix);
  if (schema.type === 'enum') return enumItems(schema, ctx.present, ctx.replace, prefix);
  if (schema.type === 'boolean' || (schema.type === 'object' && schema.toggle)) {
    return ['true', 'false'].map((v, i) => ({ label: v, kind: CompletionItemKind.Value, sortText: String(i), textEdit: edit(ctx.replace, prefix + v) }));
  }
  return [];
}

function keyItems(parent: ObjectSchema, p: SpecPath, present: Set<string>, replace: Span): CompletionItem[] {
  const items: CompletionItem[] = [];
  for (const [key, child] of Object.entries(parent.properties)) {
    if (present.has(key)) continue;
    const snippet = key === 'boot' && p.length === 0 ? BOOT_SNIPPET : keySnippet(key, child);
    items.push({
      label: key,
      kind: child.type === 'object' || child.type === 'array' ? CompletionItemKind.Module : CompletionItemKind.Property,
      detail: summary(child.description),
      documentation: { kind: MarkupKind.Markdown, value: keyHover([...p, key], child) },
      // Required keys first, then schema order.
      sortText: `${child.required ? 0 : 1}${String(items.length).padStart(3, '0')}`,
      insertTextFormat: InsertTextFormat.Snippet,
      insertTextMode: InsertTextMode.adjustIndentation,
      textEdit: edit(replace, snippet),
    });
  }
  if (p.length === 0 && !present.has('regions')) items.push(regionItem(replace, true));
  return items;
}

/** A whole region: as a new `regions:` list at the top level, or as one list item's keys after `- `. */
function regionItem(replace: Span, withKey: boolean): CompletionItem {
  const body = withKey ? `regions:\n  - ${REGION_FIELDS.replace(/\n/g, '\n  ')}\n$0` : `${REGION_FIELDS}\n$0`;
  return {
    label: 'region',
    kind: CompletionItemKind.Snippet,
    detail: 'A guest-physical region (name, gpa, size, kind)',
    sortText: '2',
    insertTextFormat: InsertTextFormat.Snippet,
    insertTextMode: InsertTextMode.adjustIndentation,
    textEdit: edit(replace, body),
  };
}

function keySnippet(key: string, s: SchemaNode): string {
  switch (s.type) {
    case 'object': return s.toggle ? `${key}: \${1|true,false|}` : `${key}:\n  $0`;
    case 'array': return `${key}:\n  - $0`;
    case 'enum': return `${key}: \${1|${[...s.values].map(escapeChoice).join(',')}|}`;
    case 'boolean': return `${key}: \${1|true,false|}`;
    default: return `${key}: $0`;
  }
}

function enumItems(s: EnumSchema, present: Set<string>, replace: Span, prefix: string): CompletionItem[] {
  return s.values
    .filter((v) => !present.has(v))
    .map((v, i) => {
      const d = s.valueDescriptions?.[v];
      const item: CompletionItem = { label: v, kind: CompletionItemKind.EnumMember, sortText: String(i).padStart(3, '0'), textEdit: edit(replace, prefix + v) };
      if (s.default === v) item.detail = 'default';
      if (d !== undefined) item.documentation = { kind: MarkupKind.Markdown, value: d };
      return item;
    });
}

function edit(r: Span, newText: string) {
  return { range: { start: { line: r.line, character: r.start }, end: { line: r.line, character: r.end } }, newText };
}

function summary(description: string): string {
  const m = /^(.*?\.)(\s|$)/.exec(description);
  return (m ? m[1]! : description).replace(/`/g, '');
}

function escapeChoice(v: string): string {
  return v.replace(/[\\|,$}]/g, (c) => `\\${c}`);
}

/** Files and directories next to the spec, for `image:` (paths are relative to the spec). */
function pathItems(doc: ParsedDocument, typed: string, replace: Span, prefix: string): CompletionItem[] {
  const specFile = doc.result.spec?.file || fileOfUri(doc.uri);
  if (!specFile) return [];
  const base = path.dirname(specFile);
  const dirPart = typed.includes('/') ? typed.slice(0, typed.lastIndexOf('/') + 1) : '';
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.resolve(base, dirPart), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => !e.name.startsWith('.'))
    .slice(0, 500)
    .map((e) => ({
      label: dirPart + e.name + (e.isDirectory() ? '/' : ''),
      kind: e.isDirectory() ? CompletionItemKind.Folder : CompletionItemKind.File,
      sortText: (e.isDirectory() ? '1' : '0') + e.name,
      textEdit: edit(replace, prefix + dirPart + e.name + (e.isDirectory() ? '/' : '')),
      ...(e.isDirectory() ? { command: { title: 'again', command: 'editor.action.triggerSuggest' } } : {}),
    }));
}

/** The image's function symbols, for `entry:`. */
function symbolItems(doc: ParsedDocument, replace: Span, prefix: string): CompletionItem[] {
  const image = doc.result.spec?.boot.image;
  if (!image) return [];
  const facts = imageFacts(image);
  if ('missing' in facts) return [];
  return [...facts.functions].slice(0, 2000).map(([name, addr]) => ({
    label: name,
    kind: CompletionItemKind.Function,
    detail: hex(addr),
    textEdit: edit(replace, prefix + name),
  }));
}

function fileOfUri(uri: string): string {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : '';
  } catch {
    return '';
  }
}
