// What the VS Code client's views and settings rely on, through DAP against the bundled adapter, on each
// backend the host offers (the real /dev/kvm, the emulator): the vmInfo request (VM tree, status bar), serial output as vmscope.serial events (serial console),
// and the launch attributes that carry the settings (breakOnExit, traceBufferSize).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localCopy } from '../debug-adapter/context';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ROOT, vmTest } from './kvm';
import { withClient, withSession } from './dap-client';
import { scratchDir } from './scratch';

const HELLO = path.join(ROOT, 'examples/hello/hello.vmspec');

interface VmInfo {
  backend: string;
  state: string;
  vcpus: Array<{ id: number; state: string; mode?: string; cpl?: number; rip?: string; focus?: boolean }>;
  memory: Array<{ name: string; kind: string; gpa: string; size: number }>;
  devices: Array<{ name: string; kind: string; port: string }>;
  exitCounts: Record<string, number>;
  exitFilters: string[];
}

vmTest('vmInfo: vCPU mode and CPL at entry, the memory map, the devices, and exit counts after a run', async (_t, backend) => {
  await withSession({ spec: HELLO, stopOnEntry: true }, [], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const info = (await dc.customRequest('vmInfo')).body as VmInfo;
    assert.equal(info.state, 'stopped');
    assert.match(info.backend, backend === 'emu' ? /^emu$/ : /^(pvm|vmx|svm|unknown)$/);
    assert.deepEqual(info.vcpus.map((v) => [v.id, v.state, v.mode, v.cpl, v.focus]), [[0, 'paused', 'long', 0, true]]);
    assert.match(info.vcpus[0]!.rip ?? '', /^0x[0-9a-f]+$/);
    assert.deepEqual(info.memory, [{ name: 'ram', kind: 'ram', gpa: '0x0', size: 16 * 1024 * 1024 }]);
    assert.deepEqual(info.devices.map((d) => ({ name: d.name, kind: d.kind, port: d.port })), [
      { name: 'serial', kind: 'uart16550', port: '0x3f8' },
      { name: 'debug-exit', kind: 'debug-exit', port: '0xf4' },
    ]);
    assert.deepEqual(info.exitCounts, {});

    // Break at the last exit (the debug-exit port) to read the counts of a whole run.
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'io', condition: 'port == 0xf4' }] });
    const stopped = dc.waitForEvent('stopped', 20_000);
    await dc.continueRequest({ threadId: 0 });
    await stopped;
    const after = (await dc.customRequest('vmInfo')).body as VmInfo;
    // "Hello from the guest\n" is 21 bytes to the UART's data register, plus the exit port.
    assert.ok((after.exitCounts.io ?? 0) >= 22, JSON.stringify(after.exitCounts));
    assert.deepEqual(after.exitFilters, ['io']);
  });
});

vmTest('serialConsole: guest output arrives as vmscope.serial events, not Debug Console output', async () => {
  await withClient(async ({ dc, stdout }) => {
    let serial = '';
    dc.on('vmscope.serial', (e: DebugProtocol.Event) => (serial += String((e.body as { text: string }).text)));
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.launch({ spec: HELLO, stopOnEntry: false, serialConsole: true });
    await initialized;
    await dc.configurationDoneRequest();
    assert.equal((await exited).body.exitCode, 0);
    assert.equal(serial, 'Hello from the guest\n');
    assert.equal(stdout(), '');
  });
});

vmTest('breakOnExit and traceBufferSize launch attributes: ticked from the start, and the trace ring holds that many', async () => {
  await withClient(async ({ dc, console }) => {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    const caps = dc.waitForEvent('capabilities');
    await dc.launch({ spec: HELLO, stopOnEntry: false, breakOnExit: ['hlt', 'nonsense'], traceBufferSize: 16 });
    const filters = ((await caps) as DebugProtocol.CapabilitiesEvent).body.capabilities.exceptionBreakpointFilters ?? [];
    assert.equal(filters.find((f) => f.filter === 'hlt')?.default, true);
    assert.equal(filters.find((f) => f.filter === 'io')?.default, false);
    assert.match(console(), /unknown exit filter "nonsense"/);
    await initialized;
    // As VS Code does: the ticked filters come back in setExceptionBreakpoints.
    await dc.setExceptionBreakpointsRequest({ filters: ['io'] });
    await dc.configurationDoneRequest();
    await dc.waitForEvent('stopped', 20_000);
    for (let i = 0; i < 30; i++) {
      const s = dc.waitForEvent('stopped', 20_000);
      await dc.continueRequest({ threadId: 0 });
      await s;
    }
    const trace = (await dc.customRequest('exitTrace', { max: 1000 })).body as { exits: unknown[]; counts: Record<string, number> };
    assert.equal(trace.exits.length, 16, 'the ring keeps the last 16 exits');
    assert.ok((trace.counts.KVM_EXIT_IO ?? 0) > 16, JSON.stringify(trace.counts));
  });
});

vmTest('a guest debugged from a copy of its directory stops in the copy’s sources, not where it was built', async () => {
  const dir = scratchDir('vmscope-copy-');
  fs.cpSync(path.join(ROOT, 'examples', 'hello'), dir, { recursive: true });
  // An edited copy is not the file the image was built from: it is not substituted.
  fs.appendFileSync(path.join(dir, 'hello.c'), '\n/* edited */\n');
  await withSession({ spec: path.join(dir, 'hello.vmspec'), stopOnEntry: true }, [], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const frames = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames;
    assert.equal(frames[0]?.source?.path, path.join(dir, 'start.S'));
  });
  assert.equal(localCopy(path.join(ROOT, 'examples', 'hello', 'hello.c'), dir), undefined, 'the edited hello.c differs');
  assert.equal(localCopy(path.join(ROOT, 'examples', 'hello', 'start.S'), dir), path.join(dir, 'start.S'));
  assert.equal(localCopy('/nonexistent/build/dir/start.S', dir), path.join(dir, 'start.S'), 'a vanished build path maps to the copy');
  assert.equal(localCopy(path.join(dir, 'start.S'), dir), undefined, 'already under the spec directory');
});

vmTest('an I/O exit stop shows the line of the I/O instruction, whichever side of it rip is on', async () => {
  const lines = fs.readFileSync(path.join(ROOT, 'examples/hello/hello.c'), 'utf8').split('\n');
  const outLine = lines.findIndex((l) => l.includes('outb(COM1 + UART_THR')) + 1;
  assert.ok(outLine > 0);
  await withSession(HELLO, [{ filterId: 'io', condition: "port == 0x3f8 && value == 'H'" }], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const top = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!;
    assert.equal(top.source?.path, path.join(ROOT, 'examples/hello/hello.c'));
    // uart_putc's outb is inlined from outb(), so the out instruction's line is that of the call in uart_putc or of
    // the asm statement in outb(); never the line after it.
    const asmLine = lines.findIndex((l) => l.includes('"outb %0, %1"')) + 1;
    assert.ok([outLine, asmLine].includes(top.line), `line ${top.line}, expected ${outLine} or ${asmLine}; frame ${top.name}`);
    const rip = BigInt((await dc.evaluateRequest({ expression: 'rip', context: 'watch', frameId: top.id })).body.result.split(' ')[0]!);
    const dis = (await dc.disassembleRequest({ memoryReference: top.instructionPointerReference!, instructionCount: 1 })).body!.instructions[0]!;
    assert.match(dis.instruction, /^out\b/, `the frame's instruction is the out: ${dis.instruction}`);
    assert.ok(BigInt(dis.address) === rip || BigInt(dis.address) + 1n === rip, 'rip is at the out (VMX, SVM) or just past it (PVM)');
  });
});

vmTest('disassembly around any frame: real instructions back across functions, and windows wholly before it', async () => {
  await withSession(HELLO, [{ filterId: 'io', condition: "port == 0x3f8 && value == 'H'" }], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const frames = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames;
    assert.ok(frames.length >= 3, frames.map((f) => f.name).join(', '));
    for (const f of frames.slice(0, 3)) {
      // As VS Code opens the view: 50 instructions either side of the frame's pc.
      const r = (await dc.disassembleRequest({ memoryReference: f.instructionPointerReference!, instructionOffset: -50, instructionCount: 100 })).body!.instructions;
      assert.equal(r.length, 100);
      assert.equal(BigInt(r[50]!.address), BigInt(f.instructionPointerReference!), `${f.name}: index 50 is the frame's pc`);
      const addresses = r.map((i) => BigInt(i.address));
      assert.ok(addresses.every((a, i) => i === 0 || a > addresses[i - 1]!), `${f.name}: addresses ascend`);
      // The guest's code starts at the image's load address (1 MiB); from there on every row is a real instruction.
      const code = r.filter((i) => BigInt(i.address) >= 0x100000n);
      assert.deepEqual(code.filter((i) => i.instruction === '??').map((i) => i.address), [], `${f.name}: no placeholders over code`);
      // A caller's pc follows its call.
      if (f !== frames[0]) assert.match(r[49]!.instruction, /^call\b/, `${f.name}: ${r[49]!.instruction}`);
    }
    // Scrolling up: a window that ends before the pc.
    const up = (await dc.disassembleRequest({ memoryReference: frames[0]!.instructionPointerReference!, instructionOffset: -400, instructionCount: 200 })).body!.instructions;
    assert.equal(up.length, 200);
    assert.ok(BigInt(up[199]!.address) < BigInt(frames[0]!.instructionPointerReference!));
  });
});
