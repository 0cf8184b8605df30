// gdb's `monitor` commands on the hello example, as a user types them in
// Debian's gdb: the page walk (checked against the debug adapter's translate
// request on the same guest), exit breakpoints that stop at the `out`, exit
// counts, the VM's backend and devices, and the help listing.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { ROOT, vmTest } from './kvm';
import { freePort, gdbCommands, NO_GDB, gdbScript, runGdb, startVm } from './gdb-client';

const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');
const HELLO_ELF = path.join(ROOT, 'examples/hello/build/hello.elf');

interface Walk {
  gva: string;
  mode: string;
  levels: Array<{ name: string; index: number; tableGpa: string }>;
  gpa?: string;
}

/** The debug adapter's translate request for one address on a fresh hello VM. */
async function adapterTranslation(address: string): Promise<Walk> {
  const dc = new DebugClient('node', ADAPTER, 'vmscope');
  await dc.start();
  try {
    await dc.initializeRequest();
    const stopped = dc.waitForEvent('stopped', 20_000);
    await dc.launch({ spec: path.join(ROOT, 'examples/hello/hello.vmspec'), stopOnEntry: true });
    await dc.configurationDoneRequest();
    await stopped;
    return (await dc.customRequest('translate', { address })).body as Walk;
  } finally {
    await dc.stop();
  }
}

vmTest('gdb monitor: help, translate $rip as the debug adapter walks it, break-on-exit io stops at the out, exits, info', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port);
  try {
    const { output } = await runGdb(
      gdbScript(
        port,
        [
          'monitor help',
          'break main',
          'continue',
          'monitor translate $rip',
          'delete',
          'monitor break-on-exit io port == 0x3f8',
          'continue',
          'x/i $pc',
          'monitor exits',
          'monitor info',
          'monitor break-on-exit clear',
          'detach',
        ],
        HELLO_ELF,
      ),
    );
    for (const cmd of ['help', 'translate <gva>', 'vmcs [field]', 'exits', 'break-on-exit', 'info']) assert.match(output, new RegExp(`^  ${cmd.replace(/[[\]<>]/g, '\\$&')}`, 'm'), `help lists ${cmd}\n${output}`);

    // The walk gdb printed, against the adapter's translate request for the same address on the same guest.
    const gvaLine = /^GVA (0x[0-9a-f]+) \(paging (\w+)\)$/m.exec(output);
    assert.ok(gvaLine, output);
    const bp = /^Breakpoint 1 at (0x[0-9a-f]+)/m.exec(output);
    assert.equal(gvaLine[1], bp?.[1], 'translate $rip walks the address gdb stopped at');
    const expected = await adapterTranslation(gvaLine[1]!);
    assert.equal(gvaLine[2], expected.mode);
    const levels = [...output.matchAll(/^  (\w+)\s+table (0x[0-9a-f]+) \[(\d+)\] = 0x[0-9a-f]+/gm)].map((m) => ({ name: m[1], tableGpa: m[2], index: Number(m[3]) }));
    assert.deepEqual(levels, expected.levels.map((l) => ({ name: l.name, tableGpa: l.tableGpa, index: l.index })));
    const gpaLine = /^  GPA (0x[0-9a-f]+)/m.exec(output);
    assert.equal(gpaLine?.[1], expected.gpa);
    assert.match(output, /^  HVA 0x[0-9a-f]+ -> /m);

    // The exit breakpoint: gdb reports a SIGTRAP at the out instruction that wrote the port.
    assert.match(output, /Program received signal SIGTRAP/);
    assert.match(output, /^=> 0x[0-9a-f]+ <[a-z_]+\+\d+>:\s+out\s/m);
    const io = /^  io\s+(\d+)$/m.exec(output);
    assert.ok(io && Number(io[1]) >= 1, output);
    assert.match(output, /vcpu 0  io\s+out 0x3f8/);
    assert.match(output, /^last exit stop: I\/O instruction .*out 0x3f8.*\(filter io, hit 1\)$/m);

    assert.match(output, /^backend: emu /m);
    assert.match(output, /^  serial \(uart16550 at port 0x3f8\)/m);
    assert.match(output, /^memory map:\n\s+0x0 /m);

    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
    // Cleared filters and a detach let the guest finish.
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), 'Hello from the guest\n');
  } finally {
    vm.child.kill();
  }
}, ['emu']);

vmTest('gdb monitor: an unknown command or a bad condition prints why and fails, and the session goes on', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port);
  try {
    // -ex commands go on after a failed one, as a user's session does (a -x script would stop there).
    const { output } = await gdbCommands([`target remote 127.0.0.1:${port}`, 'monitor break-on-exit io port ==', 'monitor frobnicate', 'monitor exits', 'detach']);
    assert.match(output, /^error: expected an operand after '==' .*\nProtocol error with Rcmd$/m);
    assert.match(output, /^error: unknown monitor command "frobnicate"; "monitor help" lists them\nProtocol error with Rcmd$/m);
    // The refused filter was not set.
    assert.match(output, /^exit filters: none$/m);
    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
    assert.equal(await vm.exited, 0, vm.stderr());
  } finally {
    vm.child.kill();
  }
}, ['emu']);
