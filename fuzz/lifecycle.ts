// The lifecycle part: many launches and ends, to show that nothing
// accumulates. Through the debug adapter, one long-lived adapter process
// serves every session (`--server=PORT`, one session per connection, as the
// extension's inline or server mode would), alternating two kinds of cycle:
//   entry:     launch hello stopped on entry → continue → it exits → disconnect
//   terminate: launch spin running → terminate mid-run → disconnect
// After each cycle the adapter's threads must be back at their count before
// any session (no vCPU thread left behind); its threads, RSS and open fds are
// sampled for the graph and their slopes. Through the CLI, `vmscope run` of
// the spin guest is stopped mid-run with SIGINT or SIGTERM (alternating): it
// must exit within a bound, with 128 + the signal's number and one clear line,
// and leave no process behind.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Finding, FuzzPart, PartOptions, PartResult } from './harness';
import { percentile } from './harness';
import { connectWire, spawnAdapter, within, type DapWire } from './dap-wire';
import { alive, childrenOf, sample, slope, threadsSettle, type ProcSample } from './proc-stats';
import { lineChartSvg } from './chart';
import { Rng } from './rng';

const ROOT = path.resolve(__dirname, '..', '..');
const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const HELLO = path.join(ROOT, 'examples', 'hello', 'hello.vmspec');
const SPIN = path.join(ROOT, 'test', 'guests', 'spin.vmspec');
const STEP_MS = 20_000;

export interface LifecycleSample extends ProcSample {
  kind: 'adapter' | 'cli';
  cycle: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends a request and waits for its answer; throws with what went wrong otherwise. */
async function ask(wire: DapWire, command: string, args?: unknown): Promise<void> {
  const r = await within(wire.request(command, args), STEP_MS);
  if (!r) throw new Error(`${command} got no answer within ${STEP_MS / 1000} s`);
  if (!r.success) throw new Error(`${command} failed: ${r.message ?? ''}`);
}

async function event(wire: DapWire, name: string, what: string, match: (body: Record<string, unknown>) => boolean = () => true): Promise<void> {
  const e = await wire.waitEvent((x) => x.event === name && match((x.body ?? {}) as Record<string, unknown>), STEP_MS);
  if (!e) throw new Error(`no ${what} within ${STEP_MS / 1000} s`);
}

/** One adapter session: the entry cycle (hello) or the terminate cycle (spin). */
async function adapterCycle(port: number, kind: 'entry' | 'terminate', rng: Rng): Promise<void> {
  const { wire, socket } = await connectWire(port);
  try {
    await ask(wire, 'initialize', { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    if (kind === 'entry') {
      await ask(wire, 'launch', { spec: HELLO, stopOnEntry: true });
      await ask(wire, 'configurationDone');
      await event(wire, 'stopped', 'stop on entry', (b) => b.reason === 'entry');
      await ask(wire, 'continue', { threadId: 0 });
      await event(wire, 'terminated', 'end of hello');
    } else {
      await ask(wire, 'launch', { spec: SPIN, stopOnEntry: false });
      await ask(wire, 'configurationDone');
      // Serial output arrives a few bytes per event: wait for the line as a whole.
      let seen = '';
      await event(wire, 'output', 'serial output from spin', (b) => b.category === 'stdout' && (seen += String(b.output)).includes('spinning'));
      // Mid-run: somewhere in its loop, at a random moment.
      await new Promise((r) => setTimeout(r, rng.below(100)));
      await ask(wire, 'terminate');
      await event(wire, 'terminated', 'terminated event');
    }
    await ask(wire, 'disconnect', { terminateDebuggee: true });
  } finally {
    socket.end();
    await wire.closed(5000);
    socket.destroy();
  }
}

interface CliOutcome {
  problem?: string;
  sample?: ProcSample;
  exitMs?: number;
}

/** One CLI run of spin, stopped by `signal` once it prints; judged on its exit, its last line and what it leaves. */
async function cliCycle(signal: 'SIGINT' | 'SIGTERM'): Promise<CliOutcome> {
  const child = spawn(process.execPath, [CLI, 'run', SPIN], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
  const running = new Promise<boolean>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.includes('spinning')) resolve(true);
    });
    void exited.then(() => resolve(false));
    setTimeout(() => resolve(false), STEP_MS).unref();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  if (!(await running)) {
    child.kill('SIGKILL');
    return { problem: `vmscope run never printed (stderr: ${err.trim().split('\n').pop() ?? ''})` };
  }
  const pid = child.pid!;
  const s = sample(pid);
  const kids = childrenOf(pid);
  const t0 = Date.now();
  child.kill(signal);
  let t: NodeJS.Timeout | undefined;
  const end = await Promise.race([exited, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), 5000)))]);
  clearTimeout(t);
  if (!end) {
    child.kill('SIGKILL');
    return { problem: `vmscope run did not exit within 5 s of ${signal}`, ...(s ? { sample: s } : {}) };
  }
  const exitMs = Date.now() - t0;
  const want = 128 + osConstants.signals[signal];
  const last = err.trim().split('\n').pop() ?? '';
  const problems: string[] = [];
  if (end.code !== want) problems.push(`exit ${end.code ?? end.signal} after ${signal}, not ${want}`);
  if (!new RegExp(`stopped by ${signal}`).test(last)) problems.push(`last line after ${signal} is ${JSON.stringify(last)}`);
  if (/\n\s+at /.test(err)) problems.push('a stack trace on stderr');
  const left = kids.filter(alive);
  if (left.length) problems.push(`${left.length} child process(es) left behind: ${left.join(', ')}`);
  return { ...(problems.length ? { problem: problems.join('; ') } : {}), ...(s ? { sample: s } : {}), exitMs };
}

export const lifecyclePart: FuzzPart = {
  name: 'lifecycle',
  defaultRuns: 500,
  async run(opts: PartOptions): Promise<PartResult> {
    const findings: Finding[] = [];
    const samples: LifecycleSample[] = [];
    const cycleMs: number[] = [];
    const port = await freePort();
    const server = spawnAdapter(ADAPTER, [`--server=${port}`]);
    const pid = server.child.pid!;
    const started = Date.now();
    // The adapter says it listens on stderr.
    for (let i = 0; i < 250 && !server.stderr().includes('waiting for debug protocol'); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const base = sample(pid)!;
    samples.push({ kind: 'adapter', cycle: 0, ...base });
    // Cycles alternate: even ones stop on entry, odd ones terminate mid-run; runs of each kind.
    for (let i = 0; i < 2 * opts.runs; i++) {
      const kind = i % 2 === 0 ? 'entry' : 'terminate';
      const t0 = Date.now();
      try {
        await adapterCycle(port, kind, Rng.forCase(opts.seed, i));
      } catch (e) {
        findings.push({ index: i, what: `adapter ${kind} cycle: ${e instanceof Error ? e.message : String(e)}` });
        opts.log(`#${i}: ${findings[findings.length - 1]!.what}`);
      }
      cycleMs.push(Date.now() - t0);
      if (!alive(pid)) {
        findings.push({ index: i, what: `the adapter process exited during cycle ${i} (${String(await server.exited(0))})` });
        break;
      }
      const threads = await threadsSettle(pid, base.threads, 3000);
      if (threads !== undefined && threads > base.threads) findings.push({ index: i, what: `adapter ${kind} cycle left ${threads - base.threads} thread(s) behind (${base.threads} before any session, ${threads} after)` });
      const s = sample(pid);
      if (s) samples.push({ kind: 'adapter', cycle: i + 1, ...s });
      if ((i + 1) % 100 === 0) opts.log(`adapter: ${i + 1}/${2 * opts.runs} cycles, threads ${s?.threads}, RSS ${s?.rssKiB} KiB, fds ${s?.fds}`);
    }
    server.child.kill('SIGTERM');
    if ((await server.exited(5000)) === undefined) {
      findings.push({ index: 2 * opts.runs, what: 'the adapter server did not exit within 5 s of SIGTERM' });
      server.child.kill('SIGKILL');
    }
    if (/vmscope debug adapter:|\n\s+at /.test(server.stderr())) findings.push({ index: 2 * opts.runs, what: `adapter stderr: ${server.stderr().split('\n').find((l) => /vmscope debug adapter:|\s+at /.test(l))?.slice(0, 200)}` });
    const adapterMs = Date.now() - started;

    // The CLI: the same number of runs again, half SIGINT, half SIGTERM.
    const cliStarted = Date.now();
    const exitMs: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
      const r = await cliCycle(signal);
      if (r.problem) {
        findings.push({ index: i, what: `cli ${signal}: ${r.problem}` });
        opts.log(`cli #${i}: ${r.problem}`);
      }
      if (r.exitMs !== undefined) exitMs.push(r.exitMs);
      if (r.sample) samples.push({ kind: 'cli', cycle: i + 1, ...r.sample });
      // Nothing of ours may outlive its cycle: the harness's own children are the adapters and CLIs it started.
      const ours = childrenOf(process.pid).filter(alive);
      if (ours.length) findings.push({ index: i, what: `${ours.length} process(es) still running after cli cycle ${i}` });
      if ((i + 1) % 100 === 0) opts.log(`cli: ${i + 1}/${opts.runs} runs`);
    }
    const cliMs = Date.now() - cliStarted;

    const ad = samples.filter((s) => s.kind === 'adapter');
    const cli = samples.filter((s) => s.kind === 'cli');
    const per100 = (xs: LifecycleSample[], f: (s: LifecycleSample) => number) => (slope(xs.map((s) => s.cycle), xs.map(f)) * 100).toFixed(2);
    fs.writeFileSync(path.join(opts.workDir, 'lifecycle.csv'), ['kind,cycle,threads,rss_kib,fds', ...samples.map((s) => `${s.kind},${s.cycle},${s.threads},${s.rssKiB},${s.fds}`)].join('\n') + '\n');
    fs.writeFileSync(
      path.join(opts.workDir, 'lifecycle-adapter.svg'),
      lineChartSvg(`Debug adapter (one process, ${2 * opts.runs} sessions) after each cycle`, [
        { title: 'threads', unit: 'count', xs: ad.map((s) => s.cycle), ys: ad.map((s) => s.threads) },
        { title: 'RSS', unit: 'MiB', xs: ad.map((s) => s.cycle), ys: ad.map((s) => s.rssKiB / 1024) },
        { title: 'open fds', unit: 'count', xs: ad.map((s) => s.cycle), ys: ad.map((s) => s.fds) },
      ]),
    );
    fs.writeFileSync(
      path.join(opts.workDir, 'lifecycle-cli.svg'),
      lineChartSvg(`vmscope run (one process per run, ${opts.runs} runs) just before its signal`, [
        { title: 'threads', unit: 'count', xs: cli.map((s) => s.cycle), ys: cli.map((s) => s.threads) },
        { title: 'RSS', unit: 'MiB', xs: cli.map((s) => s.cycle), ys: cli.map((s) => s.rssKiB / 1024) },
        { title: 'open fds', unit: 'count', xs: cli.map((s) => s.cycle), ys: cli.map((s) => s.fds) },
      ]),
    );
    const first = ad[1] ?? ad[0]!;
    const last = ad[ad.length - 1]!;
    return {
      part: 'lifecycle',
      runs: opts.runs,
      findings,
      figures: {
        'adapter cycles': String(ad.length - 1),
        'adapter threads start/after 1st/end': `${base.threads}/${first.threads}/${last.threads}`,
        'adapter fds start/after 1st/end': `${base.fds}/${first.fds}/${last.fds}`,
        'adapter RSS start/after 1st/end': `${Math.round(base.rssKiB / 1024)}/${Math.round(first.rssKiB / 1024)}/${Math.round(last.rssKiB / 1024)} MiB`,
        'adapter slopes per 100 cycles': `threads ${per100(ad.slice(1), (s) => s.threads)}, fds ${per100(ad.slice(1), (s) => s.fds)}, RSS ${per100(ad.slice(1), (s) => s.rssKiB)} KiB`,
        'adapter cycle p50/p99': `${percentile(cycleMs, 50)}/${percentile(cycleMs, 99)} ms`,
        'cli runs': String(cli.length),
        'cli exit after signal p50/p99/max': `${percentile(exitMs, 50)}/${percentile(exitMs, 99)}/${Math.max(0, ...exitMs)} ms`,
        'cli slopes per 100 runs': `threads ${per100(cli, (s) => s.threads)}, fds ${per100(cli, (s) => s.fds)}, RSS ${per100(cli, (s) => s.rssKiB)} KiB`,
        'wall time adapter/cli': `${(adapterMs / 1000).toFixed(0)}/${(cliMs / 1000).toFixed(0)} s`,
        'work files': opts.workDir,
      },
    };
  },
};
