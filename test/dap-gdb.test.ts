// A gdb stub beside a VS Code debug session, on the same machine, through the
// real adapter bundle: the gdbServer launch attribute and the startGdbServer
// request, Debian's gdb in batch mode (and a raw protocol client where gdb
// cannot be timed), and the rules of docs/gdb.md "From VS Code": both sides'
// breakpoints stay in force, every stop shows in VS Code, a gdb resume shows
// as continued, and a VS Code pause reaches a waiting gdb.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { withClient } from './dap-client';
import { ROOT, vmTest } from './kvm';
import { NO_GDB, RawClient, runGdb } from './gdb-client';

const HELLO = path.join(ROOT, 'examples/hello/hello.vmspec');
const HELLO_ELF = path.join(ROOT, 'examples/hello/build/hello.elf');
const SPIN = path.join(ROOT, 'test/guests/spin.vmspec');

/** gdb -batch on these commands, after turning off paging and confirmations; its output. */
async function gdbSession(lines: string[]): Promise<string> {
  return (await runGdb(['set pagination off', 'set confirm off', ...lines, ''].join('\n'))).output;
}

/** Every event of the kinds a debugger UI follows, in order. */
function recordEvents(dc: DebugClient): Array<{ event: string; body: Record<string, unknown> }> {
  const seen: Array<{ event: string; body: Record<string, unknown> }> = [];
  for (const event of ['stopped', 'continued', 'exited', 'terminated']) {
    dc.on(event, (e: DebugProtocol.Event) => seen.push({ event, body: (e.body ?? {}) as Record<string, unknown> }));
  }
  return seen;
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

vmTest('DAP + gdb: gdbServer serves the session\'s VM; gdb reads registers and breaks, VS Code sees each stop, and VS Code\'s breakpoint stops gdb too', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  await withClient(async ({ dc, console }) => {
    const events = recordEvents(dc);
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    const entry = dc.waitForEvent('stopped', 20_000);
    await dc.launch({ spec: HELLO, stopOnEntry: true, gdbServer: 0 });
    await initialized;
    // VS Code's breakpoint: gdb's continue must stop there too.
    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'uart_puts' }] });
    assert.ok(fb.body.breakpoints[0]?.verified);
    await dc.configurationDoneRequest();
    assert.equal(((await entry) as DebugProtocol.StoppedEvent).body.reason, 'entry');
    const info = (await dc.customRequest('vmInfo')).body as { gdbServer?: string };
    assert.match(info.gdbServer ?? '', /^127\.0\.0\.1:\d+$/, 'a port of 0 listens on a free loopback port');
    assert.match(console(), new RegExp(`gdb stub listening on ${info.gdbServer!.replace(/\./g, '\\.')}; in gdb: target remote`));
    assert.doesNotMatch(console(), /warning: the gdb stub/);

    const output = await gdbSession([
      `file ${HELLO_ELF}`,
      `target remote ${info.gdbServer}`,
      'info registers rip',
      'break main',
      'continue',
      'info registers rip',
      'continue',
      'info registers rip',
      'detach',
    ]);
    const rips = [...output.matchAll(/^rip\s+0x([0-9a-f]+)\s+0x[0-9a-f]+ <([a-z_]+)(\+\d+)?>$/gm)].map((m) => m[2]);
    assert.deepEqual(rips, ['_start', 'main', 'uart_puts'], `${output}\n${JSON.stringify(events)}\n${console()}`);
    assert.match(output, /^Breakpoint 1, main \(\) at .*hello\.c:\d+$/m);
    // VS Code's breakpoint is not gdb's: gdb sees a SIGTRAP there.
    assert.match(output, /SIGTRAP/);
    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);

    await until('the end of the guest', () => events.some((e) => e.event === 'terminated'));
    const seq = events.map((e) => (e.event === 'stopped' ? `stopped:${String(e.body.reason)}` : e.event));
    // gdb's continue from its own breakpoint first steps one instruction with the breakpoint out: VS Code sees that step.
    const expected = ['stopped:entry', 'continued', 'stopped:breakpoint', 'continued', 'stopped:step', 'continued', 'stopped:function breakpoint', 'continued', 'exited', 'terminated'];
    assert.deepEqual(seq, expected, JSON.stringify(events));
    const stops = events.filter((e) => e.event === 'stopped');
    assert.match(String(stops[1]!.body.description), /^gdb's breakpoint at 0x[0-9a-f]+ \(main\)/);
    assert.equal(events[3]!.body.allThreadsContinued, false, 'gdb\'s step runs one vCPU');
    const atPuts = stops[3]!.body;
    assert.deepEqual(atPuts.hitBreakpointIds, [fb.body.breakpoints[0]!.id]);
    assert.equal(events.find((e) => e.event === 'exited')!.body.exitCode, 0);
    assert.match(console(), /gdb: client .* attached/);
  });
});

vmTest('DAP + gdb: startGdbServer on a running session; gdb\'s attach and continue show in VS Code, VS Code\'s pause reaches a waiting gdb, VS Code\'s continue does not wedge it', async () => {
  await withClient(async ({ dc, stdout, console }) => {
    const events = recordEvents(dc);
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launch({ spec: SPIN, stopOnEntry: false, serialConsole: false });
    await initialized;
    await dc.configurationDoneRequest();
    await until('the guest to spin', () => stdout().includes('spinning'));

    const bad = await dc.customRequest('startGdbServer', { address: 'not an address' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.match(String(bad), /startGdbServer "address" is "not an address"; give \[host:\]port/);
    const started = (await dc.customRequest('startGdbServer', { address: '127.0.0.1:0' })).body as { port: number; address: string; targetRemote: string; alreadyListening: boolean; loopback: boolean };
    assert.ok(started.port > 0);
    assert.equal(started.targetRemote, `target remote 127.0.0.1:${started.port}`);
    assert.deepEqual([started.alreadyListening, started.loopback], [false, true]);
    const again = (await dc.customRequest('startGdbServer', {})).body as { port: number; alreadyListening: boolean };
    assert.deepEqual([again.port, again.alreadyListening], [started.port, true]);

    const socket = net.connect(started.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const c = new RawClient(socket);
    try {
      // Attaching stops the VM: VS Code sees the stop.
      c.packet('?');
      await c.expect(/\$T05(?:[0-9a-f]{2}:[0-9a-f]+;)*thread:01;#/);
      await until('VS Code to see the stop', () => events.some((e) => e.event === 'stopped'));

      // gdb continues: VS Code sees the VM run; VS Code pauses: gdb gets its stop reply (SIGINT), VS Code its stop.
      const continued = dc.waitForEvent('continued', 15_000);
      c.packet('c');
      await continued;
      const paused = dc.waitForEvent('stopped', 15_000);
      await dc.pauseRequest({ threadId: 0 });
      await c.expect(/\$T02(?:[0-9a-f]{2}:[0-9a-f]+;)*thread:01;#/);
      assert.equal(((await paused) as DebugProtocol.StoppedEvent).body.reason, 'pause');
      c.packet('g');
      await c.expect(/\$[0-9a-fx]{32,}#/);

      // VS Code continues (gdb is not told: its protocol has no word for it); gdb is answered at once, and a gdb
      // continue then a VS Code pause stop both again.
      await dc.continueRequest({ threadId: 0 });
      c.packet('qC');
      await c.expect(/\$QC01#/);
      c.packet('c');
      const paused2 = dc.waitForEvent('stopped', 15_000);
      await dc.pauseRequest({ threadId: 0 });
      await c.expect(/\$T02(?:[0-9a-f]{2}:[0-9a-f]+;)*thread:01;#/);
      await paused2;

      // Detach: the guest runs on, and VS Code sees it run.
      const runsOn = dc.waitForEvent('continued', 15_000);
      c.packet('D');
      await c.expect(/\$OK#/);
      await runsOn;
      assert.match(console(), /gdb: client detached/);
    } finally {
      socket.destroy();
    }
    const seq = events.map((e) => (e.event === 'stopped' ? `stopped:${String(e.body.reason)}` : e.event));
    assert.deepEqual(seq, ['stopped:pause', 'continued', 'stopped:pause', 'stopped:pause', 'continued'], JSON.stringify(events));
  });
});

vmTest('DAP: a malformed gdbServer attribute fails the launch with the accepted forms', async () => {
  await withClient(async ({ dc }) => {
    await dc.initializeRequest();
    const err = await dc.launch({ spec: HELLO, gdbServer: 'localhost:http' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.match(String(err), /launch attribute "gdbServer" is "localhost:http"; give \[host:\]port/);
  });
});
