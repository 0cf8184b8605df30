// The VM's devices and memory map as the spec configured them, with the
// machine's live view of each device: what the debug adapter's VM view and
// the gdb stub's `monitor info` both show.

import { hex } from '../common/address';
import type { VmSpec } from '../vmspec/types';
import { memoryLayout, deviceConfigs } from './builder';
import type { Machine } from './machine';

/** One device: what the spec configured, and, from a built machine, what the guest made of it. */
export interface DeviceInfo {
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
export function devicesOf(spec: VmSpec | undefined, machine: Machine | undefined): DeviceInfo[] {
  if (!spec) return [];
  let configs: ReturnType<typeof deviceConfigs>;
  try {
    configs = deviceConfigs(spec);
  } catch {
    return [];
  }
  const views = new Map((machine?.deviceViews() ?? []).map((v) => [v.name, v]));
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

export interface MemoryMapEntry {
  name: string;
  kind: string;
  gpa: string;
  size: number;
}

/** The guest-physical memory map of the spec; empty for a layout the builder refuses (it never ran). */
export function memoryMapOf(spec: VmSpec | undefined): MemoryMapEntry[] {
  try {
    return spec ? memoryLayout(spec).map((e) => ({ name: e.name, kind: e.kind, gpa: hex(e.gpa), size: e.size })) : [];
  } catch {
    return [];
  }
}
