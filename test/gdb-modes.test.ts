// Real mode and mode switches in Debian's gdb, with no target description
// written by hand: the stub serves i8086 with 32-bit registers when the vCPU
// runs 16-bit code, eip is the linear address CS.base + IP, and a switch
// into long mode is announced with the way to reconnect for 64-bit registers.

import assert from 'node:assert/strict';
import { vmTest, skipOnPvm } from './kvm';
import { freePort, NO_GDB, gdbScript, runGdb, startVm, symbol } from './gdb-client';


/** `info registers <name>`'s value column, as a number. */
function registers(output: string, name: string): bigint[] {
  return [...output.matchAll(new RegExp(`^${name}\\s+0x([0-9a-f]+)\\s`, 'gm'))].map((m) => BigInt('0x' + m[1]));
}

vmTest('gdb in real mode: the boot sector at 0x7c00 disassembles as 16-bit code and stepi walks it', async (t) => {
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'examples/real-mode/real.vmspec');
  try {
    const { output } = await runGdb(
      gdbScript(port, ['show architecture', 'x/3i $pc', 'stepi', 'info registers eip', 'stepi', 'info registers eip', 'stepi', 'info registers eip', 'x/i $pc', 'set $edi = 0x1234', 'info registers edi', 'detach']),
    );
    assert.match(output, /currently "i8086"/, output);
    // real.S begins cli; ljmp $0,$canonical; xor %ax,%ax: 16-bit encodings (a 32-bit or 64-bit decoder reads the ljmp differently).
    assert.match(output, /^=> 0x7c00:\s+cli\n\s+0x7c01:\s+ljmp\s+\$0x0,\$0x7c06\n\s+0x7c06:\s+xor\s+%ax,%ax$/m, output);
    assert.deepEqual(registers(output, 'eip'), [0x7c01n, 0x7c06n, 0x7c08n]);
    assert.match(output, /^=> 0x7c08:\s+mov\s+%ax,%ds$/m);
    // A register write (gdb sends P) reads back.
    assert.deepEqual(registers(output, 'edi'), [0x1234n]);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.equal(vm.stdout(), 'Hello from real mode\n');
  } finally {
    vm.child.kill();
  }
});

vmTest('gdb at the reset vector: eip is CS.base + IP (0xfffffff0), and code and breakpoints there are found at that address', async (t, backend) => {
  if (skipOnPvm(t, backend, "runs guest code at about 1.7 M instructions/s: the firmware example does not finish within the test's time")) return;
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'examples/firmware/firmware.vmspec');
  const start16 = symbol('examples/firmware/build/firmware.elf', 'start16');
  try {
    const { output } = await runGdb(
      gdbScript(
        port,
        [
          'info registers eip cs cs_base',
          'x/i $pc',
          'stepi',
          'info registers eip',
          'x/2i $pc',
          // Two instructions on (cli, cld), at its linear address: an int3 and a debug-register breakpoint.
          `break *(${start16} + 2)`,
          `hbreak *(${start16} + 2)`,
          'continue',
          'info registers eip',
          'detach',
        ],
      ),
    );
    assert.deepEqual(registers(output, 'cs'), [0xf000n]);
    assert.deepEqual(registers(output, 'cs_base'), [0xffff0000n]);
    assert.match(output, new RegExp(`^=> 0xfffffff0:\\s+jmp\\s+${start16}$`, 'm'), output);
    assert.match(output, new RegExp(`^=> ${start16}:\\s+cli\\n\\s+0x[0-9a-f]+:\\s+cld$`, 'm'), output);
    assert.deepEqual(registers(output, 'eip'), [0xfffffff0n, BigInt(start16), BigInt(start16) + 2n]);
    assert.match(output, /^Breakpoint \d, 0xffffff/m);
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.match(vm.stdout(), /vmscope firmware: done/);
  } finally {
    vm.child.kill();
  }
});

vmTest('gdb follows real → protected → long mode: set architecture i386 on the notice, then disconnect and reattach for 64-bit registers', async (t, backend) => {
  if (skipOnPvm(t, backend, 'cannot emulate the mode-switch guest past its protected-mode #UD (a KVM internal error)')) return;
  if (NO_GDB) return t.skip(NO_GDB);
  const port = await freePort();
  const vm = await startVm(port, 'test/guests/modeswitch.vmspec');
  const prot32 = symbol('test/guests/build/modeswitch.elf', 'prot32');
  const long64 = symbol('test/guests/build/modeswitch.elf', 'long64');
  try {
    const { output } = await runGdb(
      gdbScript(
        port,
        [
          'show architecture',
          `break *${prot32}`,
          'continue',
          'set architecture i386',
          'x/i $pc',
          `break *${long64}`,
          'continue',
          'disconnect',
          'set architecture auto',
          `target remote 127.0.0.1:${port}`,
          'show architecture',
          'info registers rip efer',
          'x/i $pc',
          'detach',
        ],
      ),
    );
    const arches = [...output.matchAll(/currently "([^"]+)"/g)].map((m) => m[1]);
    // show architecture at attach, `set architecture auto` after the disconnect (still the old description), show architecture at reattach.
    assert.deepEqual(arches, ['i8086', 'i8086', 'i386:x86-64'], output);
    assert.match(output, /^vmscope: vCPU 0 now runs 32-bit code: set architecture i386$/m);
    // prot32 begins mov $0x10,%ax: read as 32-bit code once gdb is told so.
    assert.match(output, new RegExp(`^=> ${prot32}:\\s+mov\\s+\\$0x10,%ax$`, 'm'), output);
    assert.ok(
      output.includes(`vmscope: vCPU 0 now runs long-mode code, and this connection's registers are 32-bit: reconnect with 'disconnect' then 'target remote 127.0.0.1:${port}' (the vCPUs stay paused)`),
      output,
    );
    // The second connection gets the 64-bit layout, at the same stop.
    assert.deepEqual(registers(output, 'rip'), [BigInt(long64)]);
    assert.match(output, /^efer\s+0x500\s+\[ LME LMA \]$/m);
    assert.match(output, new RegExp(`^=> ${long64}:\\s+mov\\s+\\$0x[0-9a-f]+,%esi$`, 'm'));
    assert.equal(await vm.exited, 0, vm.stderr());
    assert.match(vm.stdout(), /^protected mode$/m);
    assert.match(vm.stdout(), /^long mode, high half$/m);
    assert.match(vm.stderr(), /client disconnected; the vCPUs stay paused until a client attaches/);
  } finally {
    vm.child.kill();
  }
});
