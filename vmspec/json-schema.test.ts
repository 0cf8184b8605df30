import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { vmspecJsonSchema } from './json-schema';

test('schemas/vmspec.schema.json is current (run `npm run docs` after changing the schema)', () => {
  const file = path.resolve(__dirname, '..', '..', 'schemas', 'vmspec.schema.json');
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(vmspecJsonSchema())));
});

test('the JSON Schema carries keys, required keys, enums and defaults from the one schema', () => {
  const s = vmspecJsonSchema() as { required: string[]; properties: Record<string, { properties?: Record<string, { enum?: string[]; default?: unknown }>; default?: unknown }> };
  assert.deepEqual(s.required, ['name', 'boot']);
  assert.deepEqual(s.properties.boot!.properties!.mode!.enum, ['real', 'protected', 'long']);
  assert.equal(s.properties.boot!.properties!.mode!.default, 'long');
  assert.equal(s.properties.vcpus!.default, 1);
  const size = JSON.stringify(s.properties.memory);
  assert.match(size, /MiB|KMGT/);
});
