// Checks of a spec against the host it would run on: memory beyond the
// host's RAM (an error) or beyond half of it (a warning), more vCPUs than
// host CPUs (with the overcommit ratio), regions beyond the physical address
// width guests get (the host's MAXPHYADDR), and a /dev/kvm that cannot be used.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { formatSize } from './units';
import type { SpecParseResult } from './parse';
import type { SpecDiagnostic } from './types';

export interface HostFacts {
  memoryBytes: number;
  cpus: number;
  /** The CPU's physical address width (MAXPHYADDR), which guests inherit; undefined if unknown. */
  physBits?: number;
  /** Why /dev/kvm cannot be used, if it cannot. */
  kvmProblem?: string;
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
    facts.kvmProblem = code === 'ENOENT' ? `${device} does not exist on this host` : `no permission to open ${device} (add yourself to its group, e.g. kvm)`;
  }
  return facts;
}

export function checkHost(result: SpecParseResult, host: HostFacts = thisHost()): SpecDiagnostic[] {
  const spec = result.spec;
  if (!spec) return [];
  const out: SpecDiagnostic[] = [];
  const mem = result.ranges.locate(['memory'], 'key');
  if (spec.memory > host.memoryBytes) {
    out.push({ severity: 'error', code: 'host-memory', message: `memory ${formatSize(spec.memory)} is more than this host's RAM (${formatSize(host.memoryBytes)})`, range: mem });
  } else if (spec.memory > host.memoryBytes / 2) {
    out.push({ severity: 'warning', code: 'host-memory', message: `memory ${formatSize(spec.memory)} is more than half of this host's RAM (${formatSize(host.memoryBytes)}); the host may swap`, range: mem });
  }
  if (spec.vcpus > host.cpus) {
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
    spec.regions.forEach((r, i) => {
      if (r.gpa + r.size > limit) {
        out.push({
          severity: 'error',
          code: 'beyond-phys-width',
          message: `region ${r.name} ends at 0x${(r.gpa + r.size).toString(16)}, beyond this host's ${host.physBits}-bit guest-physical address space (MAXPHYADDR); the guest cannot address it`,
          range: result.ranges.locate(['regions', i, 'gpa']),
        });
      }
    });
  }
  if (host.kvmProblem) {
    out.push({ severity: 'warning', code: 'host-kvm', message: `this spec cannot run here: ${host.kvmProblem}`, range: result.ranges.locate(['name'], 'key') });
  }
  return out;
}
