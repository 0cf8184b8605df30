// `npm run bench`: exit-path throughput of vmscope's TypeScript runner against
// a bare C KVM loop, on the same guest bytes, side by side in one run. Not a
// test: it prints figures (record them in docs/performance.md).
//
// Each round runs the C loop and the runner once; rounds alternate so that
// drift on a noisy machine hits both. Reported: median exits/s of each, and
// the ratio runner / C.

import * as path from 'node:path';
import * as os from 'node:os';
import { buildMachine } from '../vmm/builder';
import { benchSpec, buildBench, runBare } from './build';
import { describeRunEnd } from '../vmm/exits';
import { gatherHostInfo } from '../vmm/host-info';
import { loadNative } from '../vmm/kvm/native';
import { KvmMachine } from '../vmm/kvm/machine';
import { Worker } from 'node:worker_threads';

const COUNT = Number(process.env.BENCH_EXITS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function runC(loop: string, image: string): { exits: number; seconds: number } {
  const r = runBare(loop, ['loop', image]);
  return { exits: r.count, seconds: r.seconds };
}

async function runTs(): Promise<{ exits: number; seconds: number; wallSeconds: number }> {
  const { machine } = buildMachine(benchSpec());
  const r = await machine.start({ timeoutMs: 600_000 });
  if (r.end.kind !== 'vcpu' || r.end.end.kind !== 'debug-exit') throw new Error(`benchmark guest did not finish: ${describeRunEnd(r.end)}`);
  const exits = Object.values(r.exits).reduce((a, b) => a + b, 0);
  return { exits, seconds: r.loopMs[0]! / 1000, wallSeconds: r.elapsedMs / 1000 };
}

/** The rejected design: every exit hops to the main thread and back. */
async function runHop(): Promise<{ exits: number; seconds: number }> {
  const { machine } = buildMachine(benchSpec());
  if (!(machine.backend instanceof KvmMachine)) throw new Error('the thread-hop variant needs KVM');
  const raw = machine.backend.rawVcpu(0);
  const control = new SharedArrayBuffer(4);
  const ctl = new Int32Array(control);
  const native = loadNative();
  const run = new DataView(native.mapRun(raw.fd, raw.mmapSize));
  const L = native.layout.kvm_run as Record<string, number>;
  const seen = new Map<number, number>();
  const worker = new Worker(path.join(__dirname, 'hop-worker.js'), { workerData: { ...raw, control } });
  const done = new Promise<{ exits: number; loopMs: number }>((resolve) => worker.once('message', resolve));
  for (;;) {
    const w = Atomics.waitAsync(ctl, 0, 0);
    if (w.async) await w.value;
    const state = Atomics.load(ctl, 0);
    if (state === 2) break;
    if (state !== 1) continue;
    // Handle the exit on the main thread, as the runner's bus would.
    const port = run.getUint16(L.io_port!, true);
    seen.set(port, (seen.get(port) ?? 0) + 1);
    Atomics.store(ctl, 0, 0);
    Atomics.notify(ctl, 0);
  }
  const r = await done;
  await worker.terminate();
  await machine.stop();
  return { exits: r.exits, seconds: r.loopMs / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const info = gatherHostInfo();
  if (!info.usable) {
    // A KVM benchmark: where /dev/kvm cannot be used it is skipped, and the rest of `npm run bench` goes on.
    console.log(`exit-path benchmark (KVM): skipped: ${info.problem}`);
    return;
  }
  const { image, bare: loop } = buildBench(COUNT);
  console.log(`exit-path benchmark: ${COUNT.toLocaleString('en-US')} OUT exits to an unclaimed port, real mode, ${ROUNDS} rounds`);
  console.log(`host: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, KVM backend ${info.backend.toUpperCase()}, Node ${process.version}`);
  const c: number[] = [];
  const ts: number[] = [];
  const tsWall: number[] = [];
  const hop: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which side goes first so drift does not favour one.
    let a: { exits: number; seconds: number };
    let b: Awaited<ReturnType<typeof runTs>>;
    if (i % 2 === 0) {
      a = runC(loop, image);
      b = await runTs();
    } else {
      b = await runTs();
      a = runC(loop, image);
    }
    if (a.exits !== b.exits) throw new Error(`exit counts differ: C ${a.exits}, runner ${b.exits}`);
    const h = await runHop();
    hop.push(h.exits / h.seconds);
    c.push(a.exits / a.seconds);
    ts.push(b.exits / b.seconds);
    tsWall.push(b.exits / b.wallSeconds);
    console.log(`  round ${i + 1}: C ${fmt(c[i]!)} exits/s, vmscope ${fmt(ts[i]!)} exits/s (${fmt(tsWall[i]!)} counting thread start-up), hop-per-exit design ${fmt(hop[i]!)} exits/s`);
  }
  const mc = median(c);
  const mt = median(ts);
  const perRound = ts.map((t, i) => t / c[i]!);
  console.log(`median: C loop ${fmt(mc)} exits/s | vmscope runner ${fmt(mt)} exits/s | ratio ${(mt / mc).toFixed(3)} (target >= 0.85)`);
  console.log(`        per-round ratios ${perRound.map((r) => r.toFixed(2)).join(' ')}, median ${median(perRound).toFixed(3)}`);
  console.log(`        rejected design, one main-thread hop per exit: ${fmt(median(hop))} exits/s, ratio ${(median(hop) / mc).toFixed(3)}`);
  console.log(`        vmscope including vCPU thread start-up: ${fmt(median(tsWall))} exits/s, ratio ${(median(tsWall) / mc).toFixed(3)}`);
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
