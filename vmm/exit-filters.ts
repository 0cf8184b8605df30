// The exit filters of a vmscope session: one per VM exit reason user space
// sees, with what a condition on it can name. The names are the spec's
// `debug.break-on-exit` values; the debug adapter offers them as exception
// breakpoints and the gdb stub as `monitor break-on-exit`.

import { EXIT_FILTER_NAMES } from '../vmspec/schema';
import { EXIT_CODES, exitName, type ExitInfo } from './exit-trace';
import { describeExit } from './vmx/exit-reasons';
import type { BackendImplementation } from './backend';
import { lastExitOf } from './vmx/exit-detail';

export type ExitFilterName = (typeof EXIT_FILTER_NAMES)[number];

export interface ExitFilterDef {
  id: ExitFilterName;
  label: string;
  description: string;
  conditionHelp: string;
}

const COMMON = 'registers (rax, rip, ...). Add "; N" (or ==N, >N, %N) to stop only from the Nth match';

export const EXIT_FILTERS: readonly ExitFilterDef[] = [
  { id: 'io', label: 'VM exit: I/O', description: 'Port I/O (KVM_EXIT_IO; VMX exit 30, I/O instruction)', conditionHelp: `e.g. port == 0x3f8 && write. Names: port, size, count, in, out, write, read, value; ${COMMON}` },
  { id: 'mmio', label: 'VM exit: MMIO', description: 'Access to unbacked guest-physical memory (KVM_EXIT_MMIO; VMX exit 48, EPT violation)', conditionHelp: `e.g. gpa >= 0xd0000000 && size == 4. Names: gpa, size, len, write, read, value; ${COMMON}` },
  { id: 'hlt', label: 'VM exit: HLT', description: 'HLT (KVM_EXIT_HLT; VMX exit 12)', conditionHelp: `Names: ${COMMON}` },
  { id: 'shutdown', label: 'VM exit: shutdown (triple fault)', description: 'Triple fault (KVM_EXIT_SHUTDOWN; VMX exit 2)', conditionHelp: `Names: ${COMMON}` },
  { id: 'fail-entry', label: 'VM exit: entry failure', description: 'VM entry failed (KVM_EXIT_FAIL_ENTRY; VMX exits 33/34 with bit 31)', conditionHelp: `Names: hardware_reason; ${COMMON}` },
  { id: 'internal-error', label: 'VM exit: KVM internal error', description: 'KVM could not emulate or deliver (KVM_EXIT_INTERNAL_ERROR)', conditionHelp: `Names: suberror; ${COMMON}` },
  { id: 'debug', label: 'VM exit: debug', description: '#DB or #BP routed to the debugger (KVM_EXIT_DEBUG; VMX exit 0)', conditionHelp: `Names: exception, pc; ${COMMON}` },
  { id: 'rdmsr', label: 'VM exit: RDMSR', description: 'RDMSR routed to vmscope by an MSR filter (KVM_EXIT_X86_RDMSR; VMX exit 31). While on, every guest MSR access exits.', conditionHelp: `e.g. msr == 0xc0000080. Names: msr, value; ${COMMON}` },
  { id: 'wrmsr', label: 'VM exit: WRMSR', description: 'WRMSR routed to vmscope by an MSR filter (KVM_EXIT_X86_WRMSR; VMX exit 32). While on, every guest MSR access exits.', conditionHelp: `e.g. msr == 0x174 && value == 0x10. Names: msr, value (= data); ${COMMON}` },
  { id: 'system-event', label: 'VM exit: system event', description: 'Reset, shutdown or crash request (KVM_EXIT_SYSTEM_EVENT)', conditionHelp: `Names: type; ${COMMON}` },
];

/** `I/O instruction (VMX exit 30): out 0x3f8, 1 byte, value 0x48`, from the exit as it happens (no instruction at hand). */
export function describeExitStop(code: number, exit: ExitInfo, backend?: BackendImplementation): string {
  return describeExit(code, lastExitOf({ code, exit }, 'estimate'), backend);
}

export { EXIT_CODES };

/** KVM exit name (KVM_EXIT_IO) → exit filter name (io). */
const FILTER_BY_KVM_NAME = new Map<string, string>(Object.entries(EXIT_CODES).map(([id, code]) => [exitName(code), id]));

/** Exit counts keyed by the names exit filters use (io, mmio, hlt, ...); KVM's name for exits no filter covers. */
export function exitCountsByFilter(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([kvm, n]) => [FILTER_BY_KVM_NAME.get(kvm) ?? kvm, n]));
}
