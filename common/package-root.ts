// Where vmscope's files are on disk, found without loading anything native.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package root: where binding.gyp, build/ and prebuilds/ live. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..');
    dir = up;
  }
}
