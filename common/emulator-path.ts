// Where vmscope looks for libunicorn, in order, without loading it: so the
// language server and `vmscope check` can tell whether the emulator can run a
// spec without the native addon. vmm/emu/native.ts loads the first that works.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './package-root';


export interface UnicornCandidate {
  path: string;
  /** Where it came from, for messages. */
  from: string;
}

const SYSTEM_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/** Candidate libraries, in the order vmscope tries them. */
export function unicornCandidates(env: NodeJS.ProcessEnv = process.env): UnicornCandidate[] {
  const out: UnicornCandidate[] = [];
  if (env.VMSCOPE_UNICORN) out.push({ path: env.VMSCOPE_UNICORN, from: 'VMSCOPE_UNICORN' });
  out.push({ path: path.join(packageRoot(), '.unicorn', 'lib', 'libunicorn.so.2'), from: 'npm install (.unicorn/)' });
  out.push({ path: 'libunicorn.so.2', from: 'the system library path' });
  return out;
}

export const HOW_TO_GET_UNICORN =
  'run `npm install` (it fetches Unicorn 2.1.4 from PyPI with python3 -m pip), or set VMSCOPE_UNICORN=/path/to/libunicorn.so.2';

/**
 * Why the emulator cannot run here, judged from files alone (no dlopen), or
 * undefined when a library is there to try. The version is checked when it loads.
 */
export function emulatorProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const c of unicornCandidates(env)) {
    if (path.isAbsolute(c.path)) {
      if (fs.existsSync(c.path)) return undefined;
      if (c.from === 'VMSCOPE_UNICORN') return `VMSCOPE_UNICORN=${c.path} does not exist`;
    } else if (SYSTEM_DIRS.some((d) => fs.existsSync(path.join(d, c.path)))) {
      return undefined;
    }
  }
  return `Unicorn 2.1+ is not installed; ${HOW_TO_GET_UNICORN}`;
}
