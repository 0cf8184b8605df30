// Page-walk throughput: the software walker's fast path (`translate`) and its
// detailed walk (`walk`) against KVM_TRANSLATE (one ioctl per translation) on
// a real paused vCPU, over the same 4-level page tables with 4 KiB pages in
// guest RAM. Not a test: it prints one line per figure.

import { once } from 'node:events';
import * as path from 'node:path';
import { gpa as toGpa, gva as toGva, type Gpa, type Gva } from '../common/address';
import { buildMachine } from '../vmm/builder';
import { gatherHostInfo } from '../vmm/host-info';
import type { Machine } from '../vmm/machine';
import { loadSpecFile } from '../vmspec/load';
import { physReader } from '../vmm/paging/phys';
import { KIB4, PTE, TableBuilder } from '../vmm/paging/tables';
import { translate, walk, type PagingContext, type ReadPhys } from '../vmm/paging/walk';

const ROOT = path.resolve(__dirname, '..', '..');
const SPEC = path.join(ROOT, 'test', 'guests', 'spin.vmspec'); // 16 MiB of RAM
const GVAS = Number(process.env.BENCH_WALK_GVAS ?? 4096);
const SECONDS = Number(process.env.BENCH_WALK_SECONDS ?? 1);

/** Runs `one` over the GVAs, round after round, for at least SECONDS; translations per second. */
function rate(gvas: readonly Gva[], one: (gva: Gva) => unknown): number {
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (const g of gvas) one(g);
    n += gvas.length;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < SECONDS);
  return n / elapsed;
}

const fmt = (perSecond: number) => `${(perSecond / 1e6).toFixed(2)} M translations/s`;

/**
 * Maps GVAS 4 KiB pages spread over ~1/2 GiB of a user-half range (so the walks
 * touch hundreds of page tables, not one), each to some page of RAM.
 */
function buildTables(mem: { read(a: number, n: number): Uint8Array; write(a: number, d: Uint8Array): void }): { cr3: bigint; gvas: Gva[]; expect: Gpa[] } {
  let next = 0x80_0000;
  const tables = new TableBuilder('long4', mem, () => (next += KIB4) - KIB4);
  const gvas: Gva[] = [];
  const expect: Gpa[] = [];
  for (let i = 0; i < GVAS; i++) {
    const page = 0x7f00_0000_0000n + BigInt(i) * 37n * 0x1000n;
    const target = BigInt(0x20_0000 + (i % 1024) * KIB4);
    tables.map(page, target, KIB4, PTE.P | PTE.RW | PTE.US);
    const off = BigInt((i * 8) % 4096);
    gvas.push(toGva(page + off));
    expect.push(toGpa(target + off));
  }
  return { cr3: tables.cr3, gvas, expect };
}

function software(label: string, ctx: PagingContext, read: ReadPhys, gvas: readonly Gva[], expect: readonly Gpa[]): void {
  gvas.forEach((g, i) => {
    if (translate(g, ctx, read) !== expect[i] || walk(g, ctx, read).gpa !== expect[i]) throw new Error(`walker got 0x${g.toString(16)} wrong`);
  });
  console.log(`translate (fast path), ${label}: ${fmt(rate(gvas, (g) => translate(g, ctx, read)))}`);
  console.log(`walk (detailed), ${label}: ${fmt(rate(gvas, (g) => walk(g, ctx, read)))}`);
}

async function main(): Promise<void> {
  const label = `4-level, 4 KiB pages, ${GVAS} GVAs, >= ${SECONDS} s each`;
  const info = gatherHostInfo();
  if (!info.usable) {
    // The walker needs no KVM: measure it over a plain byte array, and say what is missing.
    const bytes = new Uint8Array(16 * 1024 * 1024);
    const { cr3, gvas, expect } = buildTables({ read: (a, n) => bytes.slice(a, a + n), write: (a, d) => bytes.set(d, a) });
    const ctx: PagingContext = { cr0: 0x8001_0033n, cr3, cr4: 0x20n, efer: 0xd00n };
    software(label + ', tables in a byte array', ctx, physReader({ regions: [{ gpa: 0, bytes }] }), gvas, expect);
    console.log(`KVM_TRANSLATE: not measured (${info.problem ?? 'KVM is not usable'})`);
    return;
  }
  const loaded = loadSpecFile(SPEC);
  if (!loaded.spec) throw new Error(loaded.diagnostics.map((d) => d.message).join('; '));
  const { machine } = buildMachine(loaded.spec);
  const stopped = once(machine, 'stopped');
  const done = machine.start({ paused: true });
  await stopped;
  try {
    await measureOn(machine, label);
  } finally {
    await machine.stop();
    await done;
  }
}

async function measureOn(machine: Machine, label: string): Promise<void> {
  const mem = { read: (a: number, n: number) => machine.memory.read(toGpa(a), n), write: (a: number, d: Uint8Array) => machine.memory.write(toGpa(a), d) };
  const { cr3, gvas, expect } = buildTables(mem);
  const state = machine.vcpuState(0);
  const sregs = state.getSregs(); // the spin guest starts in long mode with 4-level paging
  state.setSregs({ ...sregs, cr3, efer: sregs.efer | (1n << 11n) /* NXE */ });
  const s = state.getSregs();
  const ctx: PagingContext = { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
  software(label + ', tables in guest RAM', ctx, physReader(machine.memory), gvas, expect);
  gvas.forEach((g, i) => {
    const t = state.translate(g);
    if (!t.valid || t.physical !== BigInt(expect[i]!)) throw new Error(`KVM_TRANSLATE disagrees at 0x${g.toString(16)}`);
  });
  console.log(`KVM_TRANSLATE (one ioctl each), ${label}: ${fmt(rate(gvas, (g) => state.translate(g)))}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
