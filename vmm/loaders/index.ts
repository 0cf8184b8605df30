// The loader registry: picks a loader by declared format or by content.

import { elfLoader } from './elf';
import { firmwareLoader } from './firmware';
import { flatLoader } from './flat';
import { linuxLoader } from './linux';
import { multibootLoader } from './multiboot';
import { ImageError, type LoadedImage, type LoadOptions, type Loader } from './types';

/** In detection order; flat, which accepts anything, last. */
export const LOADERS: readonly Loader[] = [elfLoader, linuxLoader, multibootLoader, firmwareLoader, flatLoader];

/** Formats whose load() checks the file itself and says precisely what is wrong. */
const SELF_CHECKING = new Set<LoadedImage['format']>(['multiboot', 'firmware', 'linux']);

/** Loads `bytes` as `format`, or as the first auto-detecting loader whose detect() accepts it (flat accepts anything). */
export function loadImage(bytes: Uint8Array, format: LoadedImage['format'] | undefined, opts: LoadOptions): LoadedImage {
  if (bytes.length === 0) throw new ImageError('the image is empty; build the guest again (did the build fail?)');
  const detected = () => LOADERS.find((l) => l.autoDetect && l.format !== 'flat' && l.detect(bytes));
  if (format) {
    const loader = LOADERS.find((l) => l.format === format);
    if (!loader) throw new ImageError(`unknown image format "${format}"`);
    const other = detected();
    if (format === 'flat' && other) {
      throw new ImageError(`the image is an ${other.format} file but boot.format says flat; use format: ${other.format}`);
    }
    if (!SELF_CHECKING.has(format) && !loader.detect(bytes)) {
      throw new ImageError(`the image is not ${format}${other ? ` (it looks like ${other.format})` : ''}; fix boot.format or the image`);
    }
    return loader.load(bytes, opts);
  }
  const loader = LOADERS.find((l) => l.autoDetect && l.detect(bytes))!;
  return loader.load(bytes, opts);
}

export { ImageError } from './types';
export type { LoadedImage, LoadSegment, ImageSymbol, EntryState, ImageRegion } from './types';
