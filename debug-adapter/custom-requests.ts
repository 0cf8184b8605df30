// vmscope's own requests, for the extension's views and for scripts:
//   exitTrace        the exit counts and the recorded exits, newest last
//   exportExitTrace  the same as Chrome trace events (chrome://tracing, Perfetto)
//   translate        a GVA walked down to the HPA, as JSON (the translation webview)
//   vmInfo           the VM view: vCPUs, the entry point, memory map, devices (live: active, interrupts, registers), exit counts
//   serialInput      bytes typed into the guest's serial port

import { hex } from '../common/address';
import { memoryLayout, deviceConfigs } from '../vmm/builder';
import { cpuModeName } from '../vmm/exits';
import { VmscopeError } from '../vmm/errors';
import { describeExitInfo, EXIT_CODES, exitName, toTraceEvents } from '../vmm/exit-trace';
import { parseMemoryReference } from '../vmm/guest-access';
import { translateOn, translationJson } from './translation';
import type { VmContext } from './context';

export const CUSTOM_REQUESTS = ['exitTrace', 'exportExitTrace', 'translate', 'vmInfo', 'serialInput'] as const;
export type CustomRequest = (typeof CUSTOM_REQUESTS)[number];

export function isCustomRequest(command: string): command is CustomRequest {
  return (CUSTOM_REQUESTS as readonly string[]).includes(command);
}

/** KVM exit name (KVM_EXIT_IO) → exit filter name (io). */
const FILTER_BY_KVM_NAME = new Map(Object.entries(EXIT_CODES).map(([id, code]) => [exitName(code), id]));

interface TranslateArguments {
  address?: string;
  vcpu?: number;
  access?: { write?: boolean; user?: boolean; execute?: boolean };
}

interface SerialInputArguments {
  text?: string;
  /** Raw bytes, as numbers 0-255. */
  bytes?: number[];
}

/** The body of a custom request's response; throws with the message to show. */
export function customRequest(ctx: VmContext, command: CustomRequest, args: unknown): object {
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
      return vmInfo(ctx);
    case 'serialInput': {
      const a = (args ?? {}) as SerialInputArguments;
      const bytes = a.bytes ? Uint8Array.from(a.bytes) : Buffer.from(a.text ?? '', 'latin1');
      return { accepted: ctx.machine?.serialInput(bytes) ?? 0 };
    }
  }
}

/** One device in the VM view: what the spec configured, and, from a built machine, what the guest made of it. */
interface DeviceInfo {
  name: string;
  kind: string;
  port?: string;
  /** What the device is (e.g. "8254 PIT"), whether the guest programmed or used it, the interrupts it raised, its registers. */
  model?: string;
  active?: boolean;
  interrupts?: number;
  fields?: ReadonlyArray<{ name: string; value: string }>;
}

/** The spec's devices, each with the machine's live view of it where the device keeps one (read from the shared state, so also while vCPUs run). */
function devicesOf(ctx: VmContext): DeviceInfo[] {
  const spec = ctx.spec;
  if (!spec) return [];
  let configs: ReturnType<typeof deviceConfigs>;
  try {
    configs = deviceConfigs(spec);
  } catch {
    return [];
  }
  const views = new Map((ctx.machine?.deviceViews() ?? []).map((v) => [v.name, v]));
  return configs.map((d) => {
    const v = views.get(d.name);
    return {
      name: d.name,
      kind: d.kind,
      ...('port' in d ? { port: hex(d.port) } : {}),
      ...(v ? { model: v.model, active: v.active, interrupts: v.interrupts, fields: v.fields } : {}),
    };
  });
}

/**
 * What the client's VM view shows: the vCPUs (state, and for stopped ones mode, CPL and rip), the memory map, the
 * devices and exit counts. Safe to ask while the guest runs (registers are read from stopped vCPUs only).
 */
function vmInfo(ctx: VmContext): object {
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
  let memory: object[] = [];
  try {
    memory = spec ? memoryLayout(spec).map((e) => ({ name: e.name, kind: e.kind, gpa: hex(e.gpa), size: e.size })) : [];
  } catch {
    // A layout the builder refused never ran; nothing to show.
  }
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
    devices: devicesOf(ctx),
    // By the names exit breakpoints use (io, mmio, hlt, ...); KVM's name for exits no filter covers.
    exitCounts: Object.fromEntries(Object.entries(m?.exitCounts() ?? {}).map(([kvm, n]) => [FILTER_BY_KVM_NAME.get(kvm) ?? kvm, n])),
    exitFilters: ctx.exitSpecs.map((x) => x.id),
  };
}
