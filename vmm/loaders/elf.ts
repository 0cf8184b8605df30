// ELF images: PT_LOAD segments go to their physical addresses (p_paddr), the
// entry is e_entry, and symbols come from .symtab (formats/elf.ts reads the file).

import { gpa, gva } from '../../common/address';
import { EM_X86_64, ImageError, parseElf, isElf, PF_R, PF_W, PF_X, PT_LOAD } from '../../formats/elf';
import type { LoadSegment, Loader } from './types';

export const elfLoader: Loader = {
  format: 'elf',
  autoDetect: true,
  detect: isElf,
  load(bytes) {
    const elf = parseElf(bytes);
    if (elf.type !== 2 /* ET_EXEC */) {
      throw new ImageError(`ELF type ${elf.type} is not an executable (ET_EXEC); link the guest with -static -no-pie`);
    }
    const segments: LoadSegment[] = elf.programHeaders
      .filter((p) => p.type === PT_LOAD && p.memsz > 0)
      .map((p) => ({
        gpa: gpa(p.paddr),
        data: bytes.subarray(p.offset, p.offset + p.filesz),
        memSize: p.memsz,
        vaddr: gva(p.vaddr),
        flags: { read: (p.flags & PF_R) !== 0, write: (p.flags & PF_W) !== 0, exec: (p.flags & PF_X) !== 0 },
      }));
    if (segments.length === 0) throw new ImageError('the ELF file has no loadable (PT_LOAD) segments');
    return {
      format: 'elf',
      bits: elf.bits,
      machine: elf.machine === EM_X86_64 ? 'x86-64' : 'i386',
      entry: gva(elf.entry),
      segments,
      symbols: elf.symbols,
    };
  },
};
