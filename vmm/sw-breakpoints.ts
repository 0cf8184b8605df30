// Software breakpoints, for every front end (the debug adapter, the gdb stub):
// an int3 (0xcc) planted over the first byte of an instruction, the original
// byte kept aside (gdb's "shadow contents"), hidden from every debugger read,
// kept through debugger writes, and stepped off when a vCPU resumes from it.
//
// Stepping off is gdb's scheme without displaced stepping: put the original
// byte back, run the one instruction, plant the int3 again. For a continue
// that single step is internal (nobody sees its stop); for a step the byte
// stays out until the step's stop, as the step itself moves the vCPU off.
// While the byte is out, another running vCPU passing there does not stop:
// a continue therefore steps every vCPU off before any of them runs.

import type { Gpa } from '../common/address';

/** What the breakpoints need of guest memory. */
export interface BreakpointMemory {
  read(addr: Gpa, len: number): Uint8Array;
  write(addr: Gpa, data: Uint8Array): void;
  isBacked(addr: Gpa, len: number): boolean;
}

const INT3 = 0xcc;

export class SoftwareBreakpoints {
  /** Guest-physical address -> the byte under the int3. */
  private readonly planted = new Map<Gpa, number>();
  /** Addresses whose int3 is out while a vCPU steps off it. */
  private readonly lifted = new Set<Gpa>();

  constructor(private readonly memory: BreakpointMemory) {}

  get size(): number {
    return this.planted.size;
  }

  has(addr: Gpa): boolean {
    return this.planted.has(addr);
  }

  /**
   * Makes the planted set exactly `want`: removes the int3s no longer wanted
   * (their original bytes go back) and plants the new ones. Addresses outside
   * RAM/ROM are skipped and returned.
   */
  set(want: Iterable<Gpa>): Gpa[] {
    const next = new Set(want);
    const skipped: Gpa[] = [];
    for (const [addr, original] of this.planted) {
      if (next.has(addr)) continue;
      if (!this.lifted.has(addr)) this.memory.write(addr, Uint8Array.of(original));
      this.planted.delete(addr);
      this.lifted.delete(addr);
    }
    for (const addr of next) {
      if (this.planted.has(addr)) continue;
      if (!this.memory.isBacked(addr, 1)) {
        skipped.push(addr);
        continue;
      }
      this.planted.set(addr, this.memory.read(addr, 1)[0]!);
      this.memory.write(addr, Uint8Array.of(INT3));
    }
    return skipped;
  }

  /** Replaces planted int3s in `bytes` (read from guest-physical `at`) with the bytes they cover. */
  hide(at: Gpa, bytes: Uint8Array): void {
    if (this.planted.size === 0) return;
    for (const [addr, original] of this.planted) {
      const off = addr - at;
      if (off >= 0 && off < bytes.length) bytes[off] = original;
    }
  }

  /**
   * A debugger write: the new bytes become the shadow contents of any int3
   * they cover, and the int3s stay planted.
   */
  write(at: Gpa, data: Uint8Array): void {
    this.memory.write(at, data);
    if (this.planted.size === 0) return;
    for (const addr of this.planted.keys()) {
      const off = addr - at;
      if (off < 0 || off >= data.length) continue;
      this.planted.set(addr, data[off]!);
      if (!this.lifted.has(addr)) this.memory.write(addr, Uint8Array.of(INT3));
    }
  }

  /** Takes the int3 at `addr` out for a step; false when none is planted there. */
  lift(addr: Gpa): boolean {
    const original = this.planted.get(addr);
    if (original === undefined || this.lifted.has(addr)) return original !== undefined;
    this.memory.write(addr, Uint8Array.of(original));
    this.lifted.add(addr);
    return true;
  }

  /** Plants again an int3 that lift() took out (when it is still wanted). */
  replant(addr: Gpa): void {
    if (!this.lifted.delete(addr)) return;
    if (this.planted.has(addr)) this.memory.write(addr, Uint8Array.of(INT3));
  }
}
