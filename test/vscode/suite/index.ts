// Loaded by VS Code's extension host (see ../run.ts): runs the mocha suites in this directory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: true, timeout: 60_000 });
  for (const f of fs.readdirSync(__dirname)) if (f.endsWith('.suite.js')) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host tests failed`)) : resolve())));
}
