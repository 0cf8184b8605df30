// Gets Unicorn (>= 2.1) for the emulation backend at `npm install`, without
// root: its headers for building the addon and its shared library for
// loading at run time, into .unicorn/{include,lib}. vmscope loads the library
// with dlopen rather than linking it (see docs/backends.md: a host without it
// still runs KVM, and VMSCOPE_UNICORN can point at another copy).
//
// Where from, first match wins:
//   1. VMSCOPE_UNICORN=/path/to/libunicorn.so.2 (headers from ../include next to it);
//   2. an existing .unicorn/ from an earlier install;
//   3. the `unicorn` wheel on PyPI (Unicorn's own build: lib and headers inside),
//      fetched with `python3 -m pip download`, which touches no Python environment;
//   4. a system copy (/usr/include/unicorn and libunicorn.so.2), checked for >= 2.1 at run time.
// Never fails the install: without Unicorn the addon is built without the
// emulator and `vmscope info` says how to get it.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEST = path.join(ROOT, '.unicorn');
const VERSION = '2.1.4';
const say = (m) => console.log(`vmscope: ${m}`);

const hasHeaders = (dir) => fs.existsSync(path.join(dir, 'unicorn', 'unicorn.h')) && fs.existsSync(path.join(dir, 'unicorn', 'x86.h'));

function fromEnv() {
  const lib = process.env.VMSCOPE_UNICORN;
  if (!lib) return false;
  const inc = path.resolve(path.dirname(lib), '..', 'include');
  if (!hasHeaders(inc)) {
    say(`VMSCOPE_UNICORN=${lib}: no headers at ${inc}; looking elsewhere for them`);
    return false;
  }
  fs.mkdirSync(DEST, { recursive: true });
  fs.rmSync(path.join(DEST, 'include'), { recursive: true, force: true });
  fs.cpSync(inc, path.join(DEST, 'include'), { recursive: true });
  say(`Unicorn headers from ${inc}; library ${lib} (VMSCOPE_UNICORN)`);
  return true;
}

function fromWheel() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-unicorn-'));
  try {
    execFileSync('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '1', '--timeout', '15', '-q', '-d', tmp, `unicorn==${VERSION}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    });
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip downloaded no wheel');
    // A wheel is a zip: python3's zipfile unpacks it (no unzip needed).
    execFileSync('python3', ['-c', 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', path.join(tmp, wheel), path.join(tmp, 'x')]);
    const base = path.join(tmp, 'x', 'unicorn');
    const lib = path.join(base, 'lib', 'libunicorn.so.2');
    if (!fs.existsSync(lib) || !hasHeaders(path.join(base, 'include'))) throw new Error(`${wheel} holds no lib/libunicorn.so.2 and headers`);
    fs.rmSync(DEST, { recursive: true, force: true });
    fs.mkdirSync(path.join(DEST, 'lib'), { recursive: true });
    fs.copyFileSync(lib, path.join(DEST, 'lib', 'libunicorn.so.2'));
    fs.cpSync(path.join(base, 'include'), path.join(DEST, 'include'), { recursive: true });
    fs.writeFileSync(path.join(DEST, 'SOURCE'), `PyPI wheel ${wheel}\n`);
    say(`Unicorn ${VERSION} from PyPI (${wheel}) in .unicorn/`);
    return true;
  } catch (e) {
    const why = (e.stderr?.toString() || e.message || String(e)).trim().split('\n').filter(Boolean).pop();
    say(`could not fetch Unicorn ${VERSION} from PyPI (${why})`);
    return false;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function fromSystem() {
  for (const inc of ['/usr/include', '/usr/local/include']) {
    if (hasHeaders(inc)) {
      fs.mkdirSync(DEST, { recursive: true });
      fs.cpSync(path.join(inc, 'unicorn'), path.join(DEST, 'include', 'unicorn'), { recursive: true });
      say(`Unicorn headers from ${inc}; the system library must be 2.1 or newer (checked when it loads)`);
      return true;
    }
  }
  return false;
}

if (!(fromEnv() || hasHeaders(path.join(DEST, 'include')) || fromWheel() || fromSystem())) {
  say('no Unicorn found: the emulation backend is left out of this build (KVM still works).');
  say(`to add it: python3 -m pip download --no-deps unicorn==${VERSION}, or set VMSCOPE_UNICORN=/path/to/libunicorn.so.2 (with ../include), then npm rebuild`);
}
