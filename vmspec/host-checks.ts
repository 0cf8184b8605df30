// Checks of a spec against the host it would run on: memory beyond the
// host's RAM (an error) or beyond half of it (a warning), more vCPUs than
// host CPUs (with the overcommit ratio), regions beyond the physical address
// width guests get (the host's MAXPHYADDR), and which backend can run it: KVM,
// the emulator, or neither. They read whatever values of the spec are valid,
// so they show together with the spec's other errors.

import { hex } from '../common/address';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { formatSize } from './units';
import type { SpecParseResult } from './parse';
// Files only: whether a libunicorn is there to load (no native addon in the language server).
import { emulatorProblem } from '../common/emulator-path';
import { explainKvmOpenError } from '../common/kvm-device';
import type { SpecDiagnostic } from './types';

export interface HostFacts {
  memoryBytes: number;
  cpus: number;
  /** The CPU's physical address width (MAXPHYADDR), which guests inherit; undefined if unknown. */
  physBits?: number;
  /** Why /dev/kvm cannot be used, if it cannot. */
  kvmProblem?: string;
  /** Why the emulator cannot run, if it cannot. */
  emulatorProblem?: string;
}

export function thisHost(device = '/dev/kvm'): HostFacts {
  const facts: HostFacts = { memoryBytes: os.totalmem(), cpus: os.cpus().length };
  try {
    const m = /^address sizes\s*:\s*(\d+) bits physical/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) facts.physBits = Number(m[1]);
  } catch {
    // No /proc/cpuinfo: the width check is skipped.
  }
  try {
    fs.accessSync(device, fs.constants.R_OK | fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The same reason and fix as `vmscope info` and `run` give (modules, udev, the kvm group).
    facts.kvmProblem = explainKvmOpenError(device, code ?? 'EACCES');
  }
  const emu = emulatorProblem();
  if (emu) facts.emulatorProblem = emu;
  return facts;
}

/** The host's RAM as people say it: 23.5 GiB rather than 24683748 KiB (formatSize is exact, and RAM is never round). */
function roughSize(bytes: number): string {
  return (bytes % 2 ** 30 === 0 || bytes < 2 ** 30) ? formatSize(bytes) : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function checkHost(result: SpecParseResult, host: HostFacts = thisHost()): SpecDiagnostic[] {
  const spec = result.spec ?? result.partial;
  if (!spec) return [];
  const out: SpecDiagnostic[] = [];
  const mem = result.ranges.locate(['memory'], 'key');
  // Guest RAM is memory plus the ram regions (memory stops below KVM's reserved pages, so more RAM comes as regions).
  const ramRegions = (spec.regions ?? []).flatMap((r, index) => (r && r.kind === 'ram' && typeof r.size === 'number' ? [{ index, size: r.size }] : []));
  const regionBytes = ramRegions.reduce((sum, r) => sum + r.size, 0);
  const total = (spec.memory ?? 0) + regionBytes;
  const what = regionBytes > 0 ? `guest RAM ${formatSize(total)} (memory and ram regions)` : `memory ${formatSize(total)}`;
  const lower = regionBytes > 0 ? 'lower memory or the ram regions' : 'lower memory';
  const largest = ramRegions.reduce<(typeof ramRegions)[number] | undefined>((big, r) => (!big || r.size > big.size ? r : big), undefined);
  const where = largest && largest.size > (spec.memory ?? 0) ? result.ranges.locate(['regions', largest.index]) : mem;
  if (total > host.memoryBytes) {
    out.push({ severity: 'error', code: 'host-memory', message: `${what} is more than this host's RAM (${roughSize(host.memoryBytes)}); ${lower} to fit in the host's RAM`, range: where });
  } else if (total > host.memoryBytes / 2) {
    out.push({ severity: 'warning', code: 'host-memory', message: `${what} is more than half of this host's RAM (${roughSize(host.memoryBytes)}); the host may swap`, range: where });
  }
  if (spec.vcpus !== undefined && spec.vcpus > host.cpus) {
    const ratio = (spec.vcpus / host.cpus).toFixed(1).replace(/\.0$/, '');
    out.push({
      severity: 'warning',
      code: 'host-vcpus',
      message: `${spec.vcpus} vCPUs on ${host.cpus} host CPUs: an overcommit of ${ratio}:1 (vCPU:pCPU), so vCPUs will wait for CPU time`,
      range: result.ranges.locate(['vcpus'], 'key'),
    });
  }
  if (host.physBits !== undefined) {
    const limit = 2 ** host.physBits;
    (spec.regions ?? []).forEach((r, i) => {
      if (r?.gpa !== undefined && r.size !== undefined && r.gpa + r.size > limit) {
        out.push({
          severity: 'error',
          code: 'beyond-phys-width',
          message: `region ${r.name ?? i} ends at ${hex((r.gpa + r.size))}, beyond this host's ${host.physBits}-bit guest-physical address space (MAXPHYADDR); the guest cannot address it`,
          range: result.ranges.locate(['regions', i, 'gpa']),
        });
      }
    });
  }
  const backend = backendDiagnostic(spec.accel ?? 'auto', host);
  if (backend) out.push({ ...backend, code: 'host-kvm', range: result.ranges.locate([spec.accel !== undefined ? 'accel' : 'name'], 'key') });
  return out;
}

/**
 * What the backend choice means here: information when the emulator runs a
 * spec KVM cannot, an error when the backend it asks for (or every backend)
 * cannot run.
 */
function backendDiagnostic(accel: 'auto' | 'kvm' | 'emu', host: HostFacts): Pick<SpecDiagnostic, 'severity' | 'message'> | undefined {
  const kvm = host.kvmProblem;
  const emu = host.emulatorProblem;
  switch (accel) {
    case 'kvm':
      return kvm ? { severity: 'error', message: `accel: kvm, but this spec cannot run here: ${kvm}${emu ? '' : '; accel: auto or emu would run it under emulation'}` } : undefined;
    case 'emu':
      return emu ? { severity: 'error', message: `accel: emu, but the emulator cannot run here: ${emu}` } : undefined;
    case 'auto':
      if (!kvm) return undefined;
      if (!emu) return { severity: 'info', message: `runs under emulation here: ${kvm}` };
      return { severity: 'error', message: `this spec cannot run here: ${kvm}; and the emulator cannot either: ${emu}` };
  }
}

/**
 * The host checks a run must pass (RAM, address width) as errors; which
 * backend runs is the runner's choice, with its own message, so host-kvm is left out.
 */
export function hostErrors(result: SpecParseResult, host: HostFacts = thisHost()): SpecDiagnostic[] {
  return checkHost(result, host).filter((d) => d.severity === 'error' && d.code !== 'host-kvm');
}
