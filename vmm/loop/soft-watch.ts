// Software watchpoints: where data breakpoints in DR0-3 do not fire (KVM
// running guest code through its instruction emulator, as on PVM hosts), the
// vCPU single-steps while one is set and compares the watched bytes after
// every instruction, as gdb does. This holds the comparison; the stepping
// (vmm/loop/stepping.ts) runs the instructions.

import type { SoftWatch } from '../debug';

/** A little-endian value of guest-physical memory, undefined where no RAM or ROM is (physReader's `value`). */
export type ReadValue = (gpa: number, len: SoftWatch['len']) => bigint | undefined;

/** The watched bytes as they were when watching began. */
export class WatchedBytes {
  private readonly before: ReadonlyArray<bigint | undefined>;

  constructor(
    private readonly watches: ReadonlyArray<SoftWatch>,
    private readonly read: ReadValue,
  ) {
    this.before = watches.map((w) => read(w.physical, w.len));
  }

  /** The slots whose bytes differ now from when watching began. */
  changed(): number[] {
    return this.watches.filter((w, i) => this.read(w.physical, w.len) !== this.before[i]).map((w) => w.slot);
  }
}
