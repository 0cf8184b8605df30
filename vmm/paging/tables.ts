import { hex } from '../../common/address';
// Builds x86 page tables in guest-physical memory, for the walker's tests, the
// KVM cross-check (test/paging.test.ts) and bench/walk.ts. Tables come from a
// caller's page allocator; entries above a leaf get P|RW|US (P only for PAE
// PDPTEs, whose other bits are reserved) so the leaf's flags decide.

export type TableMode = 'legacy32' | 'pae' | 'long4' | 'long5';

/** Guest-physical memory as the builder writes it (GuestMemory, or a fake). */
export interface PhysMemory {
  read(gpa: number, len: number): Uint8Array;
  write(gpa: number, data: Uint8Array): void;
}

export const PTE = {
  P: 1n,
  RW: 1n << 1n,
  US: 1n << 2n,
  PWT: 1n << 3n,
  PCD: 1n << 4n,
  A: 1n << 5n,
  D: 1n << 6n,
  PS: 1n << 7n,
  G: 1n << 8n,
  /** PAT in a 2 MiB, 4 MiB or 1 GiB entry (bit 7 is PAT in a 4 KiB PTE). */
  PAT_LARGE: 1n << 12n,
  NX: 1n << 63n,
} as const;

export const KIB4 = 0x1000;
export const MIB2 = 0x20_0000;
export const MIB4 = 0x40_0000;
export const GIB1 = 0x4000_0000;

export class TableBuilder {
  /** Address of the top table (the PDPT in PAE mode); CR3 as the builder sets it. */
  readonly cr3: bigint;
  private readonly root: number;

  constructor(
    readonly mode: TableMode,
    private readonly mem: PhysMemory,
    /** Returns the guest-physical address of a fresh 4 KiB page (the builder zeroes it). */
    private readonly allocPage: () => number,
    /** PAE only: where in its page the PDPT sits (a multiple of 32), to check CR3's low bits are used. */
    pdptOffset = 0,
  ) {
    this.root = this.newTable() + (mode === 'pae' ? pdptOffset : 0);
    this.cr3 = BigInt(this.root);
  }

  get top(): number {
    return this.mode === 'legacy32' ? 2 : this.mode === 'pae' ? 3 : this.mode === 'long4' ? 4 : 5;
  }

  get entrySize(): 4 | 8 {
    return this.mode === 'legacy32' ? 4 : 8;
  }

  /** Index of `gva` in the table at `level`. */
  index(gva: bigint, level: number): number {
    if (this.mode === 'legacy32') return Number((gva >> (level === 2 ? 22n : 12n)) & 0x3ffn);
    if (this.mode === 'pae' && level === 3) return Number((gva >> 30n) & 3n);
    return Number((gva >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
  }

  /**
   * Maps the page of `size` bytes at `gva` to `gpa`, with a leaf at the level
   * the size implies, creating the tables on the way.
   */
  map(gva: bigint, gpa: bigint, size: number, leafFlags: bigint = PTE.P | PTE.RW, tableFlags: bigint = PTE.P | PTE.RW | PTE.US): void {
    const leafLevel = size === KIB4 ? 1 : size === GIB1 ? 3 : 2;
    if ((size === MIB4) !== (this.mode === 'legacy32' && leafLevel === 2)) throw new RangeError(`no ${size}-byte pages in ${this.mode}`);
    if (size === GIB1 && (this.mode === 'legacy32' || this.mode === 'pae')) throw new RangeError(`no 1 GiB pages in ${this.mode}`);
    if (gpa % BigInt(size) !== 0n || gva % BigInt(size) !== 0n) throw new RangeError(`addresses not aligned to ${size}`);
    if (this.mode === 'legacy32' && gpa >= (size === MIB4 ? 1n << 40n : 1n << 32n)) throw new RangeError(`${hex(gpa)} out of reach`);
    let table = this.root;
    for (let level = this.top; level > leafLevel; level--) {
      const at = table + this.index(gva, level) * this.entrySize;
      let e = this.readEntry(at);
      if (e & PTE.P && e & PTE.PS && !(this.mode === 'pae' && level === 3)) throw new RangeError(`a large page is mapped at level ${level} there`);
      if (!(e & PTE.P)) {
        const flags = this.mode === 'pae' && level === 3 ? PTE.P : tableFlags;
        e = BigInt(this.newTable()) | flags;
        this.writeEntry(at, e);
      }
      table = Number(e & 0x000f_ffff_ffff_f000n);
    }
    let leaf = gpa | leafFlags | (leafLevel > 1 ? PTE.PS : 0n);
    // PSE-36: physical-address bits 39:32 of a 4 MiB page go in entry bits 20:13.
    if (size === MIB4) leaf = (gpa & 0xffc0_0000n) | ((gpa >> 32n) << 13n) | leafFlags | PTE.PS;
    this.writeEntry(table + this.index(gva, leafLevel) * this.entrySize, leaf);
  }

  /** Address of the entry for `gva` at `level`, following the tables built so far. */
  entryGpa(gva: bigint, level: number): number {
    let table = this.root;
    for (let l = this.top; l > level; l--) {
      const e = this.readEntry(table + this.index(gva, l) * this.entrySize);
      if (!(e & PTE.P)) throw new Error(`no table below level ${l} for ${hex(gva)}`);
      table = Number(e & (this.mode === 'legacy32' ? 0xffff_f000n : 0x000f_ffff_ffff_f000n));
    }
    return table + this.index(gva, level) * this.entrySize;
  }

  /** Rewrites the entry for `gva` at `level`. */
  update(gva: bigint, level: number, change: (entry: bigint) => bigint): void {
    const at = this.entryGpa(gva, level);
    this.writeEntry(at, change(this.readEntry(at)));
  }

  readEntry(at: number): bigint {
    const b = this.mem.read(at, this.entrySize);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return this.entrySize === 4 ? BigInt(dv.getUint32(0, true)) : dv.getBigUint64(0, true);
  }

  writeEntry(at: number, value: bigint): void {
    const b = new Uint8Array(this.entrySize);
    const dv = new DataView(b.buffer);
    if (this.entrySize === 4) dv.setUint32(0, Number(BigInt.asUintN(32, value)), true);
    else dv.setBigUint64(0, BigInt.asUintN(64, value), true);
    this.mem.write(at, b);
  }

  private newTable(): number {
    const page = this.allocPage();
    this.mem.write(page, new Uint8Array(KIB4));
    return page;
  }
}
