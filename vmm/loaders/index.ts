// The loader registry: picks a loader by declared format or by content.

import { elfLoader } from './elf';
import { flatLoader } from './flat';
import { ImageError, type LoadedImage, type LoadOptions, type Loader } from './types';

export const LOADERS: readonly Loader[] = [elfLoader, flatLoader];

/** Loads `bytes` as `format`, or as the first loader whose detect() accepts it (flat accepts anything). */
export function loadImage(bytes: Uint8Array, format: LoadedImage['format'] | undefined, opts: LoadOptions): LoadedImage {
  if (format) {
    const loader = LOADERS.find((l) => l.format === format);
    if (!loader) throw new ImageError(`unknown image format "${format}"`);
    const other = LOADERS.find((l) => l !== loader && l.format !== 'flat' && l.detect(bytes));
    if (format === 'flat' && other) {
      throw new ImageError(`the image is an ${other.format} file but boot.format says flat; use format: ${other.format}`);
    }
    if (!loader.detect(bytes)) {
      const actual = LOADERS.find((l) => l.format !== 'flat' && l.detect(bytes));
      throw new ImageError(
        `the image is not ${format}${actual ? ` (it looks like ${actual.format})` : ''}; fix boot.format or the image`,
      );
    }
    return loader.load(bytes, opts);
  }
  const loader = LOADERS.find((l) => l.detect(bytes))!;
  return loader.load(bytes, opts);
}

export { ImageError } from './types';
export type { LoadedImage, LoadSegment, ImageSymbol } from './types';
