// QEMU's fw_cfg device on the PC's ports: selector 0x510, data 0x511, DMA
// address 0x514 (high half) / 0x518 (low half, which starts the transfer).
// SeaBIOS and Linux's qemu_fw_cfg driver read the machine's description from
// it. Register and DMA semantics follow QEMU's docs/specs/fw_cfg.rst.
//
// The item table is a pure function of the config, so every thread derives
// the same layout; the item bytes are copied once into the shared state (so a
// big item, a kernel image say, is held once for all vCPU threads), and the
// selector, offset and DMA address live there too.

import { gpa, hex, isGpa } from '../../common/address';
import { initOnce } from './init-once';
import type { Device, DeviceContext, DeviceFactory, DeviceView, FwCfgItem, PioHandler } from './types';

export const FW_CFG_SIGNATURE = 0x0000;
export const FW_CFG_ID = 0x0001;
export const FW_CFG_FILE_DIR = 0x0019;
export const FW_CFG_FILE_FIRST = 0x0020;
/** FW_CFG_ID bits: the traditional (selector/data) interface, and DMA. */
export const FW_CFG_VERSION = 0x01;
export const FW_CFG_VERSION_DMA = 0x02;
export const DMA_CTL_ERROR = 0x01;
export const DMA_CTL_READ = 0x02;
export const DMA_CTL_SKIP = 0x04;
export const DMA_CTL_SELECT = 0x08;
export const DMA_CTL_WRITE = 0x10;
/** Bit 14 of the selector asks for write access; writes are refused here, so it only masks off. */
const SELECTOR_WRITE = 0x4000;
/** Bytes a read of the DMA address register returns, in port order ("QEMU CFG", the big-endian 0x51454d5520434647). */
const DMA_SIGNATURE = new TextEncoder().encode('QEMU CFG');
export const FW_CFG_FILE_NAME_MAX = 56;
const DIR_ENTRY_BYTES = 64;

const PORT_BASE = 0x510;
const SELECTOR = 0x0; // 0x510
const DATA = 0x1; // 0x511
const DMA = 0x4; // 0x514-0x51b

type FwCfgConfig = { kind: 'fw-cfg'; name: string; items: ReadonlyArray<FwCfgItem> };

interface Layout {
  /** key -> where its bytes sit in the data region. */
  entries: Map<number, { start: number; length: number; label: string }>;
  /** The items' bytes in data-region order (used once, by the initialising instance). */
  blobs: Array<{ start: number; data: Uint8Array }>;
  dataBytes: number;
}

/** The device's items: signature, ID and file directory, the config's keyed items, then its files from key 0x20 in order. */
export function fwCfgLayout(items: ReadonlyArray<FwCfgItem>): Layout {
  const entries: Layout['entries'] = new Map();
  const blobs: Layout['blobs'] = [];
  let dataBytes = 0;
  const add = (key: number, data: Uint8Array, label: string) => {
    if (entries.has(key)) throw new Error(`fw_cfg: two items with key ${hex(key, 4)}`);
    entries.set(key, { start: dataBytes, length: data.length, label });
    blobs.push({ start: dataBytes, data });
    dataBytes += data.length;
  };
  const files = items.filter((i): i is { file: string; data: Uint8Array } => 'file' in i);
  const dir = new Uint8Array(4 + DIR_ENTRY_BYTES * files.length);
  const dv = new DataView(dir.buffer);
  dv.setUint32(0, files.length);
  files.forEach((f, i) => {
    const name = new TextEncoder().encode(f.file);
    if (name.length >= FW_CFG_FILE_NAME_MAX) throw new Error(`fw_cfg: file name longer than ${FW_CFG_FILE_NAME_MAX - 1} bytes: ${f.file}`);
    const at = 4 + i * DIR_ENTRY_BYTES;
    dv.setUint32(at, f.data.length);
    dv.setUint16(at + 4, FW_CFG_FILE_FIRST + i);
    dir.set(name, at + 8);
  });
  add(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'), 'signature');
  add(FW_CFG_ID, Uint8Array.of(FW_CFG_VERSION | FW_CFG_VERSION_DMA, 0, 0, 0), 'id');
  add(FW_CFG_FILE_DIR, dir, 'file directory');
  for (const i of items) if ('key' in i) add(i.key & ~SELECTOR_WRITE, i.data, hex(i.key, 4));
  files.forEach((f, i) => add(FW_CFG_FILE_FIRST + i, f.data, f.file));
  return { entries, blobs, dataBytes };
}

// Shared state: Int32 words, then the items' bytes.
const W_INIT = 0;
const W_SELECTOR = 1;
const W_OFFSET = 2;
const W_DMA_HIGH = 3;
const W_DMA_LOW = 4;
const W_ACTIVE = 5;
const W_DMA_TRANSFERS = 6;
const W_DMA_ERRORS = 7;
const WORDS = 8;
const DATA_OFFSET = WORDS * 4;

class FwCfg implements Device, PioHandler {
  readonly pio;
  private readonly w: Int32Array;
  private readonly data: Uint8Array;

  constructor(
    readonly name: string,
    private readonly layout: Layout,
    state: SharedArrayBuffer,
    private readonly ctx: DeviceContext,
  ) {
    this.w = new Int32Array(state, 0, WORDS);
    this.data = new Uint8Array(state, DATA_OFFSET, layout.dataBytes);
    this.pio = [{ base: PORT_BASE, length: 12, handler: this }];
  }

  private select(key: number): void {
    this.w[W_SELECTOR] = key & 0xffff & ~SELECTOR_WRITE;
    this.w[W_OFFSET] = 0;
  }

  /** The selected item's bytes from the current offset (empty past its end or for an unknown key). */
  private remaining(): Uint8Array {
    const e = this.layout.entries.get(this.w[W_SELECTOR]!);
    if (!e) return new Uint8Array(0);
    const off = Math.min(this.w[W_OFFSET]!, e.length);
    return this.data.subarray(e.start + off, e.start + e.length);
  }

  read(offset: number, size: number): number {
    let v = 0;
    if (offset === DATA) {
      // Successive bytes of the item, the first in the low byte (as a string of byte reads would see them).
      const rest = this.remaining();
      const n = Math.min(size, rest.length);
      for (let i = 0; i < n; i++) v |= rest[i]! << (8 * i);
      this.w[W_OFFSET] = this.w[W_OFFSET]! + n;
      return v >>> 0;
    }
    if (offset >= DMA && offset < DMA + 8) {
      for (let i = 0; i < size && offset - DMA + i < 8; i++) v |= DMA_SIGNATURE[offset - DMA + i]! << (8 * i);
      return v >>> 0;
    }
    return 0; // the selector is write-only
  }

  write(offset: number, size: number, value: number): void {
    this.w[W_ACTIVE] = 1;
    if (offset === SELECTOR) {
      this.select(value);
      return;
    }
    if (offset < DMA || offset >= DMA + 8) return; // data writes are ignored, as QEMU has since v2.4
    // The address register is big-endian: the port's first byte is the address's most significant.
    // Writing the high half starts a new address; writing the byte that ends the low half starts the transfer.
    if (offset === DMA) this.w[W_DMA_LOW] = 0;
    for (let i = 0; i < size && offset - DMA + i < 8; i++) {
      const at = offset - DMA + i;
      const word = at < 4 ? W_DMA_HIGH : W_DMA_LOW;
      const shift = 8 * (3 - (at % 4));
      const byte = (value >>> (8 * i)) & 0xff;
      this.w[word] = (this.w[word]! & ~(0xff << shift)) | (byte << shift);
    }
    if (offset + size >= DMA + 8) {
      const addr = BigInt(this.w[W_DMA_HIGH]! >>> 0) * 0x1_0000_0000n + BigInt(this.w[W_DMA_LOW]! >>> 0);
      this.w[W_DMA_HIGH] = 0;
      this.w[W_DMA_LOW] = 0;
      this.dma(addr);
    }
  }

  /** One DMA access: the structure at `addr` is { u32 control, u32 length, u64 address }, all big-endian. */
  private dma(addr: bigint): void {
    this.w[W_DMA_TRANSFERS]!++;
    if (!isGpa(addr) || !isGpa(addr + 16n)) {
      this.w[W_DMA_ERRORS]!++;
      return;
    }
    const at = gpa(addr);
    const mem = this.ctx.memory;
    const raw = mem.read(at, 16);
    if (!raw) {
      this.w[W_DMA_ERRORS]!++;
      return;
    }
    const dv = new DataView(raw.buffer, raw.byteOffset, 16);
    const control = dv.getUint32(0);
    const length = dv.getUint32(4);
    const target = dv.getBigUint64(8);
    let error = false;
    if (control & DMA_CTL_SELECT) this.select(control >>> 16);
    if (control & DMA_CTL_WRITE) error = true; // vmscope's items are read-only
    else if (control & (DMA_CTL_READ | DMA_CTL_SKIP)) {
      const rest = this.remaining();
      const n = Math.min(length, rest.length);
      if (control & DMA_CTL_READ) {
        // Past the item's end the guest's buffer is zero-filled, as QEMU does.
        const out = new Uint8Array(length);
        out.set(rest.subarray(0, n));
        if (!isGpa(target) || !isGpa(target + BigInt(length)) || !mem.write(gpa(target), out)) error = true;
      }
      if (!error) this.w[W_OFFSET] = this.w[W_OFFSET]! + n;
    }
    if (error) this.w[W_DMA_ERRORS]!++;
    const done = new Uint8Array(4);
    new DataView(done.buffer).setUint32(0, error ? DMA_CTL_ERROR : 0);
    mem.write(at, done);
  }

  inspect(): DeviceView {
    const key = this.w[W_SELECTOR]!;
    const e = this.layout.entries.get(key);
    return {
      name: this.name,
      model: 'QEMU fw_cfg',
      active: this.w[W_ACTIVE] === 1,
      interrupts: 0,
      fields: [
        { name: 'items', value: String(this.layout.entries.size) },
        { name: 'selected', value: `${hex(key, 4)}${e ? ` (${e.label}, ${e.length} bytes)` : ' (none)'}` },
        { name: 'offset', value: String(this.w[W_OFFSET]) },
        { name: 'DMA transfers', value: `${this.w[W_DMA_TRANSFERS]}${this.w[W_DMA_ERRORS] ? `, ${this.w[W_DMA_ERRORS]} failed` : ''}` },
      ],
    };
  }
}

export const fwCfg: DeviceFactory<FwCfgConfig> = {
  stateBytes: (config) => DATA_OFFSET + fwCfgLayout(config.items).dataBytes,
  create: (config, state, ctx) => {
    const layout = fwCfgLayout(config.items);
    const dev = new FwCfg(config.name, layout, state, ctx);
    initOnce(new Int32Array(state, 0, WORDS), W_INIT, () => {
      const bytes = new Uint8Array(state, DATA_OFFSET, layout.dataBytes);
      for (const b of layout.blobs) bytes.set(b.data, b.start);
    });
    // Only the initialising instance needs the copies; the others let theirs go.
    layout.blobs.length = 0;
    return dev;
  },
};
