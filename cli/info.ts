// `vmscope info`: tells the truth about this host's KVM.

import { gatherHostInfo } from '../vmm/host-info';
import { ExitCode } from './common';

export function infoCommand(opts: { json: boolean; kvmPath?: string | undefined }): number {
  const info = gatherHostInfo(opts.kvmPath);
  if (opts.json) {
    process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    return info.usable ? ExitCode.ok : ExitCode.vmscopeError;
  }
  const lines: string[] = [];
  lines.push(`device:      ${info.device} — ${info.usable ? 'usable' : `NOT usable: ${info.problem}`}`);
  if (info.apiVersion !== undefined) lines.push(`api version: ${info.apiVersion}`);
  lines.push(`backend:     ${info.backend.toUpperCase()} (${info.backendEvidence})`);
  lines.push(`host:        ${info.host.cpus} CPUs, ${(info.host.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, Linux ${info.host.kernel}`);
  if (info.capabilities) {
    lines.push('capabilities:');
    for (const [name, value] of Object.entries(info.capabilities)) {
      lines.push(`  ${('KVM_CAP_' + name).padEnd(30)} ${value}`);
    }
  }
  if (info.probes) {
    const yn = (b: boolean) => (b ? 'yes' : 'no');
    lines.push('probed:');
    lines.push(`  hardware instruction breakpoints   ${yn(info.probes.instructionBreakpoints)}`);
    lines.push(`  int3 software breakpoints          ${yn(info.probes.softwareBreakpoints)}`);
    lines.push(`  hardware data watchpoints          ${yn(info.probes.dataWatchpoints)}`);
  }
  for (const n of info.notes) lines.push(`note: ${n}`);
  process.stdout.write(lines.join('\n') + '\n');
  return info.usable ? ExitCode.ok : ExitCode.vmscopeError;
}
