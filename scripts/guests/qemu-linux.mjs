#!/usr/bin/env node
// Boots the Linux guest (Debian's cloud kernel + the busybox initramfs) under
// QEMU TCG and drives its serial console the way vmscope's Linux test does:
// wait for the `/ #` prompt, type `echo vmscope-$((6*7))`, expect
// `vmscope-42`, then `poweroff -f`. Prints the timings as JSON: QEMU's side
// of the time-to-prompt benchmark that vmscope is measured against.
//
//   node scripts/guests/qemu-linux.mjs [--kernel F] [--initrd F] [--append S] [--runs N] [--log FILE]
//
// Defaults are the paths fetch-linux.sh and make-initramfs.mjs leave in the
// cache, "console=ttyS0 quiet" and one run.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cache = resolve(process.env.VMSCOPE_GUESTS_CACHE ?? join(here, '..', '..', 'guests-cache'));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const kernel = option('--kernel', join(cache, 'linux', 'vmlinuz'));
const initrd = option('--initrd', join(cache, 'linux', 'initramfs.cpio.gz'));
const append = option('--append', 'console=ttyS0 quiet');
const runs = Number(option('--runs', '1'));
const logFile = option('--log', undefined);
const TIMEOUT_MS = 120_000;

/** One boot; resolves with the milestones in ms since spawn. */
function boot() {
  return new Promise((resolveRun, reject) => {
    const start = performance.now();
    const qemu = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-m', '256', '-kernel', kernel, '-initrd', initrd, '-append', append, '-nographic', '-no-reboot'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    const times = {};
    // Each step: what to wait for in the output (after the previous match), and what to type then.
    const steps = [
      { name: 'init', expect: 'vmscope-initramfs: init started' },
      { name: 'prompt', expect: '/ # ', type: 'echo vmscope-$((6*7))\n' },
      { name: 'echo', expect: '\nvmscope-42', type: 'poweroff -f\n' },
    ];
    let step = 0;
    let searchFrom = 0;
    const timer = setTimeout(() => {
      qemu.kill();
      reject(new Error(`timed out waiting for ${steps[step]?.name ?? 'exit'}; output:\n${output}`));
    }, TIMEOUT_MS);

    qemu.stdout.on('data', (chunk) => {
      output += chunk.toString('latin1').replace(/\r/g, '');
      while (step < steps.length) {
        const at = output.indexOf(steps[step].expect, searchFrom);
        if (at < 0) break;
        times[steps[step].name] = Math.round(performance.now() - start);
        searchFrom = at + steps[step].expect.length;
        if (steps[step].type) qemu.stdin.write(steps[step].type);
        step++;
      }
    });
    qemu.on('exit', (code, signal) => {
      clearTimeout(timer);
      times.exit = Math.round(performance.now() - start);
      if (step < steps.length) {
        reject(new Error(`QEMU exited (${code ?? signal}) before ${steps[step].name}; output:\n${output}`));
        return;
      }
      resolveRun({ times, code, output });
    });
  });
}

const results = [];
for (let i = 0; i < runs; i++) {
  const { times, code, output } = await boot();
  results.push({ ...times, exitCode: code });
  if (logFile) writeFileSync(logFile, output);
}
console.log(JSON.stringify({ kernel, initrd, append, runs: results }, null, 2));
