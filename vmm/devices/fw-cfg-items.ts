// The fw_cfg items a PC machine offers its firmware: the RAM size, the CPU
// counts and the e820 memory map, in the encodings SeaBIOS reads (keys and
// layouts from QEMU's include/standard-headers/linux/qemu_fw_cfg.h and
// hw/i386: little-endian scalars, packed 20-byte e820 entries).

import type { FwCfgItem } from './types';

export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MAX_CPUS = 0x0f;
export const E820_FILE = 'etc/e820';
export const E820_ENTRY_BYTES = 20;

export interface FwCfgMachine {
  ramBelow4g: number;
  ramAbove4g: number;
  vcpus: number;
  e820: ReadonlyArray<{ addr: number; len: number; type: number }>;
}

function le(bytes: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer);
  if (bytes === 2) dv.setUint16(0, value, true);
  else dv.setBigUint64(0, BigInt(value), true);
  return out;
}

export function fwCfgItems(opts: FwCfgMachine): FwCfgItem[] {
  const e820 = new Uint8Array(E820_ENTRY_BYTES * opts.e820.length);
  const dv = new DataView(e820.buffer);
  opts.e820.forEach((e, i) => {
    const at = i * E820_ENTRY_BYTES;
    dv.setBigUint64(at, BigInt(e.addr), true);
    dv.setBigUint64(at + 8, BigInt(e.len), true);
    dv.setUint32(at + 16, e.type, true);
  });
  return [
    { key: FW_CFG_RAM_SIZE, data: le(8, opts.ramBelow4g + opts.ramAbove4g) },
    { key: FW_CFG_NB_CPUS, data: le(2, opts.vcpus) },
    { key: FW_CFG_MAX_CPUS, data: le(2, opts.vcpus) },
    { file: E820_FILE, data: e820 },
  ];
}
