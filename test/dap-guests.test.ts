// Real guests debugged through the bundled adapter: the multiboot kernel (a
// source breakpoint in its timer interrupt handler, the call stack through the
// interrupt frame, the VM view's live devices, a System.map given as
// boot.symbols) and Debian's Linux kernel (a breakpoint at its 64-bit entry,
// the shell prompt on the serial console, pause, translate).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { withClient } from './dap-client';
import { ROOT, vmTest, skipOnPvm } from './kvm';
import { parseElf } from '../formats/elf';

const MB_DIR = path.join(ROOT, 'examples/multiboot-kernel');
const MB_SPEC = path.join(MB_DIR, 'kernel.vmspec');
const MB_C = path.join(MB_DIR, 'kernel.c');
const MB_ELF = path.join(MB_DIR, 'build/kernel.elf');

/** The line of the first occurrence of `text` in a file (1-based), searching from the line holding `after`. */
function lineOf(file: string, text: string, after?: string): number {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const from = after === undefined ? 0 : lines.findIndex((l) => l.includes(after));
  const i = lines.findIndex((l, k) => k >= from && l.includes(text));
  if (from < 0 || i < 0) throw new Error(`"${text}" not in ${file}`);
  return i + 1;
}

async function launched(dc: DebugClient, args: Record<string, unknown>, configure: () => Promise<void>): Promise<void> {
  await dc.initializeRequest();
  const initialized = dc.waitForEvent('initialized');
  await dc.launch({ stopOnEntry: false, ...args } as DebugProtocol.LaunchRequestArguments);
  await initialized;
  await configure();
  await dc.configurationDoneRequest();
}

vmTest('DAP: a breakpoint in the multiboot kernel\'s timer handler, with the call stack through the interrupt frame', async (t, backend) => {
  if (skipOnPvm(t, backend, "cannot emulate the multiboot kernel's iret in 32-bit protected mode (a KVM internal error when its timer handler returns)")) return;
  const line = lineOf(MB_C, 'ticks++;', 'void timer_tick(void)');
  await withClient(async ({ dc, stdout }) => {
    let bp: DebugProtocol.Breakpoint | undefined;
    const stopped = dc.waitForEvent('stopped', 30_000);
    await launched(dc, { spec: MB_SPEC }, async () => {
      // The third tick: by then the kernel waits in wait_ticks (the first could strike between sti and the call).
      const set = await dc.setBreakpointsRequest({ source: { path: MB_C }, breakpoints: [{ line, hitCondition: '3' }] });
      bp = set.body.breakpoints[0];
      assert.ok(bp?.verified, bp?.message);
      assert.equal(bp.line, line);
    });
    const stop = (await stopped) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.reason, 'breakpoint');
    assert.deepEqual(stop.body.hitBreakpointIds, [bp!.id]);
    const trace = await dc.stackTraceRequest({ threadId: 0 });
    const frames = trace.body.stackFrames;
    assert.equal(frames[0]!.line, line);
    assert.equal(frames[0]!.source?.path, MB_C);
    const names = frames.map((f) => f.name.replace(/[+ ].*/, ''));
    // timer_tick <- the IRQ 0 stub <- what the interrupt stopped (wait_ticks in its hlt loop) <- kernel_main <- _start's code.
    assert.deepEqual(names.slice(0, 4), ['timer_tick', 'irq0_entry', 'wait_ticks', 'kernel_main'], names.join(' <- '));
    // The interrupted frame shows the instruction the interrupt returns to: past the hlt, the loop's test.
    assert.match(frames[2]!.name, /\[interrupted\]$/);
    assert.doesNotMatch(frames[1]!.name, /interrupted/);
    assert.equal(frames[2]!.line, lineOf(MB_C, 'while (ticks < until)', 'void __attribute__((noinline)) wait_ticks'));
    assert.equal(frames[3]!.source?.path, MB_C);
    assert.match(stdout(), /waiting for 50 ticks/);

    await dc.setBreakpointsRequest({ source: { path: MB_C }, breakpoints: [] });
    const exited = dc.waitForEvent('exited', 30_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
    assert.match(stdout(), /multiboot-kernel: done/);
  });
});

interface DeviceInfo {
  name: string;
  kind: string;
  port?: string;
  model?: string;
  active?: boolean;
  interrupts?: number;
  fields?: Array<{ name: string; value: string }>;
}

vmTest('DAP: vmInfo shows the live devices: the PIT active with its interrupts, the PIC with its IRQ 0 requests', async (t, backend) => {
  if (skipOnPvm(t, backend, "cannot emulate the multiboot kernel's iret in 32-bit protected mode (a KVM internal error when its timer handler returns)")) return;
  const line = lineOf(MB_C, 'ticks++;', 'void timer_tick(void)');
  await withClient(async ({ dc }) => {
    const stopped = dc.waitForEvent('stopped', 30_000);
    await launched(dc, { spec: MB_SPEC }, async () => {
      await dc.setBreakpointsRequest({ source: { path: MB_C }, breakpoints: [{ line, hitCondition: '5' }] });
    });
    await stopped;
    const devices = ((await dc.customRequest('vmInfo')).body as { devices: DeviceInfo[] }).devices;
    const byName = new Map(devices.map((d) => [d.name, d]));
    const pit = byName.get('pit');
    assert.equal(pit?.model, '8254 PIT');
    assert.equal(pit.active, true);
    // The fifth tick's handler runs: at least four were raised before it (five, unless the fifth is still in flight).
    assert.ok((pit.interrupts ?? 0) >= 4, JSON.stringify(pit));
    assert.match(pit.fields?.find((f) => f.name.startsWith('channel 0'))?.value ?? '', /mode 2, count 11931/);
    const pic = byName.get('pic');
    assert.equal(pic?.active, true);
    assert.ok((pic.interrupts ?? 0) >= 4);
    assert.match(pic.fields?.find((f) => f.name === 'requests by line')?.value ?? '', /^IRQ 0: \d+$/);
    // The kernel polls the UART (IER 0): used, but no interrupts. The spec's ports are still there.
    const serial = byName.get('serial');
    assert.deepEqual([serial?.port, serial?.active, serial?.interrupts], ['0x3f8', true, 0]);
    assert.equal(byName.get('debug-exit')?.port, '0xf4');

    await dc.setBreakpointsRequest({ source: { path: MB_C }, breakpoints: [] });
    const exited = dc.waitForEvent('exited', 30_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
    // After the run: 50 ticks (or a few more before the kernel's cli).
    const after = ((await dc.customRequest('vmInfo')).body as { devices: DeviceInfo[] }).devices.find((d) => d.name === 'pit');
    assert.ok((after?.interrupts ?? 0) >= 50, JSON.stringify(after));
  });
});

vmTest('DAP: boot.symbols as a System.map names a stripped kernel\'s functions: a function breakpoint, the stack, the disassembly', async (t, backend) => {
  if (skipOnPvm(t, backend, "cannot emulate the multiboot kernel's iret in 32-bit protected mode (a KVM internal error when its timer handler returns)")) return;
  // The multiboot kernel stripped of its symbols, and its `nm -n` System.map, in a spec of their own.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-symbols-'));
  try {
    const stripped = path.join(dir, 'kernel.stripped');
    execFileSync('objcopy', ['--strip-all', MB_ELF, stripped]);
    assert.equal(parseElf(fs.readFileSync(stripped)).symbols.find((s) => s.name === 'timer_tick'), undefined, 'the image names nothing itself');
    fs.writeFileSync(path.join(dir, 'System.map'), execFileSync('nm', ['-n', MB_ELF]));
    const spec = path.join(dir, 'kernel.vmspec');
    const text = fs.readFileSync(MB_SPEC, 'utf8').replace(/^(\s*)image:.*$/m, '$1image: kernel.stripped\n$1symbols: System.map');
    assert.match(text, /symbols: System\.map/);
    fs.writeFileSync(spec, text);
    const timerTick = parseElf(fs.readFileSync(MB_ELF)).symbols.find((s) => s.name === 'timer_tick')!.value;

    await withClient(async ({ dc, console: consoleText }) => {
      let bp: DebugProtocol.Breakpoint | undefined;
      const stopped = dc.waitForEvent('stopped', 30_000);
      await launched(dc, { spec }, async () => {
        const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'timer_tick', hitCondition: '3' }] });
        bp = set.body.breakpoints[0];
        assert.ok(bp?.verified, bp?.message);
        // No line table: the breakpoint goes on the function's first byte.
        assert.equal(BigInt(bp.instructionReference ?? '-1'), timerTick);
      });
      const stop = (await stopped) as DebugProtocol.StoppedEvent;
      assert.deepEqual(stop.body.hitBreakpointIds, [bp!.id]);
      const frames = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames;
      assert.equal(BigInt(frames[0]!.instructionPointerReference!), timerTick);
      const names = frames.map((f) => f.name.replace(/[+ ].*/, ''));
      assert.deepEqual(names.slice(0, 4), ['timer_tick', 'irq0_entry', 'wait_ticks', 'kernel_main'], names.join(' <- '));
      assert.equal(frames[0]!.source, undefined, 'a System.map has no lines');
      const dis = await dc.disassembleRequest({ memoryReference: frames[0]!.instructionPointerReference!, instructionCount: 2 });
      assert.equal(dis.body!.instructions[0]!.symbol, 'timer_tick');
      assert.doesNotMatch(consoleText(), /warning/);

      await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
      const exited = dc.waitForEvent('exited', 30_000);
      await dc.continueRequest({ threadId: 0 });
      assert.equal((await exited).body.exitCode, 0);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

vmTest('DAP: a guest that resets the machine (i8042, on-reset: reset) gets a fresh one and goes on; the session stays', async () => {
  await withClient(async ({ dc, stdout, console }) => {
    await launched(dc, { spec: path.join(ROOT, 'test/guests/reset.vmspec') }, async () => {});
    const deadline = Date.now() + 30_000;
    while ((stdout().match(/^boot$/gm) ?? []).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok((stdout().match(/^boot$/gm) ?? []).length >= 3, stdout());
    assert.match(console(), /the guest reset the machine; restarting it/);
    // Still one session: its threads answer.
    const threads = await dc.threadsRequest();
    assert.equal(threads.body.threads.length, 1);
  });
});
