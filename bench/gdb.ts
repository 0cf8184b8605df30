// The gdb stub benchmark (`node out/bench/gdb.js` after `tsc -p .` and the
// CLI bundle): the `stepi` round trip through Debian's gdb, vmscope's stub
// (`vmscope run --gdb --gdb-wait`, emulation) against QEMU's gdbstub under
// TCG, side by side in one run. Not a test: it prints figures (record them in
// docs/performance.md).
//
// Both run the multiboot kernel (examples/multiboot-kernel: QEMU loads it with
// -kernel, vmscope with `format: multiboot`), held before its first
// instruction. gdb gets no symbol file: both stubs describe an x86-64 CPU and
// the kernel is an ELF32, so loading it would make gdb fight the target's
// architecture; instead it breaks at kernel_main's address (from the ELF's
// symbol table), continues, deletes the breakpoint (else gdb inserts and
// removes it around every step) and times two runs of `stepi`s one after the
// other: the first F of the session, and the N after them, the round trip
// proper. The first ones are timed apart because they are not like the rest
// for vmscope: its stub and vCPU thread are JavaScript, which runs
// unoptimised until V8 has seen enough of it (docs/performance.md, "A
// session's first steps").
// With gdb's Python the clock runs inside gdb around each run of stepi only;
// without it each is timed as the difference in gdb's wall time between
// scripts of 0, F and F + N `stepi` lines. Both contenders must end each run
// at the same rip, which shows they stepped the same instructions (past about
// 500 steps they would not: QEMU's UART keeps the kernel in its LSR loop for
// longer than vmscope's).
//
// Rounds alternate which contender goes first. A contender whose tool or
// guest is missing is skipped with the reason.
//
// Environment: BENCH_GDB_FIRST (default 250), BENCH_GDB_STEPS (default 250), BENCH_ROUNDS (default 3),
// BENCH_GDB (default gdb), BENCH_QEMU (default qemu-system-x86_64).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const KERNEL = path.join(ROOT, 'examples', 'multiboot-kernel', 'build', 'kernel.elf');
const FIRST = Number(process.env.BENCH_GDB_FIRST ?? 250);
const STEPS = Number(process.env.BENCH_GDB_STEPS ?? 250);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GDB = process.env.BENCH_GDB ?? 'gdb';
const QEMU = process.env.BENCH_QEMU ?? 'qemu-system-x86_64';
const RUN_TIMEOUT_MS = 120_000;

type Who = 'vmscope' | 'qemu';

/** One run of stepi: microseconds per stepi, and rip after the last one as gdb prints it. */
interface Run {
  us: number;
  rip: string;
}

/** One session: its first FIRST stepi, and the STEPS after them. */
interface Sample {
  first: Run;
  then: Run;
}

/** A free loopback port: bind port 0, read it, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** The address of a symbol in the ELF's symbol table (nm), as 0x hex. */
function symbol(elf: string, name: string): string {
  const r = spawnSync('nm', [elf], { encoding: 'utf8' });
  const line = r.stdout?.split('\n').find((l) => l.split(' ')[2] === name);
  if (!line) throw new Error(`${name} not found in ${elf} (nm: ${r.error?.message ?? r.stderr})`);
  return `0x${BigInt(`0x${line.split(' ')[0]}`).toString(16)}`;
}

/**
 * The gdb script: stop at `at`, then runs of stepi, each followed by a line
 * `RUN <seconds> <rip>`; with `python` the seconds are timed in gdb, without
 * it they are 0 and the runs are timed from outside.
 */
function script(at: string, runs: number[], python: boolean): string {
  const lines = [`break *${at}`, 'continue', 'delete', 'printf "AT_BREAK %#lx\\n", $pc'];
  for (const steps of runs) {
    if (python) {
      lines.push('python', 'import time', 't0 = time.perf_counter()', `for _ in range(${steps}): gdb.execute('stepi', to_string=True)`);
      lines.push(`print('RUN %.9f %#x' % (time.perf_counter() - t0, int(gdb.parse_and_eval('$pc'))))`, 'end');
    } else {
      lines.push(...Array<string>(steps).fill('stepi'), 'printf "RUN 0 %#lx\\n", $pc');
    }
  }
  return [...lines, 'kill', ''].join('\n');
}

/** Starts the contender held before its first instruction, listening for gdb on `port`. */
function startVm(who: Who, port: number, dir: string): ReturnType<typeof spawn> {
  if (who === 'vmscope') {
    const spec = path.join(dir, 'kernel.vmspec');
    fs.writeFileSync(
      spec,
      `name: gdb-bench\nmemory: 32MiB\nvcpus: 1\nboot:\n  format: multiboot\n  image: ${KERNEL}\n  cmdline: "ticks=5"\ndevices:\n  serial: { port: 0x3f8 }\n  debug-exit: { port: 0xf4 }\n`,
    );
    return spawn(process.execPath, [CLI, 'run', '--gdb', `127.0.0.1:${port}`, '--gdb-wait', '--accel', 'emu', spec], { stdio: 'ignore' });
  }
  // -serial null keeps a UART at 0x3f8 (the kernel polls its LSR), as vmscope's spec does.
  return spawn(
    QEMU,
    ['-accel', 'tcg', '-m', '32', '-kernel', KERNEL, '-append', 'ticks=5', '-S', '-gdb', `tcp:127.0.0.1:${port}`, '-display', 'none', '-serial', 'null', '-monitor', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=1'],
    { stdio: 'ignore' },
  );
}

/** One gdb session against a fresh VM; returns gdb's stdout and its wall time (ms). */
async function session(who: Who, runs: number[], python: boolean, at: string): Promise<{ runs: { s: number; rip: string }[]; ms: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-gdb-bench-'));
  const port = await freePort();
  const vm = startVm(who, port, dir);
  const vmExit = new Promise<void>((resolve) => vm.once('exit', () => resolve()));
  try {
    const file = path.join(dir, 'steps.gdb');
    fs.writeFileSync(file, script(at, runs, python));
    // gdb retries a refused connection (tcp auto-retry, on by default), so it can start before the stub listens.
    const t0 = performance.now();
    const r = spawnSync(GDB, ['-nx', '-batch', '-ex', 'set tcp connect-timeout 60', '-ex', `target remote 127.0.0.1:${port}`, '-x', file], {
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      maxBuffer: 64 << 20,
    });
    const ms = performance.now() - t0;
    const out = r.stdout ?? '';
    if (!out.includes(`AT_BREAK ${at}`)) throw new Error(`${who}: gdb did not stop at ${at}: ${(out + (r.stderr ?? '')).slice(-600)}`);
    const done = [...out.matchAll(/^RUN ([0-9.]+) (0x[0-9a-f]+)$/gm)].map((m) => ({ s: Number(m[1]), rip: m[2]! }));
    if (done.length !== runs.length) throw new Error(`${who}: gdb finished ${done.length} of ${runs.length} runs of stepi: ${(out + (r.stderr ?? '')).slice(-600)}`);
    return { runs: done, ms };
  } finally {
    const t = setTimeout(() => vm.kill('SIGKILL'), 5000);
    await vmExit;
    clearTimeout(t);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(who: Who, python: boolean, at: string): Promise<Sample> {
  if (python) {
    const { runs } = await session(who, [FIRST, STEPS], true, at);
    return { first: { us: (runs[0]!.s * 1e6) / FIRST, rip: runs[0]!.rip }, then: { us: (runs[1]!.s * 1e6) / STEPS, rip: runs[1]!.rip } };
  }
  const none = await session(who, [], false, at);
  const first = await session(who, [FIRST], false, at);
  const both = await session(who, [FIRST, STEPS], false, at);
  return {
    first: { us: ((first.ms - none.ms) * 1000) / FIRST, rip: first.runs[0]!.rip },
    then: { us: ((both.ms - first.ms) * 1000) / STEPS, rip: both.runs[1]!.rip },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const gdbVersion = spawnSync(GDB, ['--version'], { encoding: 'utf8' });
  const qemuVersion = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  console.log(`gdb stub benchmark: ${new Date().toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg()[0]!.toFixed(2)}, Node ${process.version}`);
  if (gdbVersion.error || gdbVersion.status !== 0) {
    console.log(`skipped: ${GDB} is not installed (apt-get install gdb)`);
    return;
  }
  if (!fs.existsSync(KERNEL)) {
    console.log(`skipped: ${KERNEL} is not built (make -C examples)`);
    return;
  }
  const skip: Partial<Record<Who, string>> = {};
  if (!fs.existsSync(CLI)) skip.vmscope = `${CLI} is not built (node scripts/bundle.mjs)`;
  if (qemuVersion.error || qemuVersion.status !== 0) skip.qemu = `${QEMU} is not installed (apt-get install qemu-system-x86)`;
  const python = spawnSync(GDB, ['-nx', '-batch', '-ex', 'python print(6*7)'], { encoding: 'utf8' }).stdout?.trim() === '42';
  console.log(`  ${gdbVersion.stdout.split('\n')[0]}${python ? '' : ' (no Python: each run timed as the difference between whole gdb sessions)'}`);
  if (!skip.qemu) console.log(`  ${qemuVersion.stdout.split('\n')[0]}`);

  const at = symbol(KERNEL, 'kernel_main');
  const samples: Record<Who, Sample[]> = { vmscope: [], qemu: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Who[] = round % 2 === 0 ? ['vmscope', 'qemu'] : ['qemu', 'vmscope'];
    for (const who of order) if (!skip[who]) samples[who].push(await measure(who, python, at));
  }

  const report = (title: string, pick: (x: Sample) => Run, target: string): void => {
    console.log(title);
    const line = (who: Who, label: string): void => {
      const xs = samples[who].map(pick);
      if (skip[who]) console.log(`  ${label} skipped: ${skip[who]}`);
      else console.log(`  ${label} ${median(xs.map((x) => x.us)).toFixed(0)} µs/stepi   runs: ${xs.map((x) => x.us.toFixed(0)).join(', ')} µs; rip after ${[...new Set(xs.map((x) => x.rip))].join('/')}`);
    };
    line('vmscope', 'vmscope (emu):');
    line('qemu', 'QEMU TCG:     ');
    if (skip.vmscope || skip.qemu) return;
    const rips = new Set([...samples.vmscope, ...samples.qemu].map((x) => pick(x).rip));
    if (rips.size !== 1) console.log(`  warning: the contenders ended at different rips (${[...rips].join(', ')}): they did not step the same code`);
    const ratio = median(samples.vmscope.map((x) => pick(x).us)) / median(samples.qemu.map((x) => pick(x).us));
    console.log(`  ratio vmscope / QEMU TCG: ${ratio.toFixed(2)}${target}`);
  };
  const from = `multiboot kernel from kernel_main ${at}, median of ${ROUNDS} sessions`;
  report(`stepi round trip through gdb: stepi ${FIRST + 1}-${FIRST + STEPS} of a session (${from}):`, (x) => x.then, ' (target <= 1.0)');
  report(`the first ${FIRST} stepi of a session, while vmscope's JavaScript warms up (${from}):`, (x) => x.first, '');
}

main().catch((e: unknown) => {
  console.error(`gdb stub benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
