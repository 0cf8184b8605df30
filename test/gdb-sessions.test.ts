// The stub's session life as gdb users live it: Ctrl-C (gdb's `interrupt`)
// stops a guest that never exits, a second gdb attaches after the first
// detaches, a second client is refused while one is attached, and a client
// that vanishes mid-run leaves the VM running and the stub listening.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ROOT, vmTest } from './kvm';
import { encodePacket } from '../gdb-stub/packets';
import { freePort, NO_GDB, RawClient, gdbScript, runGdb, startVm } from './gdb-client';

const SPIN_ELF = path.join(ROOT, 'test/guests/build/spin.elf');

vmTest('gdb: Ctrl-C stops the spinning guest in spin_loop; after detach a second gdb attaches and finds it spinning there', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/spin.vmspec');
  try {
    const first = await runGdb(
      gdbScript(
        port,
        [
          // Ctrl-C a second into a foreground continue: SIGINT to gdb itself, which sends 0x03 on the wire.
          'python',
          'import os, signal, threading',
          'threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()',
          'end',
          'continue',
          'info registers rip',
          'detach',
        ],
        SPIN_ELF,
      ),
    );
    assert.match(first.output, /Program received signal SIGINT, Interrupt\./, first.output);
    assert.match(first.output, /^rip\s+0x10000c\s+0x10000c <spin_loop>$/m, first.output);
    assert.match(first.output, /\[Inferior 1 \(Remote target\) detached\]/);
    assert.equal(vm.stdout(), 'spinning\n');

    const second = await runGdb(gdbScript(port, ['info registers rip', 'info threads', 'detach'], SPIN_ELF));
    assert.match(second.output, /^rip\s+0x10000c\s+0x10000c <spin_loop>$/m, second.output);
    assert.match(second.output, /^\* 1\s+Thread 1 \(vCPU 0, long mode, paused\) spin_loop \(\)/m, second.output);
    assert.equal(vm.child.exitCode, null, 'the VM still runs');
    assert.equal((vm.stderr().match(/gdb: client .* attached/g) ?? []).length, 2, vm.stderr());
  } finally {
    vm.child.kill();
  }
});

vmTest('gdb stub: a second client is refused while one is attached; a client that vanishes mid-run leaves the VM running and the stub listening', async () => {
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/spin.vmspec');
  try {
    const first = await RawClient.connect(port);
    first.send(encodePacket('?'));
    await first.expect(/^\+\$T05(?:[0-9a-f]{2}:[0-9a-f]+;)*thread:01;#[0-9a-f]{2}/);

    const refused = await RawClient.connect(port);
    const closed = new Promise<void>((resolve) => refused.socket.once('close', () => resolve()));
    await closed;
    assert.match(vm.stderr(), /gdb: refused a second client/);

    first.send(encodePacket('c'));
    await first.expect(/^\+/);
    first.socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.match(vm.stderr(), /gdb: client disconnected; the vCPUs run on/);

    // The next client finds the guest where it spins, and can stop it for good.
    const next = await RawClient.connect(port);
    next.send(encodePacket('?'));
    await next.expect(/^\+\$T05(?:[0-9a-f]{2}:[0-9a-f]+;)*thread:01;#[0-9a-f]{2}/);
    next.send(encodePacket('p10'));
    const rip = await next.expect(/^\+\$([0-9a-f]{16})#[0-9a-f]{2}/);
    assert.equal(BigInt('0x' + (rip[1]!.match(/../g) ?? []).reverse().join('')), 0x10000cn);
    next.send(encodePacket('k'));
    assert.notEqual(await vm.exited, null);
  } finally {
    vm.child.kill();
  }
});
