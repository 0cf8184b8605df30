// The vmspec TextMate grammar against the scope assertions in syntaxes/tests/*.vmspec, checked by vscode-tmgrammar-test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Tests run from out/test/, two levels below the repository root.
const ROOT = path.resolve(__dirname, '..', '..');

test('syntaxes/tests/*.vmspec: every scope assertion holds', () => {
  const tool = path.join(ROOT, 'node_modules', '.bin', 'vscode-tmgrammar-test');
  // The glob is expanded by the tool, not a shell. --config points at package.json, whose
  // contributes.grammars names the same grammar file; -g makes the file under test explicit.
  const r = spawnSync(tool, ['-g', 'syntaxes/vmspec.tmLanguage.json', '--config', 'package.json', 'syntaxes/tests/*.vmspec'], {
    cwd: ROOT,
    encoding: 'utf8',
    // A malformed assertion line can make the tool loop forever; fail instead of hanging the suite.
    timeout: 60_000,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  assert.equal(r.error, undefined, `could not run ${tool}: ${r.error?.message}\n${output}`);
  assert.equal(r.status, 0, `vscode-tmgrammar-test exited with ${r.status ?? r.signal}:\n${output}`);
  // The tool names each file it ran; make sure none was skipped.
  for (const file of fs.readdirSync(path.join(ROOT, 'syntaxes', 'tests')).filter((f) => f.endsWith('.vmspec'))) {
    assert.ok(output.includes(`syntaxes/tests/${file}`), `${file} was not run:\n${output}`);
  }
});
