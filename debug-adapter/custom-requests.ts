// vmscope's own requests, for the extension's views and for scripts:
//   exitTrace        the exit counts and the recorded exits, newest last
//   exportExitTrace  the same as Chrome trace events (chrome://tracing, Perfetto)
//   translate        a GVA walked down to the HPA, as JSON (the translation webview)
//   vmInfo           the VM view: vCPUs, the entry point, memory map, devices (live: active, interrupts, registers), exit counts
//   serialInput      bytes typed into the guest's serial port
//   startGdbServer   serve gdb's remote protocol on this session's machine (gdb-bridge.ts); answers where

import { hex } from '../common/address';
import { devicesOf, memoryMapOf } from '../vmm/vm-info';
import { cpuModeName } from '../vmm/exits';
import { VmscopeError } from '../vmm/errors';
import { describeExitInfo, toTraceEvents } from '../vmm/exit-trace';
import { exitCountsByFilter } from '../vmm/exit-filters';
import { parseMemoryReference } from '../vmm/guest-access';
import { translateOn, translationJson } from './translation';
import type { VmContext } from './context';
import type { GdbBridge } from './gdb-bridge';
import { gdbServerAddress } from './launch-arguments';
import { formatGdbAddress } from '../common/gdb-address';

export const CUSTOM_REQUESTS = ['exitTrace', 'exportExitTrace', 'translate', 'vmInfo', 'serialInput', 'startGdbServer'] as const;
export type CustomRequest = (typeof CUSTOM_REQUESTS)[number];

export function isCustomRequest(command: string): command is CustomRequest {
  return (CUSTOM_REQUESTS as readonly string[]).includes(command);
}

interface TranslateArguments {
  address?: string;
  vcpu?: number;
  access?: { write?: boolean; user?: boolean; execute?: boolean };
}

interface StartGdbServerArguments {
  /** `[host:]port` or a port number; default 127.0.0.1:0 (a free port on loopback). */
  address?: string | number;
}

interface SerialInputArguments {
  text?: string;
  /** Raw bytes, as numbers 0-255. */
  bytes?: number[];
}

/** The body of a custom request's response; throws (or rejects) with the message to show. */
export function customRequest(ctx: VmContext, command: CustomRequest, args: unknown, gdb: GdbBridge): object | Promise<object> {
  switch (command) {
    case 'exitTrace':
    case 'exportExitTrace': {
      const m = ctx.machine;
      const max = Math.min(Number((args as { max?: number } | undefined)?.max ?? 4096), 65536);
      const entries = m ? m.exitTrace(max) : [];
      if (command === 'exportExitTrace') return { traceEvents: toTraceEvents(entries, ctx.spec?.name ?? 'vmscope') };
      return {
        counts: m?.exitCounts() ?? {},
        exits: entries.map((e) => ({
          time: e.time,
          vcpu: e.vcpu,
          reason: e.exit.reason,
          kvmExit: e.code,
          rip: e.rip !== undefined ? hex(e.rip) : undefined,
          detail: describeExitInfo(e.exit),
        })),
      };
    }
    case 'translate': {
      const a = (args ?? {}) as TranslateArguments;
      const vcpu = a.vcpu ?? ctx.focus;
      const m = ctx.requirePaused(vcpu);
      if (!a.address) throw new VmscopeError('translate needs "address": an expression or a memory reference');
      const addr = /^\s*(gva:)?0x[0-9a-f_]+\s*$/i.test(a.address) ? parseMemoryReference(a.address).addr : ctx.evaluateOn(vcpu, a.address);
      return translationJson(translateOn(m, vcpu, BigInt(addr), a.access));
    }
    case 'vmInfo':
      return vmInfo(ctx, gdb);
    case 'startGdbServer': {
      const a = (args ?? {}) as StartGdbServerArguments;
      return gdb.start(gdbServerAddress(a.address ?? 0, 'startGdbServer "address"'));
    }
    case 'serialInput': {
      const a = (args ?? {}) as SerialInputArguments;
      if (a.bytes?.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new VmscopeError('serialInput: "bytes" must be numbers from 0 to 255');
      const bytes = a.bytes ? Uint8Array.from(a.bytes) : Buffer.from(a.text ?? '', 'latin1');
      return { accepted: ctx.machine?.serialInput(bytes) ?? 0 };
    }
  }
}

/**
 * What the client's VM view shows: the vCPUs (state, and for stopped ones mode, CPL and rip), the memory map, the
 * devices and exit counts. Safe to ask while the guest runs (registers are read from stopped vCPUs only).
 */
function vmInfo(ctx: VmContext, gdb: GdbBridge): object {
  const m = ctx.machine;
  const spec = ctx.spec;
  const vcpus = [];
  for (let i = 0; i < (m?.vcpuCount ?? 0); i++) {
    const state = m!.vcpuRunState(i);
    let cpu: { mode: string; cpl: number; rip: string } | undefined;
    if (state === 'paused') {
      try {
        const st = m!.vcpuState(i);
        const r = st.getRegs();
        const sr = st.getSregs();
        cpu = { mode: cpuModeName(sr), cpl: sr.cs.selector & 3, rip: hex(sr.cs.base + r.rip) };
      } catch {
        // The vCPU resumed between the two reads: show it without registers.
      }
    }
    vcpus.push({ id: i, state, focus: i === ctx.focus, ...cpu });
  }
  const memory = memoryMapOf(spec);
  return {
    name: spec?.name,
    spec: spec?.file,
    backend: ctx.backend,
    accel: m ? { name: m.backendName, description: m.backendDescription, capabilities: m.capabilities } : undefined,
    state: !m ? 'none' : ctx.ended ? 'ended' : ctx.runState,
    // Where the loader starts the boot vCPU (a bzImage's 64-bit entry, a multiboot kernel's entry, the reset vector).
    entry: m ? hex(m.entry) : undefined,
    vcpus,
    memory,
    devices: devicesOf(spec, m),
    // By the names exit breakpoints use (io, mmio, hlt, ...); KVM's name for exits no filter covers.
    exitCounts: exitCountsByFilter(m?.exitCounts() ?? {}),
    exitFilters: ctx.exitSpecs.map((x) => x.id),
    // Where a gdb stub serves this machine, if one does (`target remote` this).
    gdbServer: gdb.address ? formatGdbAddress(gdb.address) : undefined,
  };
}
