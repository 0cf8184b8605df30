// `npm run fuzz [-- --runs N --seed S --part NAME]`: runs the reliability
// harness's parts with their default counts (the targets in
// docs/reliability.md) or the given ones, prints a table, and exits 1 when
// any part found something.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, type FuzzPart, type PartResult } from './harness';
import { guestsPart } from './guests';
import { specsPart } from './specs';
import { dapPart } from './dap';
import { lifecyclePart } from './lifecycle';

/** Every part, in the order they run. */
const PARTS: FuzzPart[] = [
  // Each part is one module under fuzz/ exporting a FuzzPart; list it here.
  guestsPart,
  specsPart,
  dapPart,
  lifecyclePart,
];

async function main(): Promise<number> {
  let values: { runs?: string | undefined; seed?: string | undefined; part?: string[] | undefined };
  try {
    ({ values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' }, part: { type: 'string', multiple: true } } }));
  } catch (e) {
    console.error(`vmscope fuzz: ${(e as Error).message}; usage: npm run fuzz -- [--runs N] [--seed S] [--part NAME]...`);
    return 2;
  }
  const runs = values.runs === undefined ? undefined : Number(values.runs);
  const seed = values.seed === undefined ? Date.now() >>> 0 : Number(values.seed);
  if ((runs !== undefined && !(Number.isInteger(runs) && runs > 0)) || !(Number.isInteger(seed) && seed >= 0)) {
    console.error('vmscope fuzz: --runs takes a positive integer and --seed a non-negative one');
    return 2;
  }
  const unknown = (values.part ?? []).filter((p) => !PARTS.some((x) => x.name === p));
  if (unknown.length > 0) {
    console.error(`vmscope fuzz: no part ${unknown.join(', ')}; the parts are ${PARTS.map((p) => p.name).join(', ') || '(none yet)'}`);
    return 2;
  }
  const chosen = values.part ? PARTS.filter((p) => values.part!.includes(p.name)) : PARTS;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-fuzz-'));
  console.log(`vmscope fuzz: seed ${seed}, work files in ${workDir}`);
  const results: PartResult[] = [];
  for (const part of chosen) {
    const n = runs ?? part.defaultRuns;
    console.log(`-- ${part.name}: ${n} runs`);
    results.push(await part.run({ runs: n, seed, workDir, log: (line) => console.log(`   ${line}`) }));
  }
  console.log('\n' + formatTable(results));
  for (const r of results) for (const f of r.findings) console.log(`${r.part} #${f.index}: ${f.what}${f.reproducer ? ` (${f.reproducer})` : ''}`);
  return results.some((r) => r.findings.length > 0) ? 1 : 0;
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
