// A runner exit (vmm/exit-trace.ts ExitInfo) as the VMX views read it
// (LastExit): built once here for the derived VMCS, the Exits view and the
// stop descriptions of every front end.

import type { ExitInfo } from '../exit-trace';
import type { LastExit } from './last-exit';
import { ioExitEstimate, ioExitFromKvm, type DecodedInstruction, type KvmIo } from './qualification';

/**
 * The last exit as the derived VMCS and the exit descriptions read it. An I/O
 * exit's qualification needs its instruction (string, REP, immediate port):
 * given `insn`, it is checked against the exit; given 'estimate' (a stop
 * description, with no instruction at hand), a string/REP exit is recognised by
 * its count; otherwise the I/O detail is left out.
 */
export function lastExitOf(e: { code: number; exit: ExitInfo }, insn?: DecodedInstruction | 'estimate'): LastExit {
  const x = e.exit;
  const out: LastExit = { kvmExit: e.code };
  switch (x.reason) {
    case 'io': {
      const kvmIo: KvmIo = { port: x.port, size: x.size, in: x.direction === 'in', count: x.count, ...(x.value !== undefined ? { value: x.value } : {}) };
      if (insn === 'estimate') out.io = ioExitEstimate(kvmIo);
      else if (insn) out.io = ioExitFromKvm(kvmIo, insn);
      break;
    }
    case 'mmio':
      out.mmio = { gpa: BigInt(x.gpa), len: x.len, write: x.write, ...(x.value !== undefined ? { value: x.value } : {}) };
      break;
    case 'rdmsr':
    case 'wrmsr':
      out.msr = { index: x.index, write: x.reason === 'wrmsr', ...(x.reason === 'wrmsr' ? { value: x.data } : {}) };
      break;
    case 'debug':
      out.debug = { exception: x.exception, pc: x.pc };
      break;
    case 'fail-entry':
      out.failEntry = { hardwareReason: x.hardwareReason };
      break;
    case 'internal-error':
      out.internal = { suberror: x.suberror, data: [] };
      break;
    case 'system-event':
      out.systemEvent = { type: x.type };
      break;
    case 'hypercall':
      out.hypercall = { nr: x.nr };
      break;
    case 'hlt':
    case 'shutdown':
    case 'other':
      break;
  }
  return out;
}
