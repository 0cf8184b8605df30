// The fuzz harness's `guests` part (issue 14, item 1): random and mutated
// guests (fuzz/guest-gen.ts) run on the emulation backend through the
// runner's own API, a fresh Machine per case with a short deadline, and a
// sample through the real CLI as a child process. Each case must end with a
// reported end within its time limit, with no exception escaping, no vCPU
// thread left behind, and nothing on stderr that looks like a stack trace.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { parseSpec } from '../vmspec/parse';
import { buildMachine } from '../vmm/builder';
import type { Machine } from '../vmm/machine';
import type { RunEnd, RunResult } from '../vmm/exits';
import { VmscopeError } from '../vmm/errors';
import { caseSpec, generateCase, type GuestCase, type GuestMode, type SeedGuest } from './guest-gen';
import { percentile, type Finding, type FuzzPart, type PartOptions, type PartResult } from './harness';
import { Rng } from './rng';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface GuestsOptions {
  /** Guest time each case gets (the machine's timeout), ms. */
  deadlineMs: number;
  /** Every how many cases one also runs through the CLI process (0: none). */
  cliEvery: number;
}

const DEFAULTS: GuestsOptions = { deadlineMs: 300, cliEvery: 50 };
/** How late past its deadline a run may report its end before it counts as a hang. */
const LATE_MS = 3000;
/** How long the CLI process may take on top of the deadline (node's start, the build, the report). */
const CLI_SLACK_MS = 15_000;

/** Looks like a stack trace or a native crash report, as a user would see it on stderr. */
export const STACK_TRACE = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$|node:internal|FATAL ERROR|Segmentation fault|core dumped|^Aborted|^\S*Error: |internal error/m;

/** The real guests the mutants start from: each flat image the repo builds, with the mode and platform its spec runs it in. */
export function loadSeeds(root = ROOT): SeedGuest[] {
  const seeds: SeedGuest[] = [];
  const dir = path.join(root, 'test', 'guests', 'build');
  const modes: Record<string, GuestMode> = { 'protected-exit': 'protected', modeswitch: 'real' };
  const pc = new Set(['acpi-poweroff', 'pit-timer', 'reset', 'sti-hlt']);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.bin'));
  } catch {
    // Not built: the part runs blobs and streams only, and says so in its figures.
  }
  for (const n of names.sort()) {
    const name = n.slice(0, -4);
    seeds.push({ name, bytes: fs.readFileSync(path.join(dir, n)), mode: modes[name] ?? 'long', platform: pc.has(name) ? 'pc' : 'minimal' });
  }
  const real = path.join(root, 'examples', 'real-mode', 'build', 'real.bin');
  if (fs.existsSync(real)) seeds.push({ name: 'examples/real-mode', bytes: fs.readFileSync(real), mode: 'real', platform: 'minimal' });
  return seeds;
}

/** How a case ended, as the figures count it. */
export function endClass(end: RunEnd): string {
  switch (end.kind) {
    case 'timeout':
      return 'timeout';
    case 'stopped':
      return 'stopped';
    case 'vcpu':
      return end.end.kind === 'emulation-error' ? `emulation-error: ${end.end.message}` : end.end.kind;
  }
}

/** Ends that mean the runner itself failed, not the guest. */
const RUNNER_FAILURES = new Set(['host-error', 'stopped', 'unhandled-exit']);

/** The OS threads of this process (workers included), from /proc; undefined off Linux. */
export function threadCount(): number | undefined {
  try {
    return fs.readdirSync('/proc/self/task').length;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The vCPU worker threads of a machine, to end them by force when a run hangs (the machine keeps them private). */
function workersOf(m: Machine): Worker[] {
  // Only the harness reaches in here, after a hang was already recorded: it must not leave threads running into the next case.
  const vcpus = (m as unknown as { vcpus?: Array<{ worker?: Worker }> }).vcpus ?? [];
  return vcpus.flatMap((v) => (v.worker ? [v.worker] : []));
}

interface CaseOutcome {
  end: string;
  ms: number;
  problem?: string;
}

/** Runs one case in this process: a fresh Machine, a deadline, and a watchdog for the result. */
async function runInProcess(c: GuestCase, specFile: string, o: GuestsOptions): Promise<CaseOutcome> {
  const parsed = parseSpec(caseSpec(c, path.basename(specFile).replace(/\.vmspec$/, '.bin')), specFile);
  if (!parsed.spec) return { end: 'spec-error', ms: 0, problem: `the generated spec is invalid: ${parsed.diagnostics.map((d) => d.message).join('; ')}` };
  const t0 = performance.now();
  let machine: Machine;
  try {
    machine = buildMachine(parsed.spec, { accel: 'emu' }).machine;
  } catch (e) {
    if (e instanceof VmscopeError) return { end: 'build-error', ms: performance.now() - t0 };
    return { end: 'build-exception', ms: performance.now() - t0, problem: `buildMachine threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  }
  machine.on('serial', () => {});
  machine.on('device', () => {});
  let result: RunResult | undefined;
  let thrown: unknown;
  const done = machine.start({ timeoutMs: o.deadlineMs }).then(
    (r) => (result = r),
    (e: unknown) => (thrown = e ?? new Error('rejected')),
  );
  const limit = o.deadlineMs + LATE_MS;
  await Promise.race([done, sleep(limit)]);
  const ms = performance.now() - t0;
  if (thrown !== undefined) return { end: 'exception', ms, problem: `machine.start rejected: ${thrown instanceof Error ? thrown.message : String(thrown)}` };
  if (!result) {
    // A hang: no end reported in time. Stop it the ordinary way, then by force, so that the next case starts clean.
    void machine.stop();
    await Promise.race([done, sleep(2000)]);
    const stoppedOk = result !== undefined;
    if (!stoppedOk) await Promise.all(workersOf(machine).map((w) => w.terminate()));
    return { end: 'hang', ms, problem: `no end reported ${limit} ms after start (${stoppedOk ? 'stop() then ended it' : 'stop() did not end it either'})` };
  }
  const end = endClass(result.end);
  if (RUNNER_FAILURES.has(end.split(':')[0]!)) {
    const detail = result.end.kind === 'vcpu' && result.end.end.kind === 'host-error' ? `: ${result.end.end.message}` : '';
    return { end, ms, problem: `the runner failed (${end}${detail})` };
  }
  return { end, ms };
}

/** Runs one case through `vmscope run` in a child process, as a user would. */
async function runCli(specFile: string, o: GuestsOptions): Promise<{ end: string; problem?: string }> {
  const child = spawn(process.execPath, [CLI, 'run', specFile, '--timeout', String(o.deadlineMs / 1000)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, VMSCOPE_ACCEL: 'emu', VMSCOPE_DEBUG: '' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, o.deadlineMs + CLI_SLACK_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  const first = stderr.split('\n')[0] ?? '';
  if (killed) return { end: 'hang', problem: `vmscope run did not exit within ${(o.deadlineMs + CLI_SLACK_MS) / 1000} s` };
  if (code === null) return { end: 'killed', problem: `vmscope run died of ${signal}` };
  if (STACK_TRACE.test(stderr)) return { end: `exit ${code}`, problem: `stack trace or internal error on stderr: ${JSON.stringify(stderr.slice(0, 300))}` };
  if (code === 125) return { end: 'exit 125', problem: `vmscope could not run the guest: ${first}` };
  return { end: code === 124 ? 'timeout' : code === 123 ? 'halted' : code === 126 ? 'guest crash' : `exit ${code}` };
}

export async function runGuests(opts: PartOptions, o: GuestsOptions = DEFAULTS): Promise<PartResult> {
  const seeds = loadSeeds();
  const dir = path.join(opts.workDir, 'guests');
  fs.mkdirSync(dir, { recursive: true });
  const findings: Finding[] = [];
  const ends = new Map<string, number>();
  const cliEnds = new Map<string, number>();
  const kinds = new Map<string, number>();
  const times: number[] = [];
  /** For runs that timed out: how long after the deadline the end was reported (stopping the vCPU threads). */
  const lateness: number[] = [];
  const timeoutsByKind = new Map<string, number>();

  // Whatever reaches stderr while the cases run (the vCPU threads' included) is checked for stack traces.
  let stderrSeen = '';
  const realWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderrSeen += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return (realWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  let escaped: unknown[] = [];
  const onEscape = (e: unknown) => escaped.push(e);
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);

  const threadsBefore = threadCount();
  let threadsBaseline = threadsBefore;
  const t0 = performance.now();
  try {
    for (let index = 0; index < opts.runs; index++) {
      const c = generateCase(Rng.forCase(opts.seed, index), seeds);
      kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      // One image and spec per case number mod 64: the directory stays small, and a finding's files are kept under their own name.
      const base = path.join(dir, `case-${index % 64}`);
      fs.writeFileSync(`${base}.bin`, c.image);
      fs.writeFileSync(`${base}.vmspec`, caseSpec(c, path.basename(`${base}.bin`)));
      fs.rmSync(`${base}-restart.vmspec`, { force: true });
      const problems: string[] = [];
      stderrSeen = '';
      escaped = [];

      const r = await runInProcess(c, `${base}.vmspec`, o);
      ends.set(r.end, (ends.get(r.end) ?? 0) + 1);
      times.push(r.ms);
      if (r.end === 'timeout') {
        lateness.push(r.ms - o.deadlineMs);
        timeoutsByKind.set(`${c.kind} ${c.mode}`, (timeoutsByKind.get(`${c.kind} ${c.mode}`) ?? 0) + 1);
      }
      if (r.problem) problems.push(r.problem);
      if (escaped.length) problems.push(`an exception escaped: ${escaped.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`);
      if (STACK_TRACE.test(stderrSeen)) problems.push(`stack trace on stderr: ${JSON.stringify(stderrSeen.slice(0, 300))}`);

      // Every vCPU thread must be gone once the result is in: the thread count returns to where it was.
      const threads = threadCount();
      if (threads !== undefined && threadsBaseline !== undefined && threads > threadsBaseline) {
        let now = threads;
        for (let k = 0; k < 50 && now > threadsBaseline; k++) {
          await sleep(10);
          now = threadCount() ?? 0;
        }
        // Node and libuv start a few threads of their own lazily (the first worker, the file system pool): a rise seen once is the new baseline, a rise that repeats is a leak.
        if (now > threadsBaseline + 4) problems.push(`${now - threadsBaseline} threads left after the run (${threadsBaseline} before, ${now} after)`);
        threadsBaseline = Math.max(threadsBaseline, now);
      }

      if (o.cliEvery > 0 && index % o.cliEvery === 0) {
        const cli = await runCli(`${base}.vmspec`, o);
        cliEnds.set(cli.end, (cliEnds.get(cli.end) ?? 0) + 1);
        if (cli.problem) problems.push(`CLI: ${cli.problem}`);
      }
      if (o.cliEvery > 0 && r.end === 'reset' && c.platform === 'pc') {
        // A guest that resets the machine, once more through the CLI with on-reset: reset, which rebuilds the machine on each reset until --timeout.
        fs.writeFileSync(`${base}-restart.vmspec`, caseSpec({ ...c, restartOnReset: true }, path.basename(`${base}.bin`)));
        const cli = await runCli(`${base}-restart.vmspec`, o);
        cliEnds.set(`restarting: ${cli.end}`, (cliEnds.get(`restarting: ${cli.end}`) ?? 0) + 1);
        if (cli.problem) problems.push(`CLI with on-reset: reset: ${cli.problem}`);
      }

      if (problems.length > 0) {
        const keep = path.join(dir, `finding-${index}`);
        fs.copyFileSync(`${base}.bin`, `${keep}.bin`);
        fs.writeFileSync(`${keep}.vmspec`, caseSpec(c, path.basename(`${keep}.bin`)));
        if (fs.existsSync(`${base}-restart.vmspec`)) fs.writeFileSync(`${keep}-restart.vmspec`, caseSpec({ ...c, restartOnReset: true }, path.basename(`${keep}.bin`)));
        findings.push({ index, what: `${c.label} (${c.mode}, ${c.platform}, ${c.vcpus} vCPU): ${problems.join('; ')}`, reproducer: `${keep}.vmspec` });
        opts.log(`#${index}: ${problems.join('; ')}`);
      }
      if ((index + 1) % 500 === 0) opts.log(`${index + 1} runs, ${findings.length} findings, ${((performance.now() - t0) / (index + 1)).toFixed(1)} ms/run`);
    }
  } finally {
    process.stderr.write = realWrite;
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
  const wall = performance.now() - t0;
  const threadsAfter = threadCount();
  const pct = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((100 * v) / n).toFixed(1)}%`)
      .join(', ');
  const cliRuns = [...cliEnds.values()].reduce((a, b) => a + b, 0);
  return {
    part: 'guests',
    runs: opts.runs,
    findings,
    figures: {
      ends: pct(ends, opts.runs),
      kinds: pct(kinds, opts.runs),
      'ms/run': `mean ${(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length)).toFixed(1)}, p50 ${percentile(times, 50).toFixed(1)}, p99 ${percentile(times, 99).toFixed(1)}, max ${percentile(times, 100).toFixed(1)}`,
      'timeout end after deadline': `p50 ${percentile(lateness, 50).toFixed(1)} ms, p99 ${percentile(lateness, 99).toFixed(1)} ms, max ${percentile(lateness, 100).toFixed(1)} ms`,
      'timeouts by kind and mode': pct(timeoutsByKind, lateness.length),
      wall: `${(wall / 1000).toFixed(1)} s`,
      'cli runs': `${cliRuns}${cliRuns ? ` (${pct(cliEnds, cliRuns)})` : ''}`,
      threads: `${threadsBefore ?? '?'} before, ${threadsAfter ?? '?'} after`,
      seeds: String(seeds.length),
      deadline: `${o.deadlineMs} ms`,
    },
  };
}

export const guestsPart: FuzzPart = {
  name: 'guests',
  defaultRuns: 10_000,
  run: (opts) => runGuests(opts),
};
