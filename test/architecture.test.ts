// The layering rules of docs/architecture.md, checked on the source: no import
// cycles anywhere, each folder imports only the folders below it, and nothing
// above vmm/ reaches a backend's own modules (vmm/kvm/, vmm/emu/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import madge from 'madge';
import { ROOT } from './kvm';

const DIRS = ['common', 'formats', 'vmm', 'vmspec', 'debug-adapter', 'gdb-stub', 'cli', 'language-server', 'extension', 'bench', 'test'];

async function graph() {
  return madge(DIRS.map((d) => path.join(ROOT, d)), {
    baseDir: ROOT,
    fileExtensions: ['ts'],
    tsConfig: path.join(ROOT, 'tsconfig.json'),
    detectiveOptions: { ts: { skipTypeImports: false } },
  });
}

test('no import cycles', { timeout: 60_000 }, async () => {
  const g = await graph();
  assert.deepEqual(g.circular(), []);
  // The check sees the whole tree (a wrong base directory would find no files and no cycles).
  assert.ok(Object.keys(g.obj()).length > 100, `only ${Object.keys(g.obj()).length} files seen`);
});

test('front ends see the backend seam, not a backend', { timeout: 60_000 }, async () => {
  const g = await graph();
  const above = ['vmspec/', 'debug-adapter/', 'gdb-stub/', 'cli/', 'language-server/', 'extension/'];
  const leaks: string[] = [];
  for (const [file, deps] of Object.entries(g.obj())) {
    if (!above.some((d) => file.startsWith(d)) || file.endsWith('.test.ts')) continue;
    for (const dep of deps) if (dep.startsWith('vmm/kvm/') || dep.startsWith('vmm/emu/')) leaks.push(`${file} -> ${dep}`);
  }
  assert.deepEqual(leaks, []);
});

/** What each folder's non-test code may import, besides itself (docs/architecture.md, "Folders"). */
const LAYERS: Record<string, readonly string[]> = {
  common: [],
  formats: ['common'],
  vmspec: ['common', 'formats'],
  vmm: ['common', 'formats', 'vmspec'],
  'debug-adapter': ['common', 'formats', 'vmspec', 'vmm', 'gdb-stub'],
  'gdb-stub': ['common', 'formats', 'vmspec', 'vmm'],
  'language-server': ['common', 'formats', 'vmspec'],
  cli: ['common', 'formats', 'vmspec', 'vmm', 'gdb-stub'],
  extension: ['common', 'vmspec'],
};

test('each folder imports only the folders below it', { timeout: 60_000 }, async () => {
  const g = await graph();
  const wrong: string[] = [];
  let checked = 0;
  for (const [file, deps] of Object.entries(g.obj())) {
    const top = file.split('/')[0];
    const allowed = LAYERS[top];
    if (!allowed || file.endsWith('.test.ts')) continue;
    checked++;
    for (const dep of deps) {
      const to = dep.split('/')[0];
      if (to !== top && !allowed.includes(to)) wrong.push(`${file} -> ${dep}`);
    }
  }
  assert.ok(checked > 100, `only ${checked} files checked`);
  assert.deepEqual(wrong, []);
});
