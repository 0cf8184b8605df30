// Builds what the benchmarks run, from source, into .bench/: the real-mode
// guest (bench/guests/outloop.S, COUNT `out`s then a debug-exit) and the bare
// C KVM program they are compared with (bench/kvm-bare.c).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSpecFile } from '../spec/load';
import type { VmSpec } from '../spec/types';

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
