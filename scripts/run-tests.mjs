// Runs every compiled test (out/**/*.test.js) with node's built-in runner, so
// CI counts each test. Extra arguments go to `node --test` (e.g. --test-only).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = find('out').sort();
if (files.length === 0) {
  console.error('no compiled tests under out/: run `npm run build` first');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
