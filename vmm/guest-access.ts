// Guest memory as a debugger sees it, for every front end (the debug adapter,
// the gdb stub): references in two address spaces (guest-virtual through a
// vCPU's page tables, or guest-physical), reads that stop at the first
// unreadable page instead of failing, and writes. Planted int3s are hidden
// from reads and kept through writes (sw-breakpoints.ts).

import { gpa, gva, hex, isGpa, type Gpa, type Gva } from '../common/address';
import type { Machine } from './machine';

/** A debugger's memory reference: a linear address, or a guest-physical one. */
export type MemRef = { space: 'virtual'; addr: Gva } | { space: 'physical'; addr: Gpa };

const PAGE = 4096n;

/** `0x1000` or `gva:0x1000` is guest-virtual (linear); `gpa:0x1000` is guest-physical. */
export function parseMemoryReference(ref: string): MemRef {
  const m = /^\s*(gpa:|gva:)?\s*(0x[0-9a-f_]+|\d+)\s*$/i.exec(ref);
  if (!m) throw new Error(`not a memory reference: "${ref}" (use 0x…, gva:0x… or gpa:0x…)`);
  const addr = BigInt.asUintN(64, BigInt(m[2]!.replace(/_/g, '')));
  if (m[1]?.toLowerCase() !== 'gpa:') return { space: 'virtual', addr: gva(addr) };
  if (!isGpa(addr)) throw new Error(`gpa:${hex(addr)} is beyond the 52-bit guest-physical address space`);
  return { space: 'physical', addr: gpa(addr) };
}

export function formatMemoryReference(ref: MemRef): string {
  return ref.space === 'physical' ? `gpa:${hex(ref.addr)}` : hex(ref.addr);
}

/** The reference `offset` bytes on (linear addresses wrap at 2^64). */
export function offsetReference(ref: MemRef, offset: number | bigint): MemRef {
  return ref.space === 'physical'
    ? { space: 'physical', addr: gpa(BigInt(ref.addr) + BigInt(offset)) }
    : { space: 'virtual', addr: gva(BigInt.asUintN(64, ref.addr + BigInt(offset))) };
}

export class UnreadableMemory extends Error {}

export class GuestAccess {
  /** Per-stop cache of page translations (linear page -> guest-physical page, or null when unmapped). */
  private readonly tlb = new Map<bigint, Gpa | null>();

  constructor(private readonly machine: Machine) {}

  /** Forget translations: call whenever the guest ran. */
  invalidate(): void {
    this.tlb.clear();
  }

  /** Guest-virtual (linear) to guest-physical with the vCPU's current paging, or undefined if unmapped. */
  translate(vcpu: number, addr: Gva): Gpa | undefined {
    const page = addr & ~(PAGE - 1n);
    let phys = this.tlb.get(page);
    if (phys === undefined) {
      try {
        const t = this.machine.vcpuState(vcpu).translate(gva(page));
        phys = t.valid && isGpa(t.physical) ? gpa(t.physical & ~(PAGE - 1n)) : null;
      } catch {
        phys = null;
      }
      this.tlb.set(page, phys);
    }
    return phys === null ? undefined : gpa(phys + Number(addr - page));
  }

  /** The guest-physical address `offset` bytes into `ref`, or undefined when it is unmapped. */
  private physicalOf(vcpu: number, ref: MemRef, offset: number): Gpa | undefined {
    if (ref.space === 'virtual') return this.translate(vcpu, gva(BigInt.asUintN(64, ref.addr + BigInt(offset))));
    const a = ref.addr + offset;
    return isGpa(a) ? gpa(a) : undefined;
  }

  /** Bytes from `ref` + `done` to the end of its page. */
  private pageLeft(ref: MemRef, done: number): number {
    return Number(PAGE - ((BigInt(ref.addr) + BigInt(done)) % PAGE));
  }

  /**
   * Reads up to `length` bytes; stops at the first byte that is unmapped or
   * not backed by RAM/ROM. `bytes.length` says how many were readable.
   */
  read(vcpu: number, ref: MemRef, length: number): Uint8Array {
    const memory = this.machine.memory;
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const phys = this.physicalOf(vcpu, ref, done);
      if (phys === undefined) break;
      let n = Math.min(length - done, this.pageLeft(ref, done));
      const partial = !memory.isBacked(phys, n);
      if (partial) {
        // Partially backed: take what is.
        let k = 0;
        while (k < n && memory.isBacked(gpa(phys + k), 1)) k++;
        n = k;
      }
      if (n === 0) break;
      const chunk = memory.read(phys, n);
      this.machine.breakpoints.hide(phys, chunk);
      out.set(chunk, done);
      done += n;
      if (partial) break;
    }
    return out.subarray(0, done);
  }

  /** Reads exactly `width` bytes as a little-endian integer, or throws UnreadableMemory. */
  readUint(vcpu: number, ref: MemRef, width: 1 | 2 | 4 | 8): bigint {
    const b = this.read(vcpu, ref, width);
    if (b.length < width) throw new UnreadableMemory(`${formatMemoryReference(offsetReference(ref, b.length))} is not readable`);
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** Writes bytes (planted int3s stay, over the new bytes); returns how many were written before an unwritable byte. */
  write(vcpu: number, ref: MemRef, data: Uint8Array): number {
    let done = 0;
    while (done < data.length) {
      const phys = this.physicalOf(vcpu, ref, done);
      if (phys === undefined) break;
      const n = Math.min(data.length - done, this.pageLeft(ref, done));
      if (!this.machine.memory.isBacked(phys, n)) break;
      this.machine.breakpoints.write(phys, data.subarray(done, done + n));
      done += n;
    }
    return done;
  }
}
