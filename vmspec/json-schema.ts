// Generates schemas/vmspec.schema.json from vmspec/schema.ts, so that other
// YAML tools (yaml-language-server, editors) get the basics: keys, types,
// enums, defaults and descriptions. What no JSON Schema can say (sizes with
// units, overlaps, image checks) stays with vmscope's own checker.

import { vmSpecSchema, type SchemaNode } from './schema';

type Json = { [key: string]: unknown };

const SIZE_PATTERN = '^\\s*(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*(\\.[0-9]+)?)\\s*([KMGT]iB|[kmgt]ib|B|bytes)?\\s*$';
const ADDRESS_PATTERN = '^\\s*(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)\\s*([KMGT]iB)?\\s*$';

function node(n: SchemaNode): Json {
  const out: Json = { description: n.description, markdownDescription: n.description };
  switch (n.type) {
    case 'string':
      out.type = 'string';
      if (n.minLength) out.minLength = n.minLength;
      if (n.default !== undefined) out.default = n.default;
      break;
    case 'integer':
      out.type = 'integer';
      if (n.min !== undefined) out.minimum = n.min;
      if (n.max !== undefined) out.maximum = n.max;
      if (n.default !== undefined) out.default = n.default;
      break;
    case 'size':
      out.anyOf = [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: SIZE_PATTERN }];
      break;
    case 'address':
      out.anyOf = [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: n.symbol ? `${ADDRESS_PATTERN}|^[A-Za-z_.$][\\w.$@]*$` : ADDRESS_PATTERN }];
      break;
    case 'enum':
      out.enum = [...n.values];
      if (n.default !== undefined) out.default = n.default;
      break;
    case 'boolean':
      out.type = 'boolean';
      if (n.default !== undefined) out.default = n.default;
      break;
    case 'array':
      out.type = 'array';
      out.items = node(n.items);
      break;
    case 'object': {
      const props: Json = {};
      for (const [k, v] of Object.entries(n.properties)) props[k] = node(v);
      const obj: Json = { type: 'object', properties: props, additionalProperties: false };
      const required = Object.entries(n.properties).filter(([, v]) => v.required).map(([k]) => k);
      if (required.length) obj.required = required;
      if (n.toggle) {
        out.anyOf = [obj, { type: 'boolean' }, { type: 'null' }];
      } else if (n.shorthand) {
        out.anyOf = [obj, { type: 'string' }];
      } else Object.assign(out, obj);
      break;
    }
  }
  return out;
}

export function vmspecJsonSchema(): Json {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'vmscope VM spec (.vmspec)',
    ...node(vmSpecSchema),
    $comment: 'Generated from vmspec/schema.ts by `npm run docs`; do not edit.',
  };
}
