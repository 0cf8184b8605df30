// The defaults that depend on more than one key: the platform a boot format
// implies, and the serial line's IRQ on it. Shared by the builder, the checks
// and the docs so that they agree.

import type { ImageFormat, Parsed } from './types';

export type Platform = NonNullable<Parsed['platform']>;

/** Formats whose boot protocol fixes the CPU mode and whose guests expect a PC around them. */
export const PROTOCOL_FORMATS: readonly ImageFormat[] = ['linux', 'multiboot', 'firmware'];

export function isProtocolFormat(format: ImageFormat | undefined): format is 'linux' | 'multiboot' | 'firmware' {
  return format !== undefined && PROTOCOL_FORMATS.includes(format);
}

/** `platform` as written, else `pc` for linux, multiboot and firmware images, else `minimal`. */
export function platformOf(spec: { platform?: Platform; boot: { format?: ImageFormat } }): Platform {
  return spec.platform ?? (isProtocolFormat(spec.boot.format) ? 'pc' : 'minimal');
}

/** The serial UART's IRQ: as written, else 4 (COM1) on the pc platform, none on minimal. */
export function serialIrqOf(spec: { platform?: Platform; boot: { format?: ImageFormat }; devices: { serial: { irq?: number } | null } }): number | undefined {
  if (!spec.devices.serial) return undefined;
  return spec.devices.serial.irq ?? (platformOf(spec) === 'pc' ? 4 : undefined);
}
