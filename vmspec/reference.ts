// Renders the schema as the key reference in docs/spec.md, so the user docs
// are generated from the same definition the parser reads and cannot drift.

import { hex } from '../common/address';
import { vmSpecSchema, type SchemaNode } from './schema';
import { formatSize } from './units';

function typeName(n: SchemaNode): string {
  switch (n.type) {
    case 'string':
      return n.path ? 'path' : 'string';
    case 'integer':
      return `integer${n.min !== undefined && n.max !== undefined ? ` ${n.hex ? hex(n.min) : n.min}–${n.hex ? hex(n.max) : n.max}` : ''}`;
    case 'size':
      return 'size';
    case 'address':
      return n.symbol ? 'address or symbol' : `address (${n.bits}-bit)`;
    case 'enum':
      return n.values.map((v) => `\`${v}\``).join(' \\| ');
    case 'boolean':
      return 'boolean';
    case 'object':
      return n.toggle ? 'mapping, or `true`/`false`' : n.shorthand ? `mapping, or just its \`${n.shorthand}\`` : 'mapping';
    case 'array':
      return 'list';
  }
}

function defaultText(n: SchemaNode): string {
  if (n.required) return 'required';
  if ('default' in n && n.default !== undefined) {
    if (n.type === 'size') return `\`${formatSize(n.default).replace(' ', '')}\``;
    if (n.type === 'integer' && n.hex) return `\`${hex(n.default)}\``;
    return `\`${String(n.default)}\``;
  }
  if (n.type === 'object' && n.toggle) return n.toggle.default ? 'present' : 'absent';
  return n.defaultText ? n.defaultText.replace(/\n/g, ' ') : '—';
}

/** One table row per key, depth-first, with `regions[].gpa`-style paths. */
export function specReferenceMarkdown(): string {
  const rows: string[] = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
  const visit = (n: SchemaNode, path: string): void => {
    if (path) {
      const desc = n.description.replace(/\n+/g, ' ').replace(/\|/g, '\\|');
      rows.push(`| \`${path}\` | ${typeName(n)} | ${defaultText(n).replace(/\|/g, '\\|')} | ${desc} |`);
    }
    if (n.type === 'object') for (const [k, child] of Object.entries(n.properties)) visit(child, path ? `${path}.${k}` : k);
    if (n.type === 'array') visit(n.items, `${path}[]`);
  };
  visit(vmSpecSchema, '');
  // The array's item mapping itself adds nothing to the table.
  return rows.filter((r) => !/^\| `[^`]*\[\]` \| mapping /.test(r)).join('\n');
}

export const REFERENCE_BEGIN = '<!-- generated from vmspec/schema.ts by `npm run docs`: do not edit -->';
export const REFERENCE_END = '<!-- end of generated reference -->';
