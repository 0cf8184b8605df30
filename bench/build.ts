// Builds what the benchmarks run, from source, into .bench/: the real-mode
// guest (bench/guests/outloop.S, COUNT `out`s then a debug-exit) and the bare
// C KVM program they are compared with (bench/kvm-bare.c).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSpecFile } from '../vmspec/load';
import type { VmSpec } from '../vmspec/types';

export const ROOT = path.resolve(__dirname, '..', '..');
export const OUT = path.join(ROOT, '.bench');
/** The guest's spec; its image is .bench/outloop.bin. */
export const SPEC = path.join(ROOT, 'bench', 'guests', 'outloop.vmspec');

export function buildBench(count: number): { image: string; bare: string } {
  fs.mkdirSync(OUT, { recursive: true });
  const obj = path.join(OUT, 'outloop.o');
  const elf = path.join(OUT, 'outloop.elf');
  const image = path.join(OUT, 'outloop.bin');
  execFileSync('as', ['--32', '--defsym', `COUNT=${count}`, '-o', obj, path.join(ROOT, 'bench', 'guests', 'outloop.S')]);
  execFileSync('ld', ['-m', 'elf_i386', '-Ttext=0x7c00', '-e', '_start', '-o', elf, obj]);
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', elf, image]);
  const bare = path.join(OUT, 'kvm-bare');
  execFileSync('gcc', ['-O2', '-o', bare, path.join(ROOT, 'bench', 'kvm-bare.c')]);
  return { image, bare };
}

/** Runs the bare C program; returns its count and the seconds its loop took. */
export function runBare(bare: string, args: string[]): { count: number; seconds: number } {
  const [count, seconds] = execFileSync(bare, args, { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  return { count: count!, seconds: seconds! };
}

/** The benchmark guest's spec, parsed. */
export function benchSpec(): VmSpec {
  const loaded = loadSpecFile(SPEC);
  if (!loaded.spec) throw new Error(loaded.diagnostics.map((d) => d.message).join('; '));
  return loaded.spec;
}

// --- The emulation benchmark (bench/emu.ts): Unicorn, QEMU TCG, the runner ---

/** Where Unicorn's library and headers are: `include/unicorn/unicorn.h` and `lib/libunicorn.{so.2,so,a}`. */
export interface UnicornDirs {
  lib: string;
  include: string;
}

/**
 * Finds Unicorn: $VMSCOPE_UNICORN_DIR, then `.unicorn/` at the repository root
 * (the install creates it), each holding `lib/` and `include/`; then the
 * install's own $VMSCOPE_UNICORN (a libunicorn file, headers in ../include).
 * Returns the reason when none does.
 */
export function findUnicorn(): UnicornDirs | { missing: string } {
  const tried: string[] = [];
  const candidates: { from: string; lib: string; include: string }[] = [];
  const dirEnv = process.env.VMSCOPE_UNICORN_DIR;
  if (dirEnv) candidates.push({ from: `VMSCOPE_UNICORN_DIR=${dirEnv}`, lib: path.join(dirEnv, 'lib'), include: path.join(dirEnv, 'include') });
  else tried.push('VMSCOPE_UNICORN_DIR (unset)');
  const local = path.join(ROOT, '.unicorn');
  candidates.push({ from: local, lib: path.join(local, 'lib'), include: path.join(local, 'include') });
  const libEnv = process.env.VMSCOPE_UNICORN;
  if (libEnv) candidates.push({ from: `VMSCOPE_UNICORN=${libEnv}`, lib: path.dirname(libEnv), include: path.resolve(path.dirname(libEnv), '..', 'include') });
  for (const c of candidates) {
    if (!fs.existsSync(path.join(c.include, 'unicorn', 'unicorn.h'))) tried.push(`${c.from} (no ${path.join(c.include, 'unicorn', 'unicorn.h')})`);
    else if (!unicornLibrary(c.lib)) tried.push(`${c.from} (no libunicorn.so.2, .so or .a in ${c.lib})`);
    else return { lib: c.lib, include: c.include };
  }
  return { missing: `no Unicorn found; tried ${tried.join(', ')}` };
}

/** The linker arguments for Unicorn in `lib`: the shared library (with an rpath) when there is one, else the static archive. */
function unicornLibrary(lib: string): string[] | undefined {
  for (const name of ['libunicorn.so.2', 'libunicorn.so']) {
    if (fs.existsSync(path.join(lib, name))) return ['-L', lib, `-l:${name}`, `-Wl,-rpath,${lib}`];
  }
  const archive = path.join(lib, 'libunicorn.a');
  if (fs.existsSync(archive)) return [archive, '-lpthread', '-lm'];
  return undefined;
}

/** Builds bench/uc-bare.c against Unicorn into .bench/uc-bare. */
export function buildUcBare(unicorn: UnicornDirs): string {
  const link = unicornLibrary(unicorn.lib);
  if (!link) throw new Error(`no libunicorn in ${unicorn.lib}`);
  fs.mkdirSync(OUT, { recursive: true });
  const bare = path.join(OUT, 'uc-bare');
  execFileSync('gcc', ['-O2', '-Wall', '-I', unicorn.include, '-o', bare, path.join(ROOT, 'bench', 'uc-bare.c'), ...link]);
  return bare;
}

/**
 * Assembles a real-mode guest from bench/guests/<source>.S with the given
 * --defsym values into the flat image .bench/<name>.bin, linked at 0x7c00 as
 * buildBench does.
 */
export function assembleGuest(source: string, name: string, defsyms: Record<string, number>): string {
  fs.mkdirSync(OUT, { recursive: true });
  const obj = path.join(OUT, `${name}.o`);
  const elf = path.join(OUT, `${name}.elf`);
  const image = path.join(OUT, `${name}.bin`);
  const syms = Object.entries(defsyms).flatMap(([k, v]) => ['--defsym', `${k}=${v}`]);
  execFileSync('as', ['--32', ...syms, '-o', obj, path.join(ROOT, 'bench', 'guests', `${source}.S`)]);
  execFileSync('ld', ['-m', 'elf_i386', '-Ttext=0x7c00', '-e', '_start', '-o', elf, obj]);
  execFileSync('objcopy', ['-O', 'binary', '-j', '.text', elf, image]);
  return image;
}

/** Size of a -bios image; QEMU's PC maps it below 4 GiB and its last 64 KiB at 0xF0000. */
const ROM_SIZE = 0x10000;
/** Where the flat image sits in the ROM: offset 0x7c00, so CS=0xF000 gives the guest the IPs it has at 0:7c00. */
const ROM_LOAD = 0x7c00;
/** The reset vector: the CPU starts at CS base 0xFFFF0000, IP 0xFFF0, the ROM's last 16 bytes. */
const ROM_RESET = 0xfff0;

/**
 * Wraps a flat image (built for 0:7c00) into a 64 KiB QEMU -bios ROM: the
 * same bytes at ROM offset 0x7c00, and at the reset vector `ljmp
 * $0xf000,$0x7c00`. The guest then runs at F000:7C00 with the same IP values
 * as at 0:7C00 (only CS differs), from ROM; the benchmark guests touch no
 * memory, so that is the only difference.
 */
export function romFromImage(image: string): string {
  const bytes = fs.readFileSync(image);
  if (ROM_LOAD + bytes.length > ROM_RESET) throw new Error(`${image} is too big for a ${ROM_SIZE / 1024} KiB ROM`);
  const rom = Buffer.alloc(ROM_SIZE, 0xf4); // hlt everywhere else
  bytes.copy(rom, ROM_LOAD);
  Buffer.from([0xea, ROM_LOAD & 0xff, ROM_LOAD >> 8, 0x00, 0xf0]).copy(rom, ROM_RESET);
  const out = image.replace(/\.bin$/, '.rom');
  fs.writeFileSync(out, rom);
  return out;
}

/** The spec at `file`, parsed (benchSpec for any guest). */
export function benchSpecAt(file: string): VmSpec {
  const loaded = loadSpecFile(file);
  if (!loaded.spec) throw new Error(`${file}: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  return loaded.spec;
}

/** The compute guest's spec; its image is .bench/compute.bin. */
export const COMPUTE_SPEC = path.join(ROOT, 'bench', 'guests', 'compute.vmspec');
/** bench/guests/compute.S: instructions = COMPUTE_FIXED + COMPUTE_PER_ITERATION * N. */
export const COMPUTE_FIXED = 7;
export const COMPUTE_PER_ITERATION = 3;

/** One benchmark guest, as flat image (for the runner and uc-bare) and ROM (for QEMU). */
export interface EmuGuest {
  image: string;
  rom: string;
}

export interface EmuBench {
  /** outloop.S with COUNT = outs, and with COUNT = 1 (QEMU's start-up and the exit, to subtract). */
  outloop: EmuGuest;
  outloopBase: EmuGuest;
  /** compute.S with N = n (.bench/compute.bin, the image compute.vmspec names), and with N = 0. */
  compute: EmuGuest;
  computeBase: EmuGuest;
  /** .bench/uc-bare, or why it was not built. */
  ucBare: string | { missing: string };
}

/**
 * Builds the emulation benchmark's guests and their ROMs, and uc-bare when
 * Unicorn is found (else, or when it does not build, the reason). The outloop baseline is COUNT=1, not 0: outloop.S's loop
 * is `dec; jnz`, which runs 2^32 times from 0.
 */
export function buildEmuBench(outs: number, n: number, exitPort: number, unicorn: UnicornDirs | { missing: string }): EmuBench {
  const guest = (source: string, name: string, defsyms: Record<string, number>): EmuGuest => {
    const image = assembleGuest(source, name, defsyms);
    return { image, rom: romFromImage(image) };
  };
  return {
    outloop: guest('outloop', 'emu-outloop', { COUNT: outs }),
    outloopBase: guest('outloop', 'emu-outloop-base', { COUNT: 1 }),
    compute: guest('compute', 'compute', { N: n, EXIT_PORT: exitPort }),
    computeBase: guest('compute', 'compute-base', { N: 0, EXIT_PORT: exitPort }),
    ucBare: 'missing' in unicorn ? unicorn : tryBuildUcBare(unicorn),
  };
}

function tryBuildUcBare(unicorn: UnicornDirs): string | { missing: string } {
  try {
    return buildUcBare(unicorn);
  } catch (e) {
    return { missing: `uc-bare did not build against ${unicorn.lib}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}
