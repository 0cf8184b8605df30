// The layering rules of docs/architecture.md, checked on the source: no import
// cycles anywhere, and nothing above vmm/ reaching a backend's own modules
// (vmm/kvm/, vmm/emu/) except tests of those backends and the language
// server's file-only check of where Unicorn is (vmm/emu/locate.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import madge from 'madge';
import { ROOT } from './kvm';

const DIRS = ['vmm', 'spec', 'debug-adapter', 'cli', 'language-server', 'extension', 'bench', 'test'];

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
  const above = ['spec/', 'debug-adapter/', 'cli/', 'language-server/', 'extension/'];
  const allowed = new Set(['vmm/emu/locate.ts']);
  const leaks: string[] = [];
  for (const [file, deps] of Object.entries(g.obj())) {
    if (!above.some((d) => file.startsWith(d)) || file.endsWith('.test.ts')) continue;
    for (const dep of deps) if ((dep.startsWith('vmm/kvm/') || dep.startsWith('vmm/emu/')) && !allowed.has(dep)) leaks.push(`${file} -> ${dep}`);
  }
  assert.deepEqual(leaks, []);
});
