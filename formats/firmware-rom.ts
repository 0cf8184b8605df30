// Firmware ROM images: the sizes vmscope maps below 4 GiB and where the CPU
// starts in one. Pure; shared by the firmware loader and the spec checks.

export const ROM_MIN = 64 * 1024;
export const ROM_MAX = 16 * 1024 * 1024;
export const LOW_ALIAS_MAX = 128 * 1024;
export const RESET_VECTOR = 0xfffffff0;

/** Why `size` is not a ROM size vmscope maps, or undefined when it is. */
export function romSizeProblem(size: number): string | undefined {
  if (size < ROM_MIN || size > ROM_MAX) return `${size} bytes, outside 64 KiB..16 MiB`;
  if ((size & (size - 1)) !== 0) return `${size} bytes, not a power of two`;
  return undefined;
}
