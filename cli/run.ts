// `vmscope run`: build the machine from a spec, stream serial output to
// stdout, and turn the way the guest ended into an exit code and one line.

import { constants as osConstants } from 'node:os';
import { buildMachine } from '../vmm/builder';
import type { VmSpec } from '../vmspec/types';
import type { AccelChoice } from '../vmm/backend';
import type { Machine } from '../vmm/machine';
import { describeRunEnd, endCpu, formatCpu, type RunResult } from '../vmm/exits';
import { describeUnclaimed } from '../vmm/devices/bus';
import { ExitCode } from './common';
import { loadSpecOrReport } from './spec-io';
import { startGdbStub, type GdbAddress } from './gdb';

export interface RunOptions {
  timeoutMs?: number | undefined;
  stats: boolean;
  kvmPath?: string | undefined;
  accel?: AccelChoice | undefined;
  /** Serve the gdb remote protocol here while the VM runs. */
  gdb?: GdbAddress | undefined;
  /** Hold the vCPUs until a gdb client attaches (and tells them to run). */
  gdbWait?: boolean;
}

export function exitCodeFor(result: RunResult): number {
  const end = result.end;
  switch (end.kind) {
    case 'timeout':
      return ExitCode.timeout;
    case 'stopped':
      return ExitCode.vmscopeError;
    case 'vcpu':
      switch (end.end.kind) {
        case 'debug-exit':
          return end.end.status;
        case 'reset':
        case 'poweroff':
          return ExitCode.ok;
        case 'halted':
          return ExitCode.halted;
        case 'stopped':
        case 'host-error':
          return ExitCode.vmscopeError;
        default:
          return ExitCode.guestCrash;
      }
  }
}

/**
 * Sends what the user types (or pipes in) to the guest's UART. On a terminal,
 * keys go through raw, and Ctrl-] stops the VM (like telnet), since Ctrl-C
 * belongs to the guest.
 */
function forwardStdin(machine: Machine): () => void {
  const stdin = process.stdin;
  if (stdin.destroyed) return () => {};
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  const onData = (chunk: Buffer) => {
    if (tty && chunk.includes(0x1d)) {
      void machine.stop();
      return;
    }
    machine.serialInput(chunk);
  };
  stdin.on('data', onData);
  stdin.on('error', () => {});
  return () => {
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    stdin.unref?.();
  };
}

/** Builds one machine from the spec and runs it to its end, with the serial console on stdin/stdout. */
async function runOnce(spec: VmSpec, opts: RunOptions, first: boolean, deadline: number | undefined): Promise<{ result: RunResult; signal?: NodeJS.Signals }> {
  // The first machine gets --timeout itself; one started after a guest reset gets what is left of it.
  const timeoutMs = first ? opts.timeoutMs : deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
  const { machine, warnings, notice } = buildMachine(spec, { kvmPath: opts.kvmPath, ...(opts.accel ? { accel: opts.accel } : {}) });
  if (first && notice) process.stderr.write(`vmscope: ${notice}\n`);
  if (first) for (const w of warnings) process.stderr.write(`vmscope: warning: ${w}\n`);
  machine.on('serial', (bytes) => process.stdout.write(bytes));
  // The debug console (isa-debugcon: SeaBIOS's 0x402, Bochs-style 0xe9) is the guest's log: stderr, apart from the serial console.
  machine.on('device', (e) => {
    if (e.kind === 'debug-console') process.stderr.write(e.bytes);
  });
  // SIGINT or SIGTERM stops the machine (its vCPU threads end) and vmscope exits as killed by that signal would.
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    signal ??= s;
    void machine.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const gdb = opts.gdb ? await startGdbStub(machine, opts.gdb, opts.gdbWait ?? false) : undefined;
  const detachInput = forwardStdin(machine);
  try {
    const result = await machine.start({ timeoutMs, paused: gdb !== undefined && (opts.gdbWait ?? false) });
    return signal ? { result, signal } : { result };
  } finally {
    gdb?.close();
    detachInput();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function runCommand(specPath: string, opts: RunOptions): Promise<number> {
  const spec = loadSpecOrReport(specPath);
  if (!spec) return ExitCode.vmscopeError;
  const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  let result: RunResult;
  for (let first = true; ; first = false) {
    const once = await runOnce(spec, opts, first, deadline);
    result = once.result;
    if (once.signal) {
      // The shell's convention for a process ended by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
      process.stderr.write(`vmscope: stopped by ${once.signal}; the VM was shut down\n`);
      return 128 + (osConstants.signals[once.signal] ?? 0);
    }
    // devices.i8042.on-reset: reset: a guest that resets the machine gets a fresh one from the same spec (--timeout counts across them).
    if (!(result.end.kind === 'vcpu' && result.end.end.kind === 'reset' && spec.devices.i8042.onReset === 'reset')) break;
    process.stderr.write(`vmscope: the guest reset the machine; restarting it (devices.i8042.on-reset: reset)\n`);
  }
  // Across restarts the user's --timeout is what ran out, not the last machine's share of it.
  if (result.end.kind === 'timeout' && opts.timeoutMs !== undefined) result = { ...result, end: { kind: 'timeout', seconds: opts.timeoutMs / 1000 } };

  const end = result.end;
  const code = exitCodeFor(result);
  const clean = end.kind === 'vcpu' && (end.end.kind === 'debug-exit' || end.end.kind === 'reset' || end.end.kind === 'poweroff');
  if (!clean) {
    process.stderr.write(`vmscope: ${describeRunEnd(end)}\n`);
    const cpu = end.kind === 'vcpu' ? endCpu(end.end) : undefined;
    if (cpu && code === ExitCode.guestCrash) process.stderr.write(formatCpu(cpu).replace(/^/gm, '  ') + '\n');
  }
  if (result.unclaimed.length > 0) {
    const shown = result.unclaimed.slice(0, 8);
    process.stderr.write(`vmscope: the guest touched ${result.unclaimed.length} unclaimed I/O address${result.unclaimed.length > 1 ? 'es' : ''}:\n`);
    for (const u of shown) process.stderr.write(`  ${describeUnclaimed(u)}\n`);
    if (result.unclaimed.length > shown.length) process.stderr.write(`  … and ${result.unclaimed.length - shown.length} more\n`);
  }
  if (opts.stats) {
    const total = Object.values(result.exits).reduce((a, b) => a + b, 0);
    process.stderr.write(`vmscope: ${total} exits in ${result.elapsedMs.toFixed(1)} ms\n`);
    for (const [name, n] of Object.entries(result.exits).sort((a, b) => b[1] - a[1])) {
      process.stderr.write(`  ${name.padEnd(24)} ${n}\n`);
    }
  }
  return code;
}
