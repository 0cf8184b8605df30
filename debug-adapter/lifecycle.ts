// The session's lifecycle: launch (load the spec, build the machine, read the
// program's symbols, set the breakpoint capabilities), start after
// configurationDone, restart with the same spec, and stop.

import { Event, OutputEvent } from '@vscode/debugadapter';
import * as path from 'node:path';
import { loadSpecFile, formatDiagnostic } from '../vmspec/load';
import { hostErrors } from '../vmspec/host-checks';
import type { VmSpec } from '../vmspec/types';
import { parseSize } from '../vmspec/units';
import { buildMachine } from '../vmm/builder';
import type { Machine } from '../vmm/machine';
import type { RunResult, VcpuStop } from '../vmm/exits';
import { VmscopeError } from '../vmm/errors';
import { EXIT_CODES } from '../vmm/exit-trace';
import { GuestAccess } from '../vmm/guest-access';
import { BreakpointManager } from './breakpoints';
import { EXIT_FILTERS, type ExitFilterName } from '../vmm/exit-filters';
import { ProgramInfo } from './program';
import { DAP_OWNER, type VmContext } from './context';
import { gdbServerAddress, type LaunchArguments } from './launch-arguments';
import type { ResumeHow } from '../vmm/debug';

export type { LaunchArguments } from './launch-arguments';

/** What the machine's events turn into: the stop policy, resumes by another front end, and the end of the session. */
export interface MachineListeners {
  /** Sees every stop first (the machine's stop filter); true when it resumed the vCPU at once, so nobody else hears of it. */
  stopped(machine: Machine, vcpu: number, stop: VcpuStop): boolean;
  /** vCPUs were told to run, by the session or by a gdb client on the same machine. */
  resumed(machine: Machine, vcpu: number | undefined, how: ResumeHow): void;
  ended(machine: Machine, result: RunResult): void;
}

/** The spec named by the launch arguments, with the image and memory they override. */
export function loadLaunchSpec(args: LaunchArguments): VmSpec {
  const file = path.resolve(args.spec);
  const loaded = loadSpecFile(file);
  // What this host cannot give the spec (RAM, address width) fails the launch as `vmscope run` fails, with the same line.
  const errors = [...loaded.diagnostics.filter((d) => d.severity === 'error'), ...(loaded.spec && args.memory === undefined ? hostErrors(loaded) : [])];
  if (!loaded.spec || errors.length > 0) {
    throw new VmscopeError(errors.map((d) => formatDiagnostic(file, d)).join('\n') || `cannot load ${file}`);
  }
  const spec: VmSpec = { ...loaded.spec, boot: { ...loaded.spec.boot }, devices: { ...loaded.spec.devices } };
  if (args.image) spec.boot.image = path.resolve(spec.dir, args.image);
  if (args.memory !== undefined) {
    const size = parseSize(typeof args.memory === 'number' ? BigInt(args.memory) : args.memory);
    if (!size.ok) throw new VmscopeError(`launch attribute "memory": ${size.message}`);
    spec.memory = Number(size.value);
  }
  return spec;
}

/** Builds the machine for the context's spec and routes its events to the session. */
export function createMachine(ctx: VmContext, listeners: MachineListeners): Machine {
  const spec = ctx.spec!;
  const accel = ctx.args?.accel;
  if (accel !== undefined && accel !== 'auto' && accel !== 'kvm' && accel !== 'emu') throw new VmscopeError(`launch attribute "accel" is "${String(accel)}"`, 'use auto, kvm or emu');
  const built = buildMachine(spec, { traceCapacity: ctx.args?.traceBufferSize, ...(accel ? { accel } : {}) });
  const machine = built.machine;
  // The Debug Console's first line names the backend, and why it is not KVM when auto chose emulation.
  ctx.console(`vmscope: ${spec.name} on ${machine.backendDescription}${built.notice ? ` (${built.notice})` : ''}\n`);
  for (const w of built.warnings) ctx.console(`warning: ${w}\n`);
  machine.on('serial', (bytes, device) => {
    const text = Buffer.from(bytes).toString('latin1');
    ctx.send(ctx.args?.serialConsole ? new Event('vmscope.serial', { device, text }) : new OutputEvent(text, 'stdout'));
  });
  // The debug console port's log goes to the Debug Console, each line marked with the device, apart from the serial output.
  let debugconLine = '';
  machine.on('device', (e) => {
    if (e.kind !== 'debug-console') return;
    debugconLine += Buffer.from(e.bytes).toString('latin1');
    const lines = debugconLine.split('\n');
    debugconLine = lines.pop()!;
    if (lines.length) ctx.console(lines.map((l) => `[${e.device}] ${l.replace(/\r$/, '')}\n`).join(''));
  });
  machine.setStopFilter((vcpu, stop) => listeners.stopped(machine, vcpu, stop));
  machine.on('resumed', (vcpu, how) => listeners.resumed(machine, vcpu, how));
  machine.on('end', (result) => listeners.ended(machine, result));
  machine.on('exit-log', (vcpu, filter, text) => ctx.console(`[vCPU ${vcpu}] ${filter}: ${text}\n`));
  ctx.machine = machine;
  ctx.access = new GuestAccess(machine);
  return machine;
}

/**
 * Everything launch does before the VM starts: the spec, the machine, the
 * program's symbols and lines, what kinds of breakpoints this backend has,
 * and the exit filters on from the start. Returns those filters' ids.
 */
export function launch(ctx: VmContext, args: LaunchArguments, listeners: MachineListeners): string[] {
  ctx.args = args;
  // Checked before anything is built; the stub starts once the machine exists (session.ts).
  if (args.gdbServer !== undefined) gdbServerAddress(args.gdbServer);
  ctx.spec = loadLaunchSpec(args);
  ctx.extraMsrs = (args.msrs ?? []).map((m) => {
    const n = Number(m);
    if (!Number.isInteger(n) || n < 0) throw new VmscopeError(`launch attribute "msrs": ${String(m)} is not an MSR index`);
    return [n, `MSR`] as [number, string];
  });
  const machine = createMachine(ctx, listeners);
  const symbolFiles = (args.symbols ?? []).map((p) => ({ path: path.resolve(ctx.spec!.dir, p), role: 'symbols' as const }));
  const bootSymbols = ctx.spec.boot.symbols !== undefined ? [{ path: ctx.spec.boot.symbols, role: 'boot-symbols' as const }] : [];
  ctx.program = ProgramInfo.load([{ path: ctx.spec.boot.image, role: 'image' }, ...bootSymbols, ...symbolFiles]);
  for (const w of ctx.program.warnings) ctx.console(`warning: ${w}\n`);
  const caps = machine.capabilities;
  ctx.bps = new BreakpointManager(
    caps.softwareBreakpoints,
    caps.softwareBreakpoints ? undefined : 'int3 breakpoints do not work on this KVM host (probed: int3 ends in a KVM internal error, as on PVM)',
    caps.dataWatchpoints,
    caps.maxHardwareBreakpoints,
  );
  // The spec's debug.break-on-exit filters are on from the start, and shown ticked.
  const defaults: string[] = [...(ctx.spec.debug.breakOnExit ?? [])];
  for (const id of args.breakOnExit ?? []) {
    if (!EXIT_FILTERS.some((f) => f.id === id)) ctx.console(`warning: launch attribute "breakOnExit": unknown exit filter "${id}" (known: ${EXIT_FILTERS.map((f) => f.id).join(', ')})\n`);
    else if (!defaults.includes(id)) defaults.push(id);
  }
  ctx.exitSpecs = defaults.map((id) => ({ id, codes: [EXIT_CODES[id as ExitFilterName]] }));
  if (ctx.exitSpecs.some((x) => x.id === 'rdmsr' || x.id === 'wrmsr')) machine.trapMsrs(true);
  return defaults;
}

/** Starts the built machine: paused at entry unless stopOnEntry is false. Returns whether it waits at entry. */
export function start(ctx: VmContext, applyBreakpoints: () => void): boolean {
  const machine = ctx.machine!;
  const stopOnEntry = ctx.args?.stopOnEntry ?? true;
  ctx.runState = 'running';
  applyBreakpoints();
  machine.configureExits(ctx.exitSpecs, true, DAP_OWNER);
  void machine.start({ paused: stopOnEntry, holdFailures: true, timeoutMs: ctx.args?.timeout ? ctx.args.timeout * 1000 : undefined });
  return stopOnEntry;
}

/** Stops the old machine and builds a fresh one from the same spec; breakpoints keep their settings, not their hits. */
export async function restart(ctx: VmContext, listeners: MachineListeners): Promise<void> {
  const old = ctx.machine;
  if (!old || !ctx.spec) throw new VmscopeError('nothing to restart');
  ctx.restarting = true;
  try {
    await old.stop();
  } finally {
    ctx.restarting = false;
  }
  createMachine(ctx, listeners);
  ctx.ended = false;
  for (const bp of ctx.bps.all()) bp.hits = 0;
}

/** The guest reset the machine and the spec says a reset restarts it (devices.i8042.on-reset: reset). */
export function isGuestReset(spec: VmSpec | undefined, result: RunResult): boolean {
  return result.end.kind === 'vcpu' && result.end.end.kind === 'reset' && spec?.devices.i8042.onReset === 'reset';
}

/** The session's last words on a machine that ended: its exit code. */
export function exitCodeOf(result: RunResult): number {
  const end = result.end;
  if (end.kind === 'vcpu' && (end.end.kind === 'poweroff' || end.end.kind === 'reset')) return 0;
  return end.kind === 'vcpu' && end.end.kind === 'debug-exit' ? end.end.status : 1;
}
