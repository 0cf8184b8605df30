// Guest-physical memory: the RAM and ROM regions backed by host mmap'd memory
// and registered with KVM as memory slots, seen from the main thread through
// zero-copy views.

import type { KvmNative } from './kvm/native';
import type { Structs } from './kvm/structs';
import { KVM_MEM_READONLY } from './kvm/constants';
import { gpa, hex, hva, type Gpa, type Hva } from '../common/address';

export type BackedKind = 'ram' | 'rom';

/** A backed region: where it is in the guest and in the host. */
export interface RegionDescriptor {
  name: string;
  kind: BackedKind;
  gpa: Gpa;
  size: number;
  hva: Hva;
  slot: number;
}

export interface MemoryRegion extends RegionDescriptor {
  /** Replaced by an empty array once released, so stale views cannot reach freed memory. */
  bytes: Uint8Array;
}

export class GuestMemoryError extends RangeError {}

export class GuestMemory {
  readonly regions: readonly MemoryRegion[];
  /** Set once the host mapping is gone; views would then point at freed memory. */
  private released = false;
  private readonly writeListeners: Array<(addr: Gpa, len: number) => void> = [];

  /**
   * Calls `fn` after every write through write()/writeU64() (the debugger's
   * writes): the emulator must drop code it translated from those bytes.
   */
  onWrite(fn: (addr: Gpa, len: number) => void): void {
    this.writeListeners.push(fn);
  }

  private written(addr: Gpa, len: number): void {
    for (const fn of this.writeListeners) fn(addr, len);
  }

  constructor(regions: MemoryRegion[]) {
    this.regions = [...regions].sort((a, b) => a.gpa - b.gpa);
  }

  /** The region that holds `addr`, if any. */
  regionAt(addr: Gpa): MemoryRegion | undefined {
    for (const r of this.regions) if (addr >= r.gpa && addr < r.gpa + r.size) return r;
    return undefined;
  }

  /** True when [addr, addr+len) lies inside one backed region. */
  isBacked(addr: Gpa, len: number): boolean {
    const r = this.regionAt(addr);
    return r !== undefined && addr + len <= r.gpa + r.size;
  }

  /** A live view of guest memory (no copy). The range must lie in one region. */
  view(addr: Gpa, len: number): Uint8Array {
    if (this.released) throw new GuestMemoryError('the machine has ended; its memory is gone');
    const r = this.regionAt(addr);
    if (!r || addr + len > r.gpa + r.size) {
      throw new GuestMemoryError(`guest-physical range ${hex(addr)}..${hex(addr + len)} is not backed by RAM or ROM`);
    }
    const off = addr - r.gpa;
    return r.bytes.subarray(off, off + len);
  }

  read(addr: Gpa, len: number): Uint8Array {
    return this.view(addr, len).slice();
  }

  write(addr: Gpa, data: Uint8Array): void {
    this.view(addr, data.length).set(data);
    this.written(addr, data.length);
  }

  readU64(addr: Gpa): bigint {
    const v = this.view(addr, 8);
    return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
  }

  writeU64(addr: Gpa, value: bigint): void {
    const v = this.view(addr, 8);
    new DataView(v.buffer, v.byteOffset, 8).setBigUint64(0, value, true);
    this.written(addr, 8);
  }

  markReleased(): void {
    this.released = true;
    for (const r of this.regions) r.bytes = new Uint8Array(0);
  }

  /** Total bytes of RAM (not ROM). */
  get ramBytes(): number {
    return this.regions.filter((r) => r.kind === 'ram').reduce((a, r) => a + r.size, 0);
  }
}

/**
 * Maps host memory for each region and registers it with KVM. ROM slots are
 * read-only to the guest (KVM_MEM_READONLY): writes arrive as MMIO exits.
 */
export function allocateGuestMemory(
  native: KvmNative,
  vmFd: number,
  structs: Structs,
  layout: ReadonlyArray<{ name: string; kind: BackedKind; gpa: number; size: number }>,
): GuestMemory {
  return mapGuestMemory(native, layout, (r) => {
    native.setUserMemoryRegion(vmFd, structs.encodeMemoryRegion(r.slot, r.kind === 'rom' ? KVM_MEM_READONLY : 0, r.gpa, r.size, r.hva));
  });
}

/**
 * Maps host memory for each region and hands each to `register` (a KVM memory
 * slot, or nothing: the emulator maps the same memory itself per vCPU).
 */
export function mapGuestMemory(
  native: Pick<KvmNative, 'mmapAnonymous' | 'munmap' | 'externalBuffer'>,
  layout: ReadonlyArray<{ name: string; kind: BackedKind; gpa: number; size: number }>,
  register: (region: RegionDescriptor) => void = () => {},
): GuestMemory {
  const regions: MemoryRegion[] = [];
  try {
    layout.forEach((l, slot) => {
      const addr = hva(native.mmapAnonymous(l.size));
      const region: MemoryRegion = {
        name: l.name,
        kind: l.kind,
        gpa: gpa(l.gpa),
        size: l.size,
        hva: addr,
        slot,
        bytes: new Uint8Array(native.externalBuffer(addr, l.size)),
      };
      regions.push(region);
      register(region);
    });
  } catch (e) {
    for (const r of regions) native.munmap(r.hva, r.size);
    throw e;
  }
  return new GuestMemory(regions);
}

/** Unmaps host memory. Contract: every vCPU thread has exited and the VM fd is closed. */
export function releaseGuestMemory(native: Pick<KvmNative, 'munmap'>, memory: GuestMemory): void {
  memory.markReleased();
  for (const r of memory.regions) native.munmap(r.hva, r.size);
}
