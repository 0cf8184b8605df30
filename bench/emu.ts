// The emulation benchmark (`node out/bench/emu.js` after `tsc -p .`): vmscope's
// runner on its emulation backend against QEMU TCG and a bare C Unicorn loop
// (bench/uc-bare.c), on the same guest bytes, side by side in one run. Not a
// test: it prints figures (record them in docs/performance.md).
//
// Two parts, each round running every contender once in an order that rotates
// from round to round, so drift on a noisy machine hits all of them:
// - compute: bench/guests/compute.S, instructions/s (the guest's formula);
// - exit-heavy: bench/guests/outloop.S, OUT instructions/s to an unclaimed port.
// QEMU is timed from outside (process wall time), so each of its runs is paired
// with a run of the same guest without the loop (N=0 / COUNT=1) and the
// difference is the loop's time. The runner is timed by its own loop clock
// (RunResult.loopMs), uc-bare around uc_emu_start: neither counts start-up.
// A contender whose tool is missing is skipped with the reason.
//
// Environment: BENCH_EMU_N (compute iterations, default 333,333,333),
// BENCH_EMU_OUTS (default 10,000,000), BENCH_ROUNDS (default 5), BENCH_QEMU
// (default qemu-system-x86_64), VMSCOPE_UNICORN_DIR (else .unicorn/).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { VmSpec } from '../vmspec/types';
import { buildMachine } from '../vmm/builder';
import { VmscopeError } from '../vmm/errors';
import { describeRunEnd } from '../vmm/exits';
import {
  benchSpecAt,
  buildEmuBench,
  COMPUTE_FIXED,
  COMPUTE_PER_ITERATION,
  COMPUTE_SPEC,
  findUnicorn,
  runBare,
  SPEC,
  type EmuGuest,
} from './build';

// 333,333,333: about 1e9 instructions, and a sum whose exit byte QEMU can tell from the N=0 run's (see computeStatus).
const N = Number(process.env.BENCH_EMU_N ?? 333_333_333);
const OUTS = Number(process.env.BENCH_EMU_OUTS ?? 10_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const QEMU = process.env.BENCH_QEMU ?? 'qemu-system-x86_64';
const RUNNER_TIMEOUT_MS = 600_000;
const QEMU_TIMEOUT_MS = 300_000;

/** Work done (instructions or OUTs) and the seconds it took. */
interface Sample {
  work: number;
  seconds: number;
}

interface Contender {
  name: string;
  run(): Promise<Sample>;
}

/** A contender that can run, or why it cannot. */
type Maybe = Contender | { name: string; skip: string };

/** One part of the benchmark: its contenders and what their work is called. */
interface Part {
  title: string;
  unit: string;
  contenders: Maybe[];
  /** Per contender name: work/s of each round it ran. */
  rates: Map<string, number[]>;
  /** QEMU's start-up (the baseline run's wall time), seconds, per round. */
  qemuStartup: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => (n >= 1e6 ? n.toExponential(3) : Math.round(n).toLocaleString('en-US'));
const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * compute.S leaves the low byte of N*(N+1)/2 in AL and writes it to the exit
 * port. QEMU's exit status keeps only its low 7 bits, so an N whose byte is 0
 * or 0x80 (any multiple of 256, for one) ends like the N=0 run: main warns.
 */
function computeStatus(n: number): number {
  const big = BigInt(n);
  return Number(((big * (big + 1n)) / 2n) & 0xffn);
}

/** QEMU's isa-debug-exit ends the process with (value << 1) | 1; the shell sees its low 8 bits. */
const qemuExitStatus = (value: number) => ((value << 1) | 1) & 0xff;

function qemuVersion(): string | { missing: string } {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { missing: `${QEMU} not runnable (${r.error?.message ?? `status ${r.status}`}); apt-get install qemu-system-x86` };
  return r.stdout.split('\n')[0]!.trim();
}

/** Wall seconds of one QEMU TCG run of `rom`, checked to have ended through the debug-exit port with `status`. */
function qemuRun(rom: string, exitPort: number, status: number): number {
  const args = ['-accel', 'tcg', '-display', 'none', '-nodefaults', '-bios', rom, '-device', `isa-debug-exit,iobase=${hex(exitPort)},iosize=1`];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(QEMU, args, { encoding: 'utf8', timeout: QEMU_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`${QEMU}: ${r.error.message}`);
  const want = qemuExitStatus(status);
  if (r.status !== want) {
    const how = r.signal ? `signal ${r.signal}` : `status ${r.status}`;
    throw new Error(`QEMU on ${rom} ended with ${how}, expected ${want} (the guest's debug-exit write of ${status}): ${r.stderr.trim()}`);
  }
  return seconds;
}

/** QEMU: the loop's time is the full guest's wall time minus the baseline guest's, run right after it. */
function qemuContender(part: Part, full: EmuGuest, base: EmuGuest, work: number, exitPort: number, status: { full: number; base: number }): Contender {
  return {
    name: 'QEMU TCG',
    run: async () => {
      const whole = qemuRun(full.rom, exitPort, status.full);
      const startup = qemuRun(base.rom, exitPort, status.base);
      part.qemuStartup.push(startup);
      if (whole <= startup) throw new Error(`QEMU's loop took no measurable time (${whole.toFixed(3)} s with it, ${startup.toFixed(3)} s without): raise BENCH_EMU_N / BENCH_EMU_OUTS`);
      return { work, seconds: whole - startup };
    },
  };
}

function ucContender(bare: string, mode: 'compute' | 'outloop', image: string, exitPort: number, expect: number): Contender {
  return {
    name: 'bare C Unicorn',
    run: async () => {
      const r = runBare(bare, [mode, image, hex(exitPort)]);
      if (r.count !== expect) throw new Error(`uc-bare ${mode} reported ${r.count}, the guest's formula says ${expect}`);
      return { work: r.count, seconds: r.seconds };
    },
  };
}

/** A contender that cannot run here at all (as opposed to one that failed): reported as skipped, with this message. */
class Unavailable extends Error {}

/** The runner on the emulation backend; where the emulator cannot run, the first run throws Unavailable rather than crash the benchmark. */
function runnerContender(spec: VmSpec, status: number, work: (exits: number) => number): Contender {
  return {
    name: 'vmscope runner (emu)',
    run: async () => {
      let machine: ReturnType<typeof buildMachine>['machine'];
      try {
        machine = buildMachine(spec, { accel: 'emu' }).machine;
      } catch (e) {
        if (e instanceof VmscopeError) throw new Unavailable(`the emulator cannot run here: ${e.message}`);
        throw e;
      }
      const r = await machine.start({ timeoutMs: RUNNER_TIMEOUT_MS });
      if (r.end.kind !== 'vcpu' || r.end.end.kind !== 'debug-exit') throw new Error(`the guest did not finish: ${describeRunEnd(r.end)}`);
      if (r.end.end.status !== status) throw new Error(`the guest exited with status ${r.end.end.status}, expected ${status}: it did not run the whole loop`);
      const exits = Object.values(r.exits).reduce((a, b) => a + b, 0);
      return { work: work(exits), seconds: r.loopMs[0]! / 1000 };
    },
  };
}

/** Runs every runnable contender of `part` once, in an order rotated by `round`; one that fails is dropped with its reason. */
async function runRound(part: Part, round: number): Promise<string> {
  const order = part.contenders.map((_, i) => part.contenders[(i + round) % part.contenders.length]!);
  const shown: string[] = [];
  for (const c of order) {
    if ('skip' in c) continue;
    try {
      const s = await c.run();
      const rate = s.work / s.seconds;
      part.rates.get(c.name)!.push(rate);
      shown.push(`${c.name} ${fmt(rate)}`);
    } catch (e) {
      const i = part.contenders.indexOf(c);
      const why = e instanceof Error ? e.message : String(e);
      part.contenders[i] = { name: c.name, skip: e instanceof Unavailable ? why : `failed in round ${round + 1}: ${why}` };
      shown.push(`${c.name} ${e instanceof Unavailable ? 'skipped' : 'failed'}`);
    }
  }
  return shown.length ? `${part.title}: ${shown.join(', ')} ${part.unit}/s` : `${part.title}: nothing to run`;
}

function report(part: Part, targets: { runnerOverQemu: number }): void {
  console.log(`${part.title} (${part.unit}/s, median of the rounds each ran):`);
  const med = new Map<string, number>();
  for (const c of part.contenders) {
    const rates = part.rates.get(c.name)!;
    if (rates.length === 0) {
      console.log(`  ${c.name}: ${'skip' in c ? `skipped: ${c.skip}` : 'no rounds run'}`);
      continue;
    }
    med.set(c.name, median(rates));
    const note = 'skip' in c ? ` (then ${c.skip})` : '';
    console.log(`  ${c.name}: ${fmt(median(rates))} over ${rates.length} rounds${note}`);
  }
  if (part.qemuStartup.length) console.log(`  (QEMU start-up to exit without the loop: median ${median(part.qemuStartup).toFixed(3)} s, subtracted)`);
  const ratio = (a: string, b: string, target?: number) => {
    const x = med.get(a);
    const y = med.get(b);
    if (x === undefined || y === undefined) return;
    const t = target === undefined ? '' : ` (target >= ${target})`;
    console.log(`  ratio ${a} / ${b}: ${(x / y).toFixed(3)}${t}`);
  };
  ratio('vmscope runner (emu)', 'QEMU TCG', targets.runnerOverQemu);
  ratio('vmscope runner (emu)', 'bare C Unicorn');
  ratio('bare C Unicorn', 'QEMU TCG');
}

async function main(): Promise<void> {
  const outSpec = benchSpecAt(SPEC);
  const computeSpec = benchSpecAt(COMPUTE_SPEC);
  const exitPort = computeSpec.devices.debugExit?.port;
  const outExitPort = outSpec.devices.debugExit?.port;
  if (exitPort === undefined || outExitPort === undefined) throw new Error('the benchmark guests\' specs must declare devices.debug-exit');
  const unicorn = findUnicorn();
  const qemu = qemuVersion();
  const built = buildEmuBench(OUTS, N, exitPort, unicorn);

  const instructions = COMPUTE_FIXED + COMPUTE_PER_ITERATION * N;
  const sumStatus = computeStatus(N);
  const weakCheck = (sumStatus & 0x7f) === 0 ? ` (note: N=${N} exits with ${hex(sumStatus)}, which QEMU's status cannot tell from a skipped loop; pick another N)` : '';
  const compute: Part = { title: 'compute', unit: 'instructions', contenders: [], rates: new Map(), qemuStartup: [] };
  const exits: Part = { title: 'exit-heavy', unit: 'OUTs', contenders: [], rates: new Map(), qemuStartup: [] };

  compute.contenders.push(
    runnerContender({ ...computeSpec, boot: { ...computeSpec.boot, image: built.compute.image } }, sumStatus, () => instructions),
    typeof qemu === 'string'
      ? qemuContender(compute, built.compute, built.computeBase, COMPUTE_PER_ITERATION * N, exitPort, { full: sumStatus, base: 0 })
      : { name: 'QEMU TCG', skip: qemu.missing },
    typeof built.ucBare === 'string' ? ucContender(built.ucBare, 'compute', built.compute.image, exitPort, instructions) : { name: 'bare C Unicorn', skip: built.ucBare.missing },
  );
  // outloop.S: COUNT OUTs to 0x80, then one to the exit port; runner and uc-bare count both.
  const outs = OUTS + 1;
  let countNote = '';
  exits.contenders.push(
    runnerContender({ ...outSpec, boot: { ...outSpec.boot, image: built.outloop.image } }, 0, (counted) => {
      if (counted !== outs && !countNote) countNote = `note: the runner counted ${counted} exits, the guest did ${outs} OUTs; rates use ${outs}`;
      return outs;
    }),
    typeof qemu === 'string'
      ? qemuContender(exits, built.outloop, built.outloopBase, OUTS - 1, outExitPort, { full: 0, base: 0 })
      : { name: 'QEMU TCG', skip: qemu.missing },
    typeof built.ucBare === 'string' ? ucContender(built.ucBare, 'outloop', built.outloop.image, outExitPort, outs) : { name: 'bare C Unicorn', skip: built.ucBare.missing },
  );
  for (const part of [compute, exits]) for (const c of part.contenders) part.rates.set(c.name, []);

  console.log(`emulation benchmark: compute ${instructions.toLocaleString('en-US')} instructions (N=${N.toLocaleString('en-US')}), exit-heavy ${OUTS.toLocaleString('en-US')} OUTs to port 0x80; real mode; ${ROUNDS} rounds${weakCheck}`);
  console.log(
    `host: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, /dev/kvm ${fs.existsSync('/dev/kvm') ? 'present' : 'absent'}, Node ${process.version}; ` +
      `${typeof qemu === 'string' ? qemu : 'no QEMU'}; Unicorn ${'missing' in unicorn ? 'not found' : unicorn.lib}`,
  );
  for (const part of [compute, exits]) for (const c of part.contenders) if ('skip' in c) console.log(`  skipping ${part.title} / ${c.name}: ${c.skip}`);

  for (let i = 0; i < ROUNDS; i++) {
    console.log(`  round ${i + 1}: ${await runRound(compute, i)} | ${await runRound(exits, i)}`);
  }
  report(compute, { runnerOverQemu: 1.0 });
  report(exits, { runnerOverQemu: 0.5 });
  if (countNote) console.log(countNote);
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
