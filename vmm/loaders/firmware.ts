// Firmware ROMs (a BIOS such as SeaBIOS, or a hand-written one): the image is
// mapped read-only just below 4 GiB, and its last 128 KiB (all of it when
// smaller) also appears just below 1 MiB, where a PC's chipset decodes the
// BIOS too. The CPU starts as after RESET, fetching at 0xFFFFFFF0.
//
// The low copy is a writable copy in RAM rather than a second read-only
// mapping of the ROM: SeaBIOS copies itself into that range and writes its
// data there after opening the i440FX PAM registers for writing, which
// vmscope does not model, so a RAM copy is what keeps it running.

import { gpa, gva, hex } from '../../common/address';
import { LOW_ALIAS_MAX, RESET_VECTOR, romSizeProblem } from '../../formats/firmware-rom';
import { dataSegment } from './boot-info';
import { ImageError, type Loader } from './types';

export { LOW_ALIAS_MAX, RESET_VECTOR, romSizeProblem } from '../../formats/firmware-rom';
const FOUR_GIB = 2 ** 32;
const ONE_MIB = 0x100000;

export const firmwareLoader: Loader = {
  format: 'firmware',
  // Any file could be a ROM; only a spec's `format: firmware` says it is one.
  autoDetect: false,
  detect: (bytes) => romSizeProblem(bytes.length) === undefined,
  load(bytes) {
    const problem = romSizeProblem(bytes.length);
    if (problem) throw new ImageError(`a firmware ROM must be a power of two from 64 KiB to 16 MiB; this one is ${problem}`);
    const base = FOUR_GIB - bytes.length;
    const aliasSize = Math.min(LOW_ALIAS_MAX, bytes.length);
    const alias = bytes.slice(bytes.length - aliasSize);
    return {
      format: 'firmware',
      bits: 16,
      entry: gva(RESET_VECTOR),
      segments: [
        { gpa: gpa(base), data: bytes, memSize: bytes.length, vaddr: gva(base), flags: { read: true, write: false, exec: true }, role: 'image' },
        dataSegment(ONE_MIB - aliasSize, alias, 'firmware-alias', true),
      ],
      regions: [{ name: 'firmware', kind: 'rom', gpa: gpa(base), size: bytes.length }],
      symbols: [],
      entryState: { mode: 'reset', regs: {} },
      summary: `firmware ROM of ${bytes.length / 1024} KiB at ${hex(base)}, its last ${aliasSize / 1024} KiB copied to ${hex(ONE_MIB - aliasSize)} (writable RAM)`,
    };
  },
};
