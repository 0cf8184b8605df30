// The result of parsing a .vmspec: the VmSpec value (its shape inferred from schema.ts) and diagnostics.
// Positions are 0-based lines and UTF-16 columns, as in LSP, so the language server passes them through unchanged.

import type { SchemaValue, vmSpecSchema } from './schema';

/** What the schema walk produces for a valid spec, before the file and directory are added (VmSpec). */
export type Parsed = SchemaValue<typeof vmSpecSchema>;

/** A parsed value whose parts may be missing: what is valid of a spec with errors. */
export type Loose<T> = T extends bigint | string | number | boolean | null
  ? T | undefined
  : T extends readonly (infer I)[]
    ? Loose<I>[] | undefined
    : { [K in keyof T]?: Loose<T[K]> } | undefined;

export type BootMode = Parsed['boot']['mode'];
export type ImageFormat = NonNullable<Parsed['boot']['format']>;
export type SpecRegion = Parsed['regions'][number];
export type RegionKind = SpecRegion['kind'];

/**
 * A valid spec with every default filled in. Shape, from schema.ts:
 * `name`, `memory` (bytes), `vcpus`,
 * `boot: { image (absolute path), format?, mode, load (GPA; the mode's default when omitted), entry? (bigint address or symbol name) }`,
 * `regions: { name, gpa, size, kind }[]`, `devices: { serial: { port } | null, debugExit: { port } | null }`.
 */
export interface VmSpec extends Parsed {
  /** Absolute path of the spec file; '' when parsed from text that has no file. */
  file: string;
  /** Directory that relative paths in the spec were resolved against. */
  dir: string;
}

export interface SpecPosition {
  line: number;
  character: number;
}

export interface SpecRange {
  start: SpecPosition;
  end: SpecPosition;
}

/** Stable diagnostic codes, for quick fixes, tests and documentation. Adding a check means adding its code here. */
export const DIAGNOSTIC_CODES = {
  'yaml-syntax': 'The text is not valid YAML.',
  'duplicate-key': 'A key appears twice in the same mapping.',
  'yaml-warning': 'The YAML parser warned about something it accepted.',
  'unknown-key': 'A key the schema does not define (often a typo; the message suggests the closest key).',
  'wrong-type': 'A value of the wrong YAML type, e.g. a list where a mapping belongs.',
  'missing-key': 'A required key is absent or has no value.',
  'out-of-range': 'A number outside its allowed range.',
  'bad-size': 'A size that does not parse, or uses an ambiguous suffix such as MB.',
  'bad-address': 'An address that does not parse.',
  'unknown-value': 'A value not among the allowed choices of an enumerated key.',
  misaligned: 'A guest-physical address or size that is not a multiple of 4 KiB where KVM requires it.',
  'region-overlap': 'Two guest-physical regions (or a region and RAM) overlap.',
  'reserved-overlap': 'RAM, or a ram or rom region, covers the pages KVM reserves for itself at 0xfeffc000..0xff000000.',
  'duplicate-name': 'Two regions share a name.',
  'port-conflict': 'Two devices claim the same I/O port.',
  'load-outside-memory': 'A flat image load address that is in neither RAM nor a ram/rom region.',
  'symbol-needs-elf': 'A symbolic entry point with a flat image, which has no symbols.',
  'ignored-key': 'A key that has no effect with the rest of the spec (warning).',
  'unreadable-file': 'The spec file itself cannot be read (missing, a directory, a device or FIFO rather than a regular file).',
  'too-large': 'The spec is larger (over 256 KiB) or more deeply nested (over 64 levels) than any spec needs, so it is not checked further; or it has more problems than are shown (200; warning).',
} as const satisfies Record<string, string>;

/** Codes of the checks that read the boot image (vmspec/image-checks.ts). */
export const IMAGE_DIAGNOSTIC_CODES = {
  'image-missing': 'The boot image does not exist or cannot be read.',
  'image-format': 'The boot image is not the declared format, or is a broken ELF file.',
  'image-overlap': 'An image segment collides with a declared region.',
  'image-too-big': 'An image segment lies outside RAM and every ram/rom region.',
  'unknown-symbol': 'boot.entry names a symbol the ELF image does not have.',
  'entry-outside-image': 'The entry point lies outside every loaded segment.',
  'mode-mismatch': 'A 32-bit ELF in long mode, or a 64-bit ELF in real or protected mode (warning).',
  'multiboot-header': 'boot.format is multiboot, but the image has no valid Multiboot 1 or 2 header, or a broken one.',
  'multiboot-unsupported': 'The Multiboot header requires something vmscope cannot provide, named by flag bit or tag (error); or asks for it optionally (warning).',
  'bzimage-header': 'boot.format is linux, but the image is not a bzImage, its boot protocol is older than 2.12, or it has no 64-bit entry.',
  'rom-size': 'boot.format is firmware, but the ROM is not a power of two from 64 KiB to 16 MiB.',
  'boot-file-missing': 'boot.initrd, a boot.modules path or boot.symbols does not exist or cannot be read.',
  'initrd-too-big': 'The Linux kernel, with the room it needs to decompress, and its initrd do not fit in RAM (the initrd also below initrd_addr_max).',
  'symbols-placeholder': 'boot.symbols is a placeholder System.map such as Debian ships, with no symbols (warning with the fix).',
  'symbols-format': 'boot.symbols is neither an ELF file nor a System.map.',
} as const satisfies Record<string, string>;

/** Codes of the checks against the host (vmspec/host-checks.ts). */
export const HOST_DIAGNOSTIC_CODES = {
  'host-memory': 'memory above the host\'s RAM (error) or above half of it (warning).',
  'host-vcpus': 'More vCPUs than host CPUs, with the overcommit ratio (warning).',
  'host-kvm': 'Which backend can run the spec here: information when the emulator runs what KVM cannot, an error when the backend asked for (or every backend) cannot.',
  'beyond-phys-width': 'A region ends beyond the guest-physical address width (MAXPHYADDR) of this host.',
} as const satisfies Record<string, string>;

/** Codes of what only assembling the machine finds (`vmscope check` runs the builder's planning; cli/check.ts). */
export const BUILD_DIAGNOSTIC_CODES = {
  'image-load': 'The machine cannot be built around the image: a segment on the boot area vmscope writes, a protocol loader\'s limits.',
} as const satisfies Record<string, string>;

export type SpecDiagnosticCode =
  | keyof typeof DIAGNOSTIC_CODES
  | keyof typeof IMAGE_DIAGNOSTIC_CODES
  | keyof typeof HOST_DIAGNOSTIC_CODES
  | keyof typeof BUILD_DIAGNOSTIC_CODES;

export type SpecSeverity = 'error' | 'warning' | 'info';

export interface SpecDiagnostic {
  severity: SpecSeverity;
  code: SpecDiagnosticCode;
  message: string;
  range: SpecRange;
  /** Replacement text for `range` that fixes the problem (a corrected key or value), for a quick fix. */
  suggestion?: string;
  /** Other places involved, e.g. the region an overlapping region collides with. */
  related?: { message: string; range: SpecRange }[];
}

/** A key path: mapping keys as written in YAML (`debug-exit`), sequence indices as numbers. */
export type SpecPath = readonly (string | number)[];
