// What the caller knows about a vCPU's last KVM exit, in the shape the VMX
// views (derived VMCS, exit descriptions) consume. Everything here is either
// read from kvm_run or taken from the caller's decoding of the exiting
// instruction; the comments say which.

export interface IoExit {
  /** kvm_run.io.port */
  port: number;
  /** kvm_run.io.size: 1, 2 or 4 bytes. */
  size: number;
  /** kvm_run.io.direction === KVM_EXIT_IO_IN */
  in: boolean;
  /** kvm_run.io.count (more than 1 only for string I/O). */
  count: number;
  /** The first element's data, when known (an OUT's value; an IN's after the device answered). */
  value?: number;
  /** From the decoded instruction: INS/OUTS. kvm_run does not say (use ioExitFromKvm). */
  string: boolean;
  /** From the decoded instruction: REP prefix on a string instruction. */
  rep: boolean;
  /** From the decoded instruction: port given as an immediate (in al, 0x61) rather than DX. */
  immediate: boolean;
  /** INS/OUTS only: the memory operand's linear address, when the caller computed it. */
  linear?: bigint;
}

export interface MmioExit {
  /** kvm_run.mmio.phys_addr */
  gpa: bigint;
  /** kvm_run.mmio.len */
  len: number;
  /** kvm_run.mmio.is_write */
  write: boolean;
  value?: bigint;
  /** The access's linear address, when the caller computed it from the decoded instruction. */
  linear?: bigint;
  /**
   * Permissions of the EPT entry that mapped gpa (bits 3-5 of the EPT-violation
   * qualification). User space cannot read KVM's EPT, so this is normally
   * absent and those bits are reported as unknown.
   */
  eptEntry?: { readable: boolean; writable: boolean; executable: boolean };
}

export interface MsrExit {
  /** kvm_run.msr.index */
  index: number;
  write: boolean;
  /** kvm_run.msr.data: the value written, or the value user space answered a read with. */
  value?: bigint;
}

export interface DebugExit {
  /** kvm_run.debug.arch.exception: 1 (#DB) or 3 (#BP). */
  exception: number;
  /** kvm_run.debug.arch.pc (linear). */
  pc?: bigint;
  /** kvm_run.debug.arch.dr6 */
  dr6?: bigint;
}

export interface LastExit {
  /** kvm_run.exit_reason (KvmExit in vmm/kvm/constants.ts). */
  kvmExit: number;
  io?: IoExit;
  mmio?: MmioExit;
  msr?: MsrExit;
  debug?: DebugExit;
  /** kvm_run.fail_entry */
  failEntry?: { hardwareReason: bigint; hostCpu?: number };
  /** kvm_run.internal: suberror and data[0..ndata). */
  internal?: { suberror: number; data: readonly bigint[] };
  /** kvm_run.system_event.type */
  systemEvent?: { type: number };
  /** kvm_run.hypercall.nr */
  hypercall?: { nr: bigint };
}

/** Everything but the exit code, for describeExit. */
export type ExitDetails = Omit<LastExit, 'kvmExit'>;
