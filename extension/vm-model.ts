// What the VM view and the status bar show, computed from the adapter's `vmInfo` answer and its stop events.
// Pure (no vscode import), unit-tested; extension/views.ts turns the nodes into tree items.

import { hex } from '../common/address';
import { formatSize } from '../vmspec/units';

/** The body of the adapter's `vmInfo` response (debug-adapter/session.ts). */
export interface VmInfo {
  name?: string;
  spec?: string;
  backend: string;
  state: 'none' | 'running' | 'stopped' | 'ended';
  /** Where the boot vCPU starts (the loader's entry point). */
  entry?: string;
  vcpus: Array<{ id: number; state: string; focus?: boolean; mode?: string; cpl?: number; rip?: string }>;
  memory: Array<{ name: string; kind: string; gpa: string; size: number }>;
  /** The spec's devices; model, active, interrupts and fields come from the running machine's devices. */
  devices: Array<{
    name: string;
    kind: string;
    port?: string;
    model?: string;
    active?: boolean;
    interrupts?: number;
    fields?: Array<{ name: string; value: string }>;
  }>;
  exitCounts: Record<string, number>;
  exitFilters?: string[];
  /** The backend that runs the VM: its name, one line on it, and what it can do for the debugger. */
  accel?: { name: string; description: string; capabilities: Record<string, boolean | number> };
  /** Where a gdb stub serves this VM (`host:port`), if one does. */
  gdbServer?: string;
}

export interface VmNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon name. */
  icon?: string;
  children?: VmNode[];
  /** Expanded at first. */
  expanded?: boolean;
}

function endOf(gpa: string, size: number): string {
  return hex(BigInt(gpa) + BigInt(size) - 1n);
}

const BACKENDS: Record<string, string> = { pvm: 'PVM', vmx: 'VMX', svm: 'SVM', unknown: 'unknown' };

export function backendName(b: string): string {
  return BACKENDS[b] ?? b;
}

/** What a capability record says, one clause each, for the backend node's tooltip. */
function describeCapabilities(c: Record<string, boolean | number>): string {
  const yes = (k: string, text: string) => (c[k] ? text : `no ${text}`);
  return [
    yes('softwareBreakpoints', 'int3 breakpoints'),
    `${c.maxHardwareBreakpoints ?? '?'} breakpoint/watchpoint slots`,
    yes('dataWatchpoints', 'exact data watchpoints'),
    yes('hardwareVmcs', 'hardware VMCS behind the VMCS view'),
    yes('nestedState', 'nested state (vmcs12)'),
    yes('exactInstructionCount', 'exact instruction counts'),
  ].join('; ');
}

/** The tree: the backend, vCPUs, memory map, devices, exits per reason (most frequent first). */
export function vmTree(info: VmInfo): VmNode[] {
  const backend: VmNode = {
    id: 'backend',
    label: 'Backend',
    description: info.accel?.description ?? (info.backend === 'emu' ? 'emulation' : `KVM (${backendName(info.backend)})`),
    icon: info.accel?.name === 'emu' || info.backend === 'emu' ? 'chip' : 'vm',
  };
  if (info.accel) backend.tooltip = describeCapabilities(info.accel.capabilities);
  const vcpus: VmNode = {
    id: 'vcpus',
    label: 'vCPUs',
    description: `${info.vcpus.length}`,
    icon: 'server-process',
    expanded: true,
    children: info.vcpus.map((v) => {
      const parts = [v.state === 'paused' ? 'stopped' : v.state];
      if (v.mode) parts.push(`${v.mode} mode`);
      if (v.cpl !== undefined) parts.push(`CPL ${v.cpl}`);
      if (v.rip) parts.push(`rip ${v.rip}`);
      return {
        id: `vcpu:${v.id}`,
        label: `vCPU ${v.id}${v.focus ? ' (focus)' : ''}`,
        description: parts.join(' · '),
        icon: v.state === 'running' ? 'debug-start' : v.state === 'paused' ? 'debug-pause' : v.state === 'finished' ? 'debug-stop' : 'circle-outline',
      };
    }),
  };
  const memory: VmNode = {
    id: 'memory',
    label: 'Memory map',
    description: `${info.memory.length} region${info.memory.length === 1 ? '' : 's'}`,
    icon: 'symbol-array',
    expanded: true,
    children: info.memory.map((m) => ({
      id: `mem:${m.name}:${m.gpa}`,
      label: m.name,
      description: `${m.kind.toUpperCase()} ${m.gpa}..${endOf(m.gpa, m.size)} (${formatSize(m.size)})`,
      tooltip: `${m.kind} region "${m.name}": guest-physical ${m.gpa} to ${endOf(m.gpa, m.size)}, ${m.size} bytes`,
      icon: m.kind === 'mmio' ? 'plug' : m.kind === 'rom' ? 'lock' : 'database',
    })),
  };
  const devices: VmNode = {
    id: 'devices',
    label: 'Devices',
    description: `${info.devices.length}`,
    icon: 'circuit-board',
    children: info.devices.map((d) => {
      const parts = [d.model ?? d.kind];
      if (d.port) parts.push(`port ${d.port}`);
      if (d.active !== undefined) parts.push(d.active ? 'active' : 'idle');
      if (d.interrupts) parts.push(`${d.interrupts} interrupt${d.interrupts === 1 ? '' : 's'}`);
      const node: VmNode = {
        id: `dev:${d.name}`,
        label: d.name,
        description: parts.join(' · '),
        // Unused devices fade: the plug icon for those the guest programmed or used.
        icon: d.active === false ? 'debug-disconnect' : 'plug',
      };
      if (d.fields?.length) {
        node.children = d.fields.map((f) => ({ id: `dev:${d.name}:${f.name}`, label: f.name, description: f.value, tooltip: `${f.name}: ${f.value}` }));
      }
      return node;
    }),
  };
  const counts = Object.entries(info.exitCounts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const total = counts.reduce((n, [, c]) => n + c, 0);
  const exits: VmNode = {
    id: 'exits',
    label: 'Exits',
    description: `${total}`,
    icon: 'pulse',
    expanded: true,
    children: counts.map(([reason, n]) => ({
      id: `exit:${reason}`,
      label: reason,
      description: `${n}${info.exitFilters?.includes(reason) ? ' · breaks' : ''}`,
      icon: 'arrow-right',
    })),
  };
  return [backend, vcpus, memory, devices, exits];
}

/** One stop or run state, as the adapter reported it, for the status bar. */
export type SessionPhase =
  | { kind: 'starting' }
  | { kind: 'running' }
  | { kind: 'stopped'; thread: number; reason: string; description?: string | undefined; text?: string | undefined }
  | { kind: 'ended'; exitCode?: number | undefined };

/** `KVM: PVM · vCPU0 stopped at exit io`, and the like. */
export function statusText(backend: string | undefined, phase: SessionPhase): string {
  // The backend leads: "KVM: VMX" on hardware, "emulated" under the emulator.
  const kvm = backend === 'emu' ? 'emulated' : `KVM: ${backend ? backendName(backend) : '…'}`;
  switch (phase.kind) {
    case 'starting':
      return `${kvm} · starting`;
    case 'running':
      return `${kvm} · running`;
    case 'stopped': {
      // An exit breakpoint's text ends in "(filter io, hit 3)" (debug-adapter/session.ts).
      const exit = phase.text && /\(filter ([\w-]+), hit \d+\)/.exec(phase.text);
      const why = exit ? `at exit ${exit[1]}` : phase.reason === 'exception' ? 'on an exception' : `on ${phase.reason}`;
      return `${kvm} · vCPU${phase.thread} stopped ${why}`;
    }
    case 'ended':
      return `${kvm} · ended${phase.exitCode !== undefined ? ` (exit ${phase.exitCode})` : ''}`;
  }
}
