// PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2): the
// address register at 0xCF8 and the data window at 0xCFC-0xCFF, with the two
// functions a PC chipset shows on bus 0: an i440FX host bridge at 00:00.0 and
// a PIIX3 PCI-to-ISA bridge at 00:01.0 (IDs, classes and reset values from
// Intel's 82441FX and 82371SB datasheets, as QEMU's pc machine presents them).
// Every other bus/device/function reads as absent (all ones).
//
// PAM (0x59-0x5F) and SMRAM (0x72) are stored for the firmware to read back;
// they do not remap memory here.

import { hex } from '../../common/address';
import { initOnce } from './init-once';
import type { Device, DeviceFactory, DeviceView, PioHandler } from './types';

export const CONFIG_ADDRESS_ENABLE = 0x80000000;
const PCI_COMMAND = 0x04;
const PCI_STATUS = 0x06;
export const I440FX_PAM0 = 0x59;
export const I440FX_SMRAM = 0x72;
export const PIIX3_PIRQRC = 0x60;

interface PciFunction {
  devfn: number;
  label: string;
  /** Power-on values of the 256-byte configuration space. */
  reset: Map<number, number>;
  /** Bits the guest can write, per byte. */
  writable: Map<number, number>;
  /** Bits the guest clears by writing 1 (the status register's error bits), per byte. */
  clearable: Map<number, number>;
}

function fn(devfn: number, label: string, ids: { vendor: number; device: number; revision: number; classCode: number; header: number; command: number; status: number }): PciFunction {
  const reset = new Map<number, number>();
  const put = (at: number, bytes: number, v: number) => {
    for (let i = 0; i < bytes; i++) reset.set(at + i, (v >>> (8 * i)) & 0xff);
  };
  put(0x00, 2, ids.vendor);
  put(0x02, 2, ids.device);
  put(PCI_COMMAND, 2, ids.command);
  put(PCI_STATUS, 2, ids.status);
  put(0x08, 1, ids.revision);
  put(0x09, 3, ids.classCode);
  put(0x0e, 1, ids.header);
  const writable = new Map<number, number>([
    [PCI_COMMAND, 0x47], // I/O, memory, bus master, parity error response
    [PCI_COMMAND + 1, 0x01], // SERR# enable
    [0x0d, 0xff], // latency timer
  ]);
  const clearable = new Map<number, number>([[PCI_STATUS + 1, 0xf9]]);
  return { devfn, label, reset, writable, clearable };
}

const HOST_BRIDGE = (() => {
  const f = fn(0x00, 'i440FX host bridge', { vendor: 0x8086, device: 0x1237, revision: 0x02, classCode: 0x060000, header: 0x00, command: 0x0006, status: 0x0280 });
  for (let r = I440FX_PAM0; r <= I440FX_PAM0 + 6; r++) f.writable.set(r, 0xff);
  f.writable.set(I440FX_SMRAM, 0xff);
  f.reset.set(I440FX_SMRAM, 0x02); // the 82441FX's reset value: compatible SMRAM at A0000
  return f;
})();

const ISA_BRIDGE = (() => {
  const f = fn(0x08, 'PIIX3 ISA bridge', { vendor: 0x8086, device: 0x7000, revision: 0x00, classCode: 0x060100, header: 0x80, command: 0x0007, status: 0x0200 });
  // The chipset registers (PIRQ routing, top of memory, ...) are plain bytes to the firmware that programs them.
  for (let r = 0x40; r < 0x100; r++) f.writable.set(r, 0xff);
  for (let r = PIIX3_PIRQRC; r < PIIX3_PIRQRC + 4; r++) f.reset.set(r, 0x80); // PIRQA-D routed nowhere
  f.reset.set(0x69, 0x02); // top of memory
  f.reset.set(0x4e, 0x03); // X-bus chip select
  return f;
})();

const FUNCTIONS: ReadonlyArray<PciFunction> = [HOST_BRIDGE, ISA_BRIDGE];

// Shared state: Int32 words, then 256 bytes of configuration space per function.
const W_INIT = 0;
const W_ADDRESS = 1;
const W_PLAIN = 2; // what byte/word accesses to 0xCF8-0xCFB read back
const W_ACTIVE = 3;
const WORDS = 4;
const SPACE = 256;

class PciHost implements Device {
  readonly pio;
  private readonly w: Int32Array;
  private readonly spaces: Uint8Array[];

  constructor(
    readonly name: string,
    state: SharedArrayBuffer,
  ) {
    this.w = new Int32Array(state, 0, WORDS);
    this.spaces = FUNCTIONS.map((_, i) => new Uint8Array(state, WORDS * 4 + i * SPACE, SPACE));
    const address: PioHandler = { read: (o, s) => this.addressRead(o, s), write: (o, s, v) => this.addressWrite(o, s, v) };
    const data: PioHandler = { read: (o, s) => this.dataRead(o, s), write: (o, s, v) => this.dataWrite(o, s, v) };
    this.pio = [
      { base: 0xcf8, length: 4, handler: address },
      { base: 0xcfc, length: 4, handler: data },
    ];
  }

  private addressRead(offset: number, size: number): number {
    if (offset === 0 && size === 4) return this.w[W_ADDRESS]! >>> 0;
    return (this.w[W_PLAIN]! >>> (8 * offset)) & (size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1);
  }

  private addressWrite(offset: number, size: number, value: number): void {
    this.w[W_ACTIVE] = 1;
    if (offset === 0 && size === 4) {
      // The two low bits are reserved in mechanism #1's address and read back as 0.
      this.w[W_ADDRESS] = value & ~3;
      return;
    }
    for (let i = 0; i < size && offset + i < 4; i++) {
      const shift = 8 * (offset + i);
      this.w[W_PLAIN] = (this.w[W_PLAIN]! & ~(0xff << shift)) | (((value >>> (8 * i)) & 0xff) << shift);
    }
  }

  /** The addressed function's index and the byte offset of this access into its space, or undefined (nothing answers). */
  private target(offset: number): { index: number; reg: number } | undefined {
    const a = this.w[W_ADDRESS]! >>> 0;
    if (!(a & CONFIG_ADDRESS_ENABLE) || (a >>> 16) & 0xff) return undefined;
    const devfn = (a >>> 8) & 0xff;
    const index = FUNCTIONS.findIndex((f) => f.devfn === devfn);
    return index < 0 ? undefined : { index, reg: (a & 0xfc) + offset };
  }

  private dataRead(offset: number, size: number): number {
    const t = this.target(offset);
    if (!t) return size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const space = this.spaces[t.index]!;
    let v = 0;
    for (let i = 0; i < size && t.reg + i < SPACE; i++) v |= space[t.reg + i]! << (8 * i);
    return v >>> 0;
  }

  private dataWrite(offset: number, size: number, value: number): void {
    this.w[W_ACTIVE] = 1;
    const t = this.target(offset);
    if (!t) return;
    const f = FUNCTIONS[t.index]!;
    const space = this.spaces[t.index]!;
    for (let i = 0; i < size && t.reg + i < SPACE; i++) {
      const reg = t.reg + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const wmask = f.writable.get(reg) ?? 0;
      const cmask = f.clearable.get(reg) ?? 0;
      space[reg] = ((space[reg]! & ~wmask) | (byte & wmask)) & ~(byte & cmask);
    }
  }

  inspect(): DeviceView {
    const a = this.w[W_ADDRESS]! >>> 0;
    const host = this.spaces[0]!;
    const isa = this.spaces[1]!;
    const bytes = (s: Uint8Array, from: number, n: number) => [...s.subarray(from, from + n)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    return {
      name: this.name,
      model: 'PCI host (i440FX + PIIX3, mechanism #1)',
      active: this.w[W_ACTIVE] === 1,
      interrupts: 0,
      fields: [
        {
          name: 'address',
          value: a & CONFIG_ADDRESS_ENABLE ? `${hex((a >>> 16) & 0xff, 2)}:${((a >>> 11) & 0x1f).toString(16).padStart(2, '0')}.${(a >>> 8) & 7} reg ${hex(a & 0xfc, 2)}` : 'disabled',
        },
        { name: 'functions', value: FUNCTIONS.map((f) => `00:${(f.devfn >> 3).toString(16).padStart(2, '0')}.${f.devfn & 7} ${f.label}`).join(', ') },
        { name: 'PAM0-6', value: bytes(host, I440FX_PAM0, 7) },
        { name: 'SMRAM', value: hex(host[I440FX_SMRAM]!, 2) },
        { name: 'PIRQA-D', value: bytes(isa, PIIX3_PIRQRC, 4) },
      ],
    };
  }
}

export const pciHost: DeviceFactory<{ kind: 'pci-host'; name: string }> = {
  stateBytes: () => WORDS * 4 + FUNCTIONS.length * SPACE,
  create: (config, state) => {
    initOnce(new Int32Array(state, 0, WORDS), W_INIT, () => {
      FUNCTIONS.forEach((f, i) => {
        const space = new Uint8Array(state, WORDS * 4 + i * SPACE, SPACE);
        for (const [at, v] of f.reset) space[at] = v;
      });
    });
    return new PciHost(config.name, state);
  },
};
