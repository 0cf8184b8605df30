// What this host offers, gathered without side effects: whether /dev/kvm can
// be used (and the fix when not), the API version, the KVM implementation and
// the capabilities vmscope's features depend on; whether the emulator can run
// (Unicorn: where from, which version); and which backend `accel: auto` picks.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { autoBackend, capabilities, detectBackend, explainOpenError, KVM_DEVICE, openKvm, type KvmBackend } from './kvm/system';
import type { KvmCapName } from './kvm/constants';
import { VmscopeError } from './errors';
import type { BackendCapabilities, BackendName } from './backend';
import { loadUnicorn } from './emu/native';
import { EMU_CAPABILITIES } from './emu/machine';
import type { KvmNative } from './kvm/native';
import { probeDataWatchpoints, probeInstructionBreakpoints, probeSoftwareBreakpoints } from './kvm/probe';

export interface HostInfo {
  device: string;
  usable: boolean;
  /** Why KVM cannot be used, with the fix (when !usable). */
  problem?: string;
  apiVersion?: number;
  backend: KvmBackend;
  backendEvidence: string;
  capabilities?: Record<KvmCapName, number>;
  /** What a throwaway VM showed this KVM really does (capability bits do not tell). */
  probes?: { instructionBreakpoints: boolean; softwareBreakpoints: boolean; dataWatchpoints: boolean };
  /** Consequences of the backend and capabilities that users hit. */
  notes: string[];
  host: { cpus: number; memoryBytes: number; kernel: string };
}

/** The emulation backend on this host. */
export interface EmulatorInfo {
  usable: boolean;
  /** Why it cannot run, with the fix (when !usable). */
  problem?: string;
  version?: string;
  library?: string;
  /** Where the library came from: VMSCOPE_UNICORN, npm install, the system. */
  from?: string;
  capabilities?: BackendCapabilities;
}

/** Both backends, and which one `accel: auto` picks here (none: nothing can run a VM). */
export interface BackendsInfo {
  kvm: HostInfo;
  emulator: EmulatorInfo;
  auto: BackendName | null;
  /** Why `auto` passes over a usable /dev/kvm (PVM), when it does. */
  autoAvoidsKvm?: string;
}

export function gatherEmulatorInfo(): EmulatorInfo {
  try {
    const lib = loadUnicorn();
    return { usable: true, version: lib.version, library: lib.path, from: lib.from, capabilities: EMU_CAPABILITIES };
  } catch (e) {
    return { usable: false, problem: e instanceof Error ? e.message : String(e) };
  }
}

export function gatherBackendsInfo(device = KVM_DEVICE, native?: KvmNative): BackendsInfo {
  const kvm = gatherHostInfo(device, native);
  const emulator = gatherEmulatorInfo();
  const auto = autoBackend(kvm.usable, kvm.backend, () => emulator.usable);
  return { kvm, emulator, auto: auto.name, ...(auto.avoidsKvm ? { autoAvoidsKvm: auto.avoidsKvm } : {}) };
}

export function gatherHostInfo(device = KVM_DEVICE, native?: KvmNative): HostInfo {
  const { backend, evidence } = detectBackend();
  const info: HostInfo = {
    device,
    usable: false,
    backend,
    backendEvidence: evidence,
    notes: [],
    host: { cpus: os.cpus().length, memoryBytes: os.totalmem(), kernel: os.release() },
  };
  if (!fs.existsSync(device)) {
    info.problem = explainOpenError(device, 'ENOENT');
    return info;
  }
  try {
    const sys = openKvm(device, native);
    try {
      info.usable = true;
      info.apiVersion = sys.apiVersion;
      info.capabilities = capabilities(sys);
      info.probes = {
        instructionBreakpoints: probeInstructionBreakpoints(sys),
        softwareBreakpoints: probeSoftwareBreakpoints(sys),
        dataWatchpoints: probeDataWatchpoints(sys),
      };
    } finally {
      sys.close();
    }
  } catch (e) {
    info.problem = e instanceof VmscopeError ? e.message : e instanceof Error ? e.message : String(e);
    return info;
  }
  const caps = info.capabilities!;
  if (backend === 'pvm') {
    info.notes.push('PVM runs guest code through KVM\'s instruction emulator in every mode: expect roughly a million guest instructions per second');
    info.notes.push('PVM delivers guest exceptions as a shutdown (triple fault) instead of through the guest\'s IDT');
  }
  const p = info.probes!;
  if (!p.softwareBreakpoints) info.notes.push('int3 breakpoints do not reach the debugger here: code breakpoints use the 4 hardware slots (DR0-3)');
  if (!p.dataWatchpoints) info.notes.push('DR0-3 data watchpoints do not fire here: data breakpoints fall back to single-stepping software watchpoints');
  if (!caps.IMMEDIATE_EXIT) info.notes.push('no KVM_CAP_IMMEDIATE_EXIT: pausing a vCPU relies on the signal alone');
  if (!caps.SET_GUEST_DEBUG) info.notes.push('no KVM_CAP_SET_GUEST_DEBUG: single-step and hardware breakpoints are unavailable');
  if (!caps.NESTED_STATE) info.notes.push('no KVM_CAP_NESTED_STATE: the vmcs12 view of a guest hypervisor is unavailable');
  return info;
}
