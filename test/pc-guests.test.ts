// The guests of the PC platform as a user runs them: `vmscope run` (the
// bundled CLI in a child process) on the timer test guest, the multiboot
// kernel, the firmware example, SeaBIOS and Debian's Linux with a busybox
// initramfs. SeaBIOS and Linux come from Debian's packages through
// scripts/guests (`npm run guests`); without them those tests skip and say so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, ROOT, vmTest, skipOnPvm } from './kvm';
import { scratchDir } from './scratch';

const CACHE = process.env.VMSCOPE_GUESTS_CACHE ?? path.join(ROOT, 'guests-cache');
const LINUX = path.join(CACHE, 'linux');
const SEABIOS = path.join(CACHE, 'seabios', 'bios.bin');
const needs = (file: string, what: string): string | undefined => (fs.existsSync(file) ? undefined : `${what} is not fetched (${file}): run npm run guests`);

function run(spec: string, extra: string[] = [], timeout = 60_000) {
  const r = spawnSync(process.execPath, [CLI, 'run', ...extra, spec], { cwd: ROOT, encoding: 'latin1', timeout });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

vmTest('pit-timer: the PIT at 1 kHz through the 8259A wakes HLT and stops a spinning guest, 40 ticks in real time', () => {
  const t0 = performance.now();
  const r = run('test/guests/pit-timer.vmspec');
  const ms = performance.now() - t0;
  assert.equal(r.stdout, 'ticks 40\n', r.stderr);
  assert.equal(r.code, 0);
  // 40 interrupts of a 1 kHz timer cannot come sooner than 39 ms after it was programmed: the timer follows the host clock.
  assert.ok(ms >= 39, `took ${ms} ms`);
});

vmTest('multiboot kernel: timer ticks, a page fault it handles, its summary and its exit status', (t, backend) => {
  if (skipOnPvm(t, backend, "cannot emulate the multiboot kernel's iret in 32-bit protected mode (a KVM internal error when its timer handler returns)")) return;
  const r = run('examples/multiboot-kernel/kernel.vmspec');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /command line: "ticks=50"/);
  assert.match(r.stdout, /memory: 639 KiB low, 31744 KiB upper/);
  for (const n of [10, 20, 30, 40, 50]) assert.match(r.stdout, new RegExp(`tick ${n}\\r?\\n`));
  assert.match(r.stdout, /page fault at 0x00300000, error 0x00000002 \(not present, write, kernel\)/);
  assert.match(r.stdout, /summary: 50 ticks, 1 page fault at 0x00300000, read back 0x0000600d/);
});

vmTest('firmware example: from the reset vector to protected mode, RAM size from CMOS and fw_cfg', (t, backend) => {
  if (skipOnPvm(t, backend, "runs guest code at about 1.7 M instructions/s: the firmware example does not finish within the test's time")) return;
  const r = run('examples/firmware/firmware.vmspec');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vmscope firmware: hello from the reset vector/);
  assert.match(r.stdout, /protected mode: on/);
  assert.match(r.stdout, /RAM \(CMOS\): 16 MiB/);
  assert.match(r.stdout, /RAM \(fw_cfg\): 16 MiB/);
});

test('SeaBIOS: its banner on the debug console port, fw_cfg and the i440FX found, the e820 map from vmscope', { skip: needs(SEABIOS, "Debian's SeaBIOS"), timeout: 90_000 }, () => {
  // SeaBIOS finds no boot disk and waits to retry: the run ends at the timeout (exit 124).
  const r = run('examples/seabios/seabios.vmspec', ['--timeout', '6']);
  assert.equal(r.code, 124, r.stderr);
  assert.match(r.stderr, /SeaBIOS \(version [^)]+\)/);
  assert.match(r.stderr, /Found QEMU fw_cfg/);
  assert.match(r.stderr, /PCI: init bdf=00:00\.0 id=8086:1237/);
  assert.match(r.stderr, /3: 0000000000100000 - 0000000004000000 = 1 RAM/);
  assert.match(r.stderr, /No bootable device/);
});

test('Linux: Debian\'s kernel boots to the busybox prompt, typed input reaches the shell, poweroff -f ends the run with status 0', { skip: needs(path.join(LINUX, 'vmlinuz'), "Debian's kernel"), timeout: 180_000 }, async () => {
  const child = spawn(process.execPath, [CLI, 'run', '--timeout', '150', 'examples/linux/linux.vmspec'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(out)) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      const onData = (d: Buffer) => {
        out += d.toString('latin1');
        check();
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`vmscope exited (${code}) before ${re}: ${out.slice(-2000)}\n${err}`)));
      check();
    });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(/\/ # /);
  child.stdin.write('echo vmscope-$((6*7))\n');
  await waitFor(/vmscope-42\r?\n/);
  child.stdin.write('poweroff -f\n');
  const code = await exited;
  assert.match(out, /Linux version 6\.\d+/);
  assert.equal(code, 0, `exit ${code}: ${err}`);
});

vmTest('i8042 reset pulse: on-reset: reset starts a fresh machine (again and again), on-reset: exit ends the run with status 0', () => {
  const again = run('test/guests/reset.vmspec', ['--timeout', '2']);
  assert.equal(again.code, 124, again.stderr);
  assert.ok((again.stdout.match(/^boot$/gm) ?? []).length >= 2, again.stdout);
  assert.match(again.stderr, /the guest reset the machine; restarting it/);
  const dir = scratchDir('vmscope-reset-');
  const spec = path.join(dir, 'reset.vmspec');
  fs.writeFileSync(spec, fs.readFileSync(path.join(ROOT, 'test/guests/reset.vmspec'), 'utf8').replace('on-reset: reset', 'on-reset: exit').replace('build/reset.elf', path.join(ROOT, 'test/guests/build/reset.elf')));
  const once = run(spec);
  assert.equal(once.code, 0, once.stderr);
  assert.equal(once.stdout, 'boot\n');
});

vmTest('HLT with interrupts on but every 8259A line masked ends the run as halted, not a hang', () => {
  const r = run('test/guests/sti-hlt.vmspec', ['--timeout', '20']);
  assert.equal(r.code, 123, r.stderr);
  assert.match(r.stderr, /halted at rip 0x[0-9a-f]+ \(long mode\) with no interrupt source to wake it/);
});
