// The PC platform benchmark (`node out/bench/boot.js` after `tsc -p .`),
// vmscope under emulation against QEMU TCG, side by side in one run. Not a
// test: it prints figures (record them in docs/performance.md).
//
// - Linux to the shell: Debian's cloud kernel and the busybox initramfs of
//   `npm run guests`, on the same command line, from process start to the
//   `/ # ` prompt, then `echo vmscope-$((6*7))` and `poweroff -f` to the exit.
//   vmscope runs examples/linux/linux.vmspec through the CLI bundle; QEMU runs
//   `-accel tcg -m 256 -kernel -initrd -append -nographic -no-reboot`.
// - Timer interrupts per second: the multiboot kernel (examples/multiboot-kernel)
//   with its PIT at `hz` (default 50,000 Hz), counting `ticks`; each contender
//   runs it twice, with few and with many ticks, and the difference in wall
//   time over the difference in ticks is the rate it delivered (start-up and
//   the rest of the kernel cancel out). QEMU loads it with -kernel and exits
//   through isa-debug-exit.
//
// Rounds alternate which contender goes first. A contender whose tool or
// guest is missing is skipped with the reason.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_QEMU (default
// qemu-system-x86_64), BENCH_TIMER_HZ (default 50000), BENCH_TICKS (default
// 100000), VMSCOPE_GUESTS_CACHE (default guests-cache/).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const CACHE = process.env.VMSCOPE_GUESTS_CACHE ?? path.join(ROOT, 'guests-cache');
const KERNEL = path.join(CACHE, 'linux', 'vmlinuz');
const INITRD = path.join(CACHE, 'linux', 'initramfs.cpio.gz');
const CMDLINE = 'console=ttyS0';
const MB_KERNEL = path.join(ROOT, 'examples', 'multiboot-kernel', 'build', 'kernel.elf');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const QEMU = process.env.BENCH_QEMU ?? 'qemu-system-x86_64';
const HZ = Number(process.env.BENCH_TIMER_HZ ?? 50_000);
const TICKS = Number(process.env.BENCH_TICKS ?? 100_000);
const FEW_TICKS = 1000;

interface ShellTimes {
  prompt: number;
  exit: number;
  code: number | null;
}

/** Runs a Linux guest on a serial console (stdin/stdout): to the prompt, the echo, the power-off. */
function shell(cmd: string, args: string[], cwd: string): Promise<ShellTimes> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let prompt = 0;
    let stage = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd}: no prompt within 180 s: ${out.slice(-500)}`));
    }, 180_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (stage === 0 && out.includes('/ # ')) {
        stage = 1;
        prompt = performance.now() - t0;
        child.stdin.write('echo vmscope-$((6*7))\n');
      } else if (stage === 1 && /vmscope-42\r?\n/.test(out)) {
        stage = 2;
        child.stdin.write('poweroff -f\n');
      }
    });
    child.stderr.resume();
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (stage < 2) reject(new Error(`${cmd} exited (${code}) before the shell answered: ${out.slice(-500)}`));
      else resolve({ prompt, exit: performance.now() - t0, code });
    });
  });
}

const vmscopeLinux = () => shell(process.execPath, [CLI, 'run', 'linux.vmspec'], path.join(ROOT, 'examples', 'linux'));
const qemuLinux = () =>
  shell(QEMU, ['-accel', 'tcg', '-m', '256', '-kernel', KERNEL, '-initrd', INITRD, '-append', CMDLINE, '-nographic', '-no-reboot', '-monitor', 'none'], ROOT);

/** Wall time (ms) of one multiboot kernel run with `ticks` at `hz`. */
function timerRun(contender: 'vmscope' | 'qemu', ticks: number): number {
  const cmdline = `ticks=${ticks} hz=${HZ}`;
  const t0 = performance.now();
  let r;
  if (contender === 'vmscope') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-bench-'));
    const spec = path.join(dir, 'kernel.vmspec');
    fs.writeFileSync(
      spec,
      `name: timer-bench\nmemory: 32MiB\nvcpus: 1\nboot:\n  format: multiboot\n  image: ${MB_KERNEL}\n  cmdline: "${cmdline}"\ndevices:\n  serial: { port: 0x3f8 }\n  debug-exit: { port: 0xf4 }\n`,
    );
    r = spawnSync(process.execPath, [CLI, 'run', spec], { encoding: 'latin1', timeout: 300_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`vmscope: exit ${r.status}: ${r.stderr}`);
  } else {
    r = spawnSync(QEMU, ['-accel', 'tcg', '-m', '32', '-kernel', MB_KERNEL, '-append', cmdline, '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=1'], {
      encoding: 'latin1',
      timeout: 300_000,
    });
    // isa-debug-exit: status s exits with (s << 1) | 1.
    if (r.status !== 1) throw new Error(`qemu: exit ${r.status}: ${r.stderr}`);
  }
  if (!r.stdout.includes(`summary: `)) throw new Error(`${contender}: no summary line: ${r.stdout.slice(-300)}`);
  return performance.now() - t0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const qemuVersion = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  const qemuMissing = qemuVersion.error || qemuVersion.status !== 0 ? `${QEMU} is not installed (apt-get install qemu-system-x86)` : undefined;
  console.log(`boot benchmark: ${new Date().toISOString()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg()[0]!.toFixed(2)}, Node ${process.version}`);
  if (!qemuMissing) console.log(`  ${qemuVersion.stdout.split('\n')[0]}`);

  // Linux to the shell prompt.
  const linuxMissing = fs.existsSync(KERNEL) && fs.existsSync(INITRD) ? undefined : `Debian's kernel and the initramfs are not fetched (${CACHE}): run npm run guests`;
  if (linuxMissing) console.log(`linux: skipped: ${linuxMissing}`);
  else {
    const v: ShellTimes[] = [];
    const q: ShellTimes[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['vmscope', 'qemu'] : ['qemu', 'vmscope'];
      for (const who of order) {
        if (who === 'vmscope') v.push(await vmscopeLinux());
        else if (!qemuMissing) q.push(await qemuLinux());
      }
    }
    const fmt = (xs: ShellTimes[]) => `prompt ${(median(xs.map((x) => x.prompt)) / 1000).toFixed(2)} s, exit ${(median(xs.map((x) => x.exit)) / 1000).toFixed(2)} s (status ${xs.map((x) => x.code).join('/')})`;
    console.log(`linux to the shell, median of ${ROUNDS}:`);
    console.log(`  vmscope (emu): ${fmt(v)}   runs: ${v.map((x) => (x.prompt / 1000).toFixed(2)).join(', ')} s to the prompt`);
    if (qemuMissing) console.log(`  QEMU TCG: skipped: ${qemuMissing}`);
    else {
      console.log(`  QEMU TCG:      ${fmt(q)}   runs: ${q.map((x) => (x.prompt / 1000).toFixed(2)).join(', ')} s to the prompt`);
      console.log(`  ratio vmscope / QEMU TCG (time to the prompt): ${(median(v.map((x) => x.prompt)) / median(q.map((x) => x.prompt))).toFixed(2)} (target <= 1.5)`);
    }
  }

  // Timer interrupts per second.
  if (!fs.existsSync(MB_KERNEL)) console.log(`timer: skipped: ${MB_KERNEL} is not built (make -C examples)`);
  else {
    const rates: Record<string, number[]> = { vmscope: [], qemu: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: Array<'vmscope' | 'qemu'> = round % 2 === 0 ? ['vmscope', 'qemu'] : ['qemu', 'vmscope'];
      for (const who of order) {
        if (who === 'qemu' && qemuMissing) continue;
        const few = timerRun(who, FEW_TICKS);
        const many = timerRun(who, TICKS);
        rates[who]!.push(((TICKS - FEW_TICKS) * 1000) / (many - few));
      }
    }
    console.log(`timer interrupts per second (multiboot kernel, PIT at ${HZ} Hz, ${TICKS} vs ${FEW_TICKS} ticks), median of ${ROUNDS}:`);
    console.log(`  vmscope (emu): ${median(rates.vmscope!).toFixed(0)}/s   runs: ${rates.vmscope!.map((r) => r.toFixed(0)).join(', ')}`);
    if (qemuMissing) console.log(`  QEMU TCG: skipped: ${qemuMissing}`);
    else {
      console.log(`  QEMU TCG:      ${median(rates.qemu!).toFixed(0)}/s   runs: ${rates.qemu!.map((r) => r.toFixed(0)).join(', ')}`);
      console.log(`  ratio vmscope / QEMU TCG: ${(median(rates.vmscope!) / median(rates.qemu!)).toFixed(2)}`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(`boot benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
