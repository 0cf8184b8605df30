// Hover: on a key, the schema's description, type, default and allowed values; on a size or address value,
// the number in hex, decimal and binary units; on an enum value, what that value means.

import { isGpa } from '../common/address';
import type { Hover, Position } from 'vscode-languageserver/node';
import { MarkupKind } from 'vscode-languageserver/node';
import { formatPath } from '../vmspec/source-map';
import { type SchemaNode, schemaAt } from '../vmspec/schema';
import { formatHex, formatSize, parseAddress, parseIntegerLiteral, parseSize } from '../vmspec/units';
import { type ParsedDocument, textAt, unquote } from './documents';
import { describeImage } from '../vmspec/image-checks';

export function hover(doc: ParsedDocument, pos: Position): Hover | null {
  const at = doc.result.ranges.pathAt(pos);
  if (!at || at.path.length === 0) return null;
  const schema = schemaAt(at.path);
  if (!schema) return null;
  const range = at.on === 'key' ? doc.result.ranges.keyRange(at.path) : doc.result.ranges.valueRange(at.path);
  if (at.on === 'value') {
    // The image path: what the file holds (read once per mtime).
    if (at.path.length === 2 && at.path[0] === 'boot' && at.path[1] === 'image' && doc.result.spec) {
      return { contents: { kind: MarkupKind.Markdown, value: describeImage(doc.result.spec.boot.image) }, ...(range ? { range } : {}) };
    }
    let value = range ? valueHover(schema, unquote(textAt(doc, range))) : undefined;
    if (value !== undefined && schema.type === 'address' && range) value += whereIs(doc, unquote(textAt(doc, range)));
    if (value !== undefined) return { contents: { kind: MarkupKind.Markdown, value }, ...(range ? { range } : {}) };
    // Containers and plain strings have nothing of their own to say; fall through to the key's documentation.
    if (schema.type === 'object' || schema.type === 'array') return null;
  }
  return { contents: { kind: MarkupKind.Markdown, value: keyHover(at.path, schema) }, ...(range ? { range } : {}) };
}

/** For a guest-physical address: the region or RAM it falls in, and its 4 KiB page number. */
function whereIs(doc: ParsedDocument, text: string): string {
  const a = parseAddress(text);
  const spec = doc.result.spec;
  if (!a.ok || !isGpa(a.value)) return '';
  const gpa = Number(a.value);
  let place = 'no RAM or region';
  if (spec) {
    const r = spec.regions.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
    if (r) place = `region **${r.name}** (${r.kind}), offset \`${formatHex(BigInt(gpa - r.gpa))}\``;
    else if (gpa < spec.memory) place = 'RAM';
  }
  return `\n| in | ${place} |\n| page | \`${formatHex(a.value >> 12n)}\` (4 KiB page number) |`;
}

/** Markdown documentation for a key: shared with completion items. */
export function keyHover(p: readonly (string | number)[], schema: SchemaNode): string {
  const lines = [`**${formatPath(p)}**: ${typeName(schema)}${schema.required ? ' (required)' : ''}`, '', schema.description];
  const def = defaultOf(schema);
  if (def !== undefined) lines.push('', `Default: ${def}`);
  const values = schema.type === 'enum' ? schema : schema.type === 'array' && schema.items.type === 'enum' ? schema.items : undefined;
  if (values) {
    lines.push('', 'Allowed values:', '');
    for (const v of values.values) {
      const d = values.valueDescriptions?.[v];
      lines.push(`- \`${v}\`${d ? `: ${d}` : ''}`);
    }
  }
  return lines.join('\n');
}

function typeName(s: SchemaNode): string {
  switch (s.type) {
    case 'address': return s.symbol ? `address (${s.bits}-bit) or symbol` : `address (${s.bits}-bit)`;
    case 'enum': return `enum (${s.values.join(' | ')})`;
    case 'array': return `list of ${typeName(s.items)}`;
    case 'object': return s.toggle ? 'mapping, true or false' : s.shorthand ? `mapping, or just its ${s.shorthand}` : 'mapping';
    default: return s.type;
  }
}

function defaultOf(s: SchemaNode): string | undefined {
  if (s.defaultText !== undefined) return s.defaultText;
  switch (s.type) {
    case 'size': return s.default !== undefined ? `\`${formatSize(s.default).replace(' ', '')}\`` : undefined;
    case 'integer': return s.default !== undefined ? `\`${s.hex ? formatHex(s.default) : s.default}\`` : undefined;
    case 'address': return s.default !== undefined ? `\`${formatHex(s.default)}\`` : undefined;
    case 'enum': case 'string': case 'boolean': return s.default !== undefined ? `\`${String(s.default)}\`` : undefined;
    case 'object': return s.toggle ? (s.toggle.default ? 'present' : 'absent') : undefined;
    case 'array': return undefined;
  }
}

function valueHover(schema: SchemaNode, text: string): string | undefined {
  if (schema.type === 'enum') {
    const d = schema.valueDescriptions?.[text];
    return d !== undefined ? `\`${text}\`: ${d}` : undefined;
  }
  const n =
    schema.type === 'size' ? parseSize(text) : schema.type === 'address' ? parseAddress(text) : schema.type === 'integer' ? parseIntegerLiteral(text) : undefined;
  if (!n?.ok) return undefined;
  const v = n.value;
  return [
    '| | |',
    '|---|---|',
    `| hex | \`${formatHex(v, { group: v > 0xffffffffn })}\` |`,
    `| decimal | \`${v.toString()}\` |`,
    `| size | ${formatSize(v)} |`,
  ].join('\n');
}
