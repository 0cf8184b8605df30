// `vmscope info`: tells the truth about this host: KVM (access, API version,
// implementation, capabilities, what probes found), the emulator (Unicorn:
// where from, which version), and which backend `accel: auto` picks.

import { gatherBackendsInfo } from '../vmm/host-info';
import { ExitCode } from './common';

export function infoCommand(opts: { json: boolean; kvmPath?: string | undefined }): number {
  const all = gatherBackendsInfo(opts.kvmPath);
  const code = all.auto ? ExitCode.ok : ExitCode.vmscopeError;
  if (opts.json) {
    process.stdout.write(JSON.stringify(all, null, 2) + '\n');
    return code;
  }
  const info = all.kvm;
  const emu = all.emulator;
  const lines: string[] = [];
  lines.push(`kvm:         ${info.device} — ${info.usable ? 'usable' : `NOT usable: ${info.problem}`}`);
  if (info.apiVersion !== undefined) lines.push(`api version: ${info.apiVersion}`);
  lines.push(`backend:     ${info.backend.toUpperCase()} (${info.backendEvidence})`);
  lines.push(`emulator:    ${emu.usable ? `usable: Unicorn ${emu.version} (${emu.library}, from ${emu.from})` : `NOT usable: ${emu.problem}`}`);
  const avoid = all.autoAvoidsKvm;
  lines.push(`auto picks:  ${all.auto === 'kvm' ? 'KVM' : all.auto === 'emu' ? `the emulator${avoid ? ` (${avoid})` : ''}` : 'nothing: no backend can run a VM here'}`);
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
  if (emu.usable) lines.push('note: under emulation, breakpoints and watchpoints are unlimited and data watchpoints are exact; there is no hardware VMCS (the VMCS view is derived)');
  process.stdout.write(lines.join('\n') + '\n');
  return code;
}
