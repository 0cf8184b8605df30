// Regenerates the key reference in docs/spec.md from vmspec/schema.ts
// (via the compiled out/vmspec/reference.js). `npm test` checks it is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { specReferenceMarkdown, REFERENCE_BEGIN, REFERENCE_END } = require('../out/vmspec/reference.js');
const file = new URL('../docs/spec.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const start = text.indexOf(REFERENCE_BEGIN);
const end = text.indexOf(REFERENCE_END);
if (start < 0 || end < start) throw new Error('docs/spec.md lacks the reference markers');
const next = text.slice(0, start + REFERENCE_BEGIN.length) + '\n' + specReferenceMarkdown() + '\n' + text.slice(end);
writeFileSync(file, next);

// And the JSON Schema for other YAML tools.
const { vmspecJsonSchema } = require('../out/vmspec/json-schema.js');
writeFileSync(new URL('../schemas/vmspec.schema.json', import.meta.url), JSON.stringify(vmspecJsonSchema(), null, 2) + '\n');
