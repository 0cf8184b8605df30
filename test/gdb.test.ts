// The gdb stub as its users meet it: Debian's gdb in batch mode against
// `vmscope run --gdb … --gdb-wait` on the hello example, and a raw client
// that sends what gdb never would (bad checksums, malformed packets).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { hostInfo, ROOT, vmTest } from './kvm';
import { encodePacket } from '../gdb-stub/packets';
import { freePort, NO_GDB, RawClient, gdbScript, runGdb, startVm, symbol } from './gdb-client';

const HELLO_ELF = path.join(ROOT, 'examples/hello/build/hello.elf');

vmTest('gdb: break main, continue, registers, next, x/s, stepi, detach; the guest runs to exit 0', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port);
  try {
    const { output } = await runGdb(
      gdbScript(
        port,
        [
          'break main',
          'continue',
          'info registers rip',
          'next',
          'next',
          'break uart_puts',
          'continue',
          'x/s $rdi',
          'stepi',
          'info registers rip',
          'delete',
          'detach',
        ],
        HELLO_ELF,
      ),
    );
    const bp1 = /^Breakpoint 1 at 0x([0-9a-f]+): file .*hello\.c, line (\d+)\.$/m.exec(output);
    assert.ok(bp1, output);
    assert.match(output, new RegExp(`^Breakpoint 1, main \\(\\) at .*hello\\.c:${bp1[2]}$`, 'm'));
    const rips = [...output.matchAll(/^rip\s+0x([0-9a-f]+)\s+0x[0-9a-f]+ <([a-z_]+)(\+\d+)?>$/gm)];
    assert.equal(rips.length, 2, output);
    assert.equal(rips[0]![1], bp1[1], 'stopped at main\'s breakpoint');
    assert.equal(rips[0]![2], 'main');
    // Each next goes on to main's following source line (the second over the call to uart_init), as gdb prints it from hello.c.
    const lines = fs.readFileSync(path.join(ROOT, 'examples/hello/hello.c'), 'utf8').split('\n');
    for (const n of [Number(bp1[2]) + 1, Number(bp1[2]) + 2]) assert.ok(output.includes(`\n${n}\t${lines[n - 1]}\n`), `next did not reach line ${n}:\n${output}`);
    // The string uart_puts got, read through the vCPU's page tables.
    assert.match(output, /^0x[0-9a-f]+:\s+"Hello from the guest\\n"$/m);
    const bp2 = /^Breakpoint 2 at 0x([0-9a-f]+)/m.exec(output);
    assert.ok(bp2, output);
    const stepped = BigInt('0x' + rips[1]![1]) - BigInt('0x' + bp2[1]);
    assert.ok(stepped > 0n && stepped <= 15n, `stepi moved one instruction from uart_puts (by ${stepped})`);
    assert.equal(rips[1]![2], 'uart_puts');
    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), 'Hello from the guest\n');
    assert.match(vm.stderr(), /gdb: client .* attached/);
  } finally {
    vm.child.kill();
  }
});

vmTest('gdb stub: a bad checksum gets "-", malformed packets get error or empty replies, and the stub keeps serving', async () => {
  const port = await freePort();
  const vm = await startVm(port);
  try {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const c = new RawClient(socket);
    c.send('$?#00');
    await c.expect(/^-/);
    c.send(encodePacket('mzz,4'));
    await c.expect(/^\+\$E01#[0-9a-f]{2}/);
    c.send(encodePacket('m10000'));
    await c.expect(/^\+\$E01#[0-9a-f]{2}/);
    c.send(encodePacket('Z0,nothex,1'));
    await c.expect(/^\+\$E01#[0-9a-f]{2}/);
    c.send(encodePacket('qNoSuchQuery'));
    await c.expect(/^\+\$#00/);
    c.send(encodePacket('p' + 'f'.repeat(40)));
    await c.expect(/^\+\$E0[01]#[0-9a-f]{2}/);
    // Still serving: the stop reply names vCPU 0 as thread 1, with rbp (6), rsp (7) and rip (0x10) expedited.
    c.send(encodePacket('?'));
    await c.expect(/^\+\$T0506:[0-9a-f]{16};07:[0-9a-f]{16};10:[0-9a-f]{16};thread:01;#[0-9a-f]{2}/);
    c.send(encodePacket('D'));
    await c.expect(/^\+\$OK#[0-9a-f]{2}/);
    socket.destroy();
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), 'Hello from the guest\n');
  } finally {
    vm.child.kill();
  }
});

const WATCH_ELF = path.join(ROOT, 'test/guests/build/watch.elf');

vmTest('gdb: watch, rwatch and awatch on a global stop where gdb expects, with old and new values', async (t, backend) => {
  if (NO_GDB) return t.skip(NO_GDB);
  // Where DR0-3 data watchpoints do not fire (KVM on PVM), `watch` compares the bytes after each instruction and
  // the stub refuses read and access watchpoints (Z3/Z4: E01), which comparing bytes cannot see.
  const exact = backend === 'emu' || hostInfo.probes?.dataWatchpoints === true;
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/watch.vmspec');
  try {
    const writes = ['watch *(int *)&counter', 'continue', 'continue', 'delete'];
    const reads = ['rwatch *(int *)&counter', 'continue', 'delete', 'awatch *(int *)&counter', 'continue', 'delete'];
    const { output } = await runGdb(gdbScript(port, [...writes, ...(exact ? reads : []), 'detach'], WATCH_ELF));
    assert.match(output, /^Hardware watchpoint 1: \*\(int \*\)&counter$/m, output);
    const changes = [...output.matchAll(/^Old value = (\d+)\nNew value = (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(changes.slice(0, 2), [[0, 1], [1, 2]], output);
    if (!exact) {
      assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
      // A second client (attaching stops the VM): read and access watchpoints are refused, write ones taken.
      const c = await RawClient.connect(port);
      const counter = symbol('test/guests/build/watch.elf', 'counter').slice(2);
      c.packet('?');
      await c.expect(/\$T05[^#]*#[0-9a-f]{2}/);
      for (const [packet, reply] of [[`Z3,${counter},4`, 'E01'], [`Z4,${counter},4`, 'E01'], [`Z2,${counter},4`, 'OK'], [`z2,${counter},4`, 'OK']]) {
        c.packet(packet!);
        await c.expect(new RegExp(`^\\+?\\$${reply}#[0-9a-f]{2}`));
      }
      c.socket.destroy();
      // (The guest's 400 M-instruction spin after counting would take minutes in PVM's instruction emulator.)
      return;
    }
    assert.match(output, /^Hardware read watchpoint 2: \*\(int \*\)&counter$/m);
    // The read that follows the second write (the movl after the addl), so the value read is 2.
    assert.match(output, /^Hardware read watchpoint 2: \*\(int \*\)&counter\n\nValue = 2$/m, output);
    assert.match(output, /^Hardware access \(read\/write\) watchpoint 3: \*\(int \*\)&counter$/m);
    assert.match(output, /^Hardware access \(read\/write\) watchpoint 3: \*\(int \*\)&counter\n\n(Value = 2|Old value = 2\nNew value = 3)$/m, output);
    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), 'counted\n');
  } finally {
    vm.child.kill();
  }
});

const SMP_ELF = path.join(ROOT, 'test/guests/build/smp.elf');

vmTest('gdb: info threads lists both vCPUs of the smp guest with mode and state; scheduler-locking continues one vCPU alone', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/smp.vmspec');
  try {
    const { output } = await runGdb(
      gdbScript(
        port,
        [
          'info threads',
          'break secondary',
          'set scheduler-locking on',
          'thread 2',
          // Only vCPU 1 runs (vCont;c:2): it reaches secondary while vCPU 0 stays where it was.
          'continue',
          'thread 1',
          'info registers rip',
          'delete',
          'set scheduler-locking off',
          'detach',
        ],
        SMP_ELF,
      ),
    );
    const threads = [...output.matchAll(/^[* ] (\d+)\s+Thread (\d+) \(vCPU (\d+), long mode, paused\) /gm)];
    assert.deepEqual(threads.map((m) => [m[1], m[2], m[3]]), [['1', '1', '0'], ['2', '2', '1']], output);
    assert.match(output, /^Thread 2 hit Breakpoint 1, .*secondary/m, output);
    assert.match(output, /^rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start>$/m, 'vCPU 0 did not run');
    assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), '[cpu1]\n[cpu0]\n');
  } finally {
    vm.child.kill();
  }
});

vmTest('gdb: two vCPUs at one breakpoint in the same moment are both reported, the second on the next continue', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/smp.vmspec');
  try {
    const { output } = await runGdb(
      gdbScript(port, ['break cpu_split', 'continue', 'continue', 'delete', 'detach'], SMP_ELF),
    );
    // Both vCPUs run from _start to cpu_split together: the second hit is held while the VM is stopped for the first.
    const hits = [...output.matchAll(/^Thread (\d+) hit Breakpoint 1, .*cpu_split/gm)].map((m) => m[1]);
    assert.deepEqual([...hits].sort(), ['1', '2'], output);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), '[cpu1]\n[cpu0]\n');
  } finally {
    vm.child.kill();
  }
});
