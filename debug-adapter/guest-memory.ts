// Guest memory as the debugger sees it: memory references in two address
// spaces (guest-virtual through the vCPU's page tables, `gpa:` for
// guest-physical), reads that stop at the first unreadable page instead of
// failing, and writes. Software breakpoints are hidden from reads.

import { gpa, hex } from '../common/address';
import type { Machine } from '../vmm/machine';

export type MemRef = { space: 'virtual' | 'physical'; addr: bigint };

const PAGE = 4096n;

/** `0x1000` or `gva:0x1000` is guest-virtual (linear); `gpa:0x1000` is guest-physical. */
export function parseMemoryReference(ref: string): MemRef {
  const m = /^\s*(gpa:|gva:)?\s*(0x[0-9a-f_]+|\d+)\s*$/i.exec(ref);
  if (!m) throw new Error(`not a memory reference: "${ref}" (use 0x…, gva:0x… or gpa:0x…)`);
  const addr = BigInt(m[2]!.replace(/_/g, ''));
  return { space: m[1]?.toLowerCase() === 'gpa:' ? 'physical' : 'virtual', addr: BigInt.asUintN(64, addr) };
}

export function formatMemoryReference(ref: MemRef): string {
  return ref.space === 'physical' ? `gpa:${hex(ref.addr)}` : hex(ref.addr);
}

export class UnreadableMemory extends Error {}

export class GuestAccess {
  /** Per-stop cache of page translations (virtual page -> physical page or null). */
  private readonly tlb = new Map<bigint, bigint | null>();

  constructor(
    private readonly machine: Machine,
    /** Bytes to show instead of what memory holds (original bytes under int3), by guest-physical address. */
    private readonly overlay: (physical: bigint, bytes: Uint8Array) => void = () => {},
  ) {}

  /** Forget translations: call whenever the guest ran. */
  invalidate(): void {
    this.tlb.clear();
  }

  /** Guest-virtual (linear) to guest-physical with the vCPU's current paging, or undefined if unmapped. */
  translate(vcpu: number, addr: bigint): bigint | undefined {
    const page = addr & ~(PAGE - 1n);
    let phys = this.tlb.get(page);
    if (phys === undefined) {
      try {
        const t = this.machine.vcpuState(vcpu).translate(page as never);
        phys = t.valid ? t.physical & ~(PAGE - 1n) : null;
      } catch {
        phys = null;
      }
      this.tlb.set(page, phys);
    }
    return phys === null ? undefined : phys + (addr - page);
  }

  /** The physical address of one byte, or undefined when it is not backed. */
  private physicalOf(vcpu: number, ref: MemRef, offset: bigint): bigint | undefined {
    const a = ref.addr + offset;
    return ref.space === 'physical' ? a : this.translate(vcpu, a);
  }

  /**
   * Reads up to `length` bytes; stops at the first byte that is unmapped or
   * not backed by RAM/ROM. `bytes.length` says how many were readable.
   */
  read(vcpu: number, ref: MemRef, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const phys = this.physicalOf(vcpu, ref, BigInt(done));
      if (phys === undefined || phys >= 2n ** 52n) break;
      const inPage = Number(PAGE - ((ref.addr + BigInt(done)) % PAGE));
      const n = Math.min(length - done, inPage);
      const p = gpa(phys);
      if (!this.machine.memory.isBacked(p, n)) {
        // Partially backed: take what is.
        let k = 0;
        while (k < n && this.machine.memory.isBacked(gpa(phys + BigInt(k)), 1)) k++;
        if (k === 0) break;
        const chunk = this.machine.memory.read(p, k);
        this.overlay(phys, chunk);
        out.set(chunk, done);
        done += k;
        break;
      }
      const chunk = this.machine.memory.read(p, n);
      this.overlay(phys, chunk);
      out.set(chunk, done);
      done += n;
    }
    return out.subarray(0, done);
  }

  /** Reads exactly `width` bytes as a little-endian integer, or throws UnreadableMemory. */
  readUint(vcpu: number, ref: MemRef, width: 1 | 2 | 4 | 8): bigint {
    const b = this.read(vcpu, ref, width);
    if (b.length < width) {
      throw new UnreadableMemory(`${formatMemoryReference({ ...ref, addr: ref.addr + BigInt(b.length) })} is not readable`);
    }
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** Writes bytes; returns how many were written before an unwritable byte. */
  write(vcpu: number, ref: MemRef, data: Uint8Array): number {
    let done = 0;
    while (done < data.length) {
      const phys = this.physicalOf(vcpu, ref, BigInt(done));
      if (phys === undefined) break;
      const inPage = Number(PAGE - ((ref.addr + BigInt(done)) % PAGE));
      const n = Math.min(data.length - done, inPage);
      if (!this.machine.memory.isBacked(gpa(phys), n)) break;
      this.machine.memory.write(gpa(phys), data.subarray(done, done + n));
      done += n;
    }
    return done;
  }
}
