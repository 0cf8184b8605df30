// Flat binaries: the file is copied as-is to the load address and entered at
// the load address unless the spec says otherwise.

import { gva } from '../../common/address';
import { ImageError, type Loader } from './types';

export const flatLoader: Loader = {
  format: 'flat',
  autoDetect: true,
  detect: () => true,
  load(bytes, opts) {
    if (opts.load === undefined) throw new ImageError('a flat image needs a load address (boot.load)');
    if (bytes.length === 0) throw new ImageError('the image file is empty');
    return {
      format: 'flat',
      entry: opts.entry ?? gva(opts.load),
      segments: [
        {
          gpa: opts.load,
          data: bytes,
          memSize: bytes.length,
          vaddr: gva(opts.load),
          flags: { read: true, write: true, exec: true },
        },
      ],
      symbols: [],
    };
  },
};
