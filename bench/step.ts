// `npm run bench` (second part): the round trip of one instruction step.
// Side by side in one run, on the same guest bytes:
// - raw: KVM_SET_GUEST_DEBUG(SINGLESTEP) + KVM_RUN to KVM_EXIT_DEBUG in a
//   bare C loop (bench/kvm-bare.c step);
// - machine: vmscope's Machine API, resume(step-instruction) -> `stopped`;
// - DAP: a DAP client sends stepIn (granularity instruction) to the bundled
//   adapter and waits for the `stopped` event.
// Each on every backend the host offers (KVM, the emulator).

import { once } from 'node:events';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { buildMachine } from '../vmm/builder';
import { benchSpec, buildBench, ROOT, runBare, SPEC } from './build';
import { gatherBackendsInfo } from '../vmm/host-info';
import type { BackendName } from '../vmm/backend';

const STEPS = Number(process.env.BENCH_STEPS ?? 300);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

function raw(bare: string, image: string): number {
  const r = runBare(bare, ['step', image, String(STEPS * 20)]);
  return (r.seconds * 1000) / r.count;
}

async function machineSteps(accel: BackendName): Promise<number[]> {
  const { machine } = buildMachine(benchSpec(), { accel });
  const first = once(machine, 'stopped');
  const done = machine.start({ paused: true });
  await first;
  const times: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    const stopped = once(machine, 'stopped');
    machine.resume(0, { kind: 'step-instruction' });
    await stopped;
    times.push(performance.now() - t0);
  }
  await machine.stop();
  await done;
  return times;
}

async function dapSteps(accel: BackendName): Promise<{ steps: number[]; floor: number[] }> {
  const dc = new DebugClient('node', path.join(ROOT, 'dist', 'debug-adapter.js'), 'vmscope');
  await dc.start();
  try {
    await dc.initializeRequest();
    const entry = dc.waitForEvent('stopped');
    await dc.launch({ spec: SPEC, stopOnEntry: true, accel });
    await dc.configurationDoneRequest();
    await entry;
    const times: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t0 = performance.now();
      const stopped = dc.waitForEvent('stopped');
      await dc.stepInRequest({ threadId: 0, granularity: 'instruction' });
      await stopped;
      times.push(performance.now() - t0);
    }
    // The protocol's own floor: a request that does no VM work at all.
    const floor: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t0 = performance.now();
      await dc.threadsRequest();
      floor.push(performance.now() - t0);
    }
    return { steps: times, floor };
  } finally {
    await dc.stop();
  }
}

async function main(): Promise<void> {
  console.log(`step round trip: ${STEPS} instruction steps each, real-mode guest (bench/guests/outloop.S)`);
  // The guest must not finish within the steps: 300,000 outs is plenty.
  const { image, bare } = buildBench(300_000);
  const backends = gatherBackendsInfo();
  if (backends.kvm.usable) {
    const r = raw(bare, image);
    const m = median(await machineSteps('kvm'));
    const dap = await dapSteps('kvm');
    const d = median(dap.steps);
    const f = median(dap.floor);
    const r2 = raw(bare, image);
    const rawMs = (r + r2) / 2;
    console.log(`  raw KVM single step (C):            ${us(rawMs)} per step (runs before and after: ${us(r)}, ${us(r2)})`);
    console.log(`  vmscope Machine API step (KVM):     ${us(m)} median, ratio ${(m / rawMs).toFixed(1)}`);
    console.log(`  DAP stepIn(instruction) -> stopped: ${us(d)} median, ratio ${(d / rawMs).toFixed(1)} (target <= 2.0)`);
    console.log(`  DAP floor (threads request round trip, no VM work): ${us(f)} median`);
  } else {
    console.log(`  KVM: skipped (${backends.kvm.problem})`);
  }
  if (backends.emulator.usable) {
    const m = median(await machineSteps('emu'));
    const dap = await dapSteps('emu');
    console.log(`  vmscope Machine API step (emulation): ${us(m)} median`);
    console.log(`  DAP stepIn(instruction) -> stopped (emulation): ${us(median(dap.steps))} median; DAP floor ${us(median(dap.floor))}`);
  } else {
    console.log(`  emulation: skipped (${backends.emulator.problem})`);
  }
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
