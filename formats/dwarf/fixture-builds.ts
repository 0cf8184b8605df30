// Builds the DWARF line-table tests' guests from fixtures/ at test time, with the machine's gcc, gas (and llvm-mc
// when present), over a matrix of DWARF versions, -O levels, ELF classes, 64-bit DWARF and compressed sections.
// Shared by the line-table tests (not itself a test); each test process builds what it uses, once, in a temporary
// directory removed when its tests end.

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'formats', 'dwarf', 'fixtures');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-dwarf-'));
after(() => fs.rmSync(WORK, { recursive: true, force: true }));

export function run(cmd: string, args: string[], cwd = WORK): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export function hasTool(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Fixture {
  name: string;
  elf: string;
  bytes: Uint8Array;
  /** Where the sources were copied (the "build machine" checkout). */
  src: string;
  /** The directory each unit was compiled in, by the CU name readelf prints. */
  compDirFor(cu: string): string;
  /**
   * Whether readelf's file headers give each row's path. readelf prints the
   * directories of raw.S's strp tables as "unknown"; there, a row's file is
   * the one of `sources` with its base name (raw.S's base names are unique).
   */
  checkPaths: boolean;
  /** The source files the build's rows must name (absolute). */
  sources: string[];
}

const built = new Map<string, Fixture>();

/** A fresh copy of fixtures/ per build, so each build's comp dir is its own. */
function sourceTree(name: string): { root: string; src: string; obj: string } {
  const root = path.join(WORK, name);
  const src = path.join(root, 'src');
  const obj = path.join(root, 'build');
  fs.cpSync(FIXTURES, src, { recursive: true });
  fs.mkdirSync(obj);
  return { root, src, obj };
}

function fixture(name: string, make: () => Fixture): Fixture {
  let f = built.get(name);
  if (!f) built.set(name, (f = make()));
  return f;
}

export interface CVariant {
  name: string;
  cflags: string[];
  ldflags?: string[];
}

/**
 * main.o is linked first so its unit leads each section (the corruption tests
 * patch its headers). main.c and start.S are compiled in src/ (relative names), lib/util.c compiled
 * from build/ as ../src/lib/util.c, so paths must be joined and normalized.
 */
export function buildC(v: CVariant): Fixture {
  return fixture(v.name, () => {
    const { root, src, obj } = sourceTree(v.name);
    const cflags = ['-ffreestanding', '-fno-pic', '-fno-stack-protector', '-fcf-protection=none', '-fno-asynchronous-unwind-tables', ...v.cflags];
    run('gcc', [...cflags, '-c', 'main.c', '-o', path.join(obj, 'main.o')], src);
    run('gcc', [...cflags, '-c', 'start.S', '-o', path.join(obj, 'start.o')], src);
    run('gcc', [...cflags, '-c', '../src/lib/util.c', '-o', 'util.o'], obj);
    const elf = path.join(root, 'guest.elf');
    const m32 = v.cflags.includes('-m32') ? ['-m32'] : [];
    run('gcc', [...m32, '-nostdlib', '-static', '-no-pie', '-Wl,-Ttext=0x100000', '-Wl,-e,_start', '-Wl,--build-id=none', '-Wl,-z,noexecstack', ...(v.ldflags ?? []), '-o', elf, 'build/main.o', 'build/start.o', 'build/util.o'], root);
    const sources = ['main.c', 'start.S', 'lib/util.c', 'lib/util.h', 'other/util.h'].map((f) => path.join(src, f));
    return { name: v.name, elf, bytes: fs.readFileSync(elf), src, compDirFor: (cu) => (path.basename(cu) === 'util.c' ? obj : src), checkPaths: true, sources };
  });
}

function buildAsm(name: string, assemble: (src: string, obj: string) => void, bits: 32 | 64): Fixture {
  return fixture(name, () => {
    const { root, src } = sourceTree(name);
    const obj = path.join(root, 'gas.o');
    assemble(src, obj);
    const elf = path.join(root, 'guest.elf');
    run('ld', ['-m', bits === 32 ? 'elf_i386' : 'elf_x86_64', '-Ttext=0x200000', '-e', '_start', '--build-id=none', '-o', elf, obj], root);
    return { name, elf, bytes: fs.readFileSync(elf), src, compDirFor: () => src, checkPaths: true, sources: [path.join(src, 'gas.S'), path.join(src, 'lib/inc.S')] };
  });
}

export const C_VARIANTS: CVariant[] = [
  { name: 'gcc-dwarf4-O0', cflags: ['-g', '-gdwarf-4', '-O0'] },
  { name: 'gcc-dwarf4-O1', cflags: ['-g', '-gdwarf-4', '-O1'] },
  { name: 'gcc-dwarf5-O0', cflags: ['-g', '-gdwarf-5', '-O0'] },
  { name: 'gcc-dwarf5-O1', cflags: ['-g', '-gdwarf-5', '-O1'] },
  { name: 'gcc-dwarf2-O1', cflags: ['-g', '-gdwarf-2', '-O1'] },
  { name: 'gcc-dwarf3-O0', cflags: ['-g', '-gdwarf-3', '-O0'] },
  { name: 'gcc-dwarf4-O1-m32', cflags: ['-g', '-gdwarf-4', '-O1', '-m32'] },
  { name: 'gcc-dwarf5-O0-m32', cflags: ['-g', '-gdwarf-5', '-O0', '-m32'] },
  { name: 'gcc-dwarf5-O1-m32', cflags: ['-g', '-gdwarf-5', '-O1', '-m32'] },
  // gas writes .debug_line in 32-bit DWARF whatever gcc asks; without .loc directives gcc writes it itself.
  { name: 'gcc-dwarf5-O1-dwarf64', cflags: ['-g', '-gdwarf-5', '-gdwarf64', '-gno-as-loc-support', '-O1'] },
  { name: 'gcc-dwarf4-O0-dwarf64', cflags: ['-g', '-gdwarf-4', '-gdwarf64', '-gno-as-loc-support', '-O0'] },
  { name: 'gcc-dwarf5-O1-gz', cflags: ['-g', '-gdwarf-5', '-O1'], ldflags: ['-gz=zlib'] },
  { name: 'gcc-dwarf4-O1-gc', cflags: ['-g', '-gdwarf-4', '-O1', '-ffunction-sections'], ldflags: ['-Wl,--gc-sections'] },
];
export const cv = (name: string): CVariant => C_VARIANTS.find((v) => v.name === name)!;

export const gas = (name: string, flags: string[], bits: 32 | 64): (() => Fixture) => () =>
  buildAsm(name, (src, obj) => run('as', [bits === 32 ? '--32' : '--64', '-g', ...flags, '-o', obj, 'gas.S'], src), bits);

export const ASM_VARIANTS: Array<{ name: string; build: () => Fixture; needs?: string }> = [
  { name: 'gas-dwarf5', build: gas('gas-dwarf5', ['--gdwarf-5'], 64) },
  { name: 'gas-dwarf3', build: gas('gas-dwarf3', ['--gdwarf-3'], 64) },
  { name: 'gas-dwarf2-32', build: gas('gas-dwarf2-32', ['--gdwarf-2'], 32) },
  { name: 'gas-dwarf5-32', build: gas('gas-dwarf5-32', ['--gdwarf-5'], 32) },
  {
    // llvm-mc writes DWARF 5 file entries with an MD5 (DW_FORM_data16), which gcc 12 does not.
    name: 'llvm-mc-dwarf5',
    needs: 'llvm-mc',
    build: () =>
      buildAsm('llvm-mc-dwarf5', (src, obj) => run('llvm-mc', ['-filetype=obj', '-g', '-dwarf-version=5', '-triple=x86_64-pc-linux-gnu', '-o', obj, 'gas.S'], src), 64),
  },
];

/** The paths raw.S's tables spell out, each resolved by hand from its directory entries. */
export const RAW_FILES = [
  '/abs/dir/c.h',
  '/abs5/z.h',
  '/raw/build/a.c',
  '/raw/build/inc/b.h',
  '/raw/build/inc/d.c',
  '/raw/c/inc/c1.h',
  '/raw/comp/sub/y.h',
  '/raw/comp/x.c',
  '/raw/e/e.c',
  '/raw/v2/d2.c',
];

/** raw.S: hand-written line tables in a relocatable object (no relocations needed). */
export function buildRaw(): Fixture {
  return fixture('raw', () => {
    const { root, src } = sourceTree('raw');
    const elf = path.join(root, 'raw.o');
    run('as', ['--64', '-o', elf, 'raw.S'], src);
    return { name: 'raw', elf, bytes: fs.readFileSync(elf), src, compDirFor: () => '/', checkPaths: false, sources: RAW_FILES };
  });
}

/** The 1-based line of `file` (in the build's source copy) that contains `marker`. */
export function lineOf(fx: Fixture, file: string, marker: string): number {
  const lines = fs.readFileSync(path.join(fx.src, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} not in ${file}`);
  return i + 1;
}
