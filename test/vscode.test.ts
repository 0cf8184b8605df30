// Runs the extension-host tests (test/vscode/run.ts) as one node:test test, skipped with the runner's reason when
// no VS Code build is available (as on machines that cannot download one).

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const r = process.env.VMSCOPE_SKIP_VSCODE_TESTS === '1'
  ? undefined
  : spawnSync(process.execPath, [path.join(__dirname, 'vscode', 'run.js')], { encoding: 'utf8', timeout: 15 * 60_000 });
const skipped = !r ? 'VMSCOPE_SKIP_VSCODE_TESTS=1' : /^SKIPPED: (.*)$/m.exec(r.stdout)?.[1];

test('extension-host tests in VS Code (@vscode/test-electron)', { skip: skipped }, () => {
  assert.equal(r!.status, 0, `${r!.stdout}\n${r!.stderr}`);
});
