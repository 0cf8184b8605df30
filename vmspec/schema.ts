// The .vmspec schema as data: every key's type, default, limits and hover text.
// The parser, the VmSpec type (inferred below), hover and completion all read this; adding a key means adding it here.

import { hex } from '../common/address';
import { GPA_LIMIT, MiB, PAGE_SIZE } from './units';

interface BaseSchema {
  /** Markdown for a hypervisor developer; shown as hover text. The first sentence doubles as a completion summary. */
  readonly description: string;
  readonly required?: boolean;
  /** Markdown for a default that is not a constant (computed from other keys or from the image). */
  readonly defaultText?: string;
}

export interface StringSchema extends BaseSchema {
  readonly type: 'string';
  readonly default?: string;
  readonly minLength?: number;
  /** A file path, resolved against the spec file's directory; the parsed value is absolute. */
  readonly path?: boolean;
}

export interface IntegerSchema extends BaseSchema {
  readonly type: 'integer';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
  /** Print values in hex in messages and hovers (I/O ports, for instance). */
  readonly hex?: boolean;
}

/** Bytes: an integer or a string with a binary suffix (`16MiB`). Parsed to a number. */
export interface SizeSchema extends BaseSchema {
  readonly type: 'size';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
  /** The value must be a multiple of this. */
  readonly align?: number;
}

/**
 * An address. `bits: 52` is guest-physical (exact as a number, parsed to number); `bits: 64` may be
 * guest-virtual and is parsed to bigint. With `symbol`, a string that is not numeric is kept as a symbol name.
 */
export interface AddressSchema extends BaseSchema {
  readonly type: 'address';
  readonly bits: 52 | 64;
  readonly symbol?: boolean;
  readonly default?: number;
  /** A default chosen by the value of a sibling enum key, e.g. the load address by boot mode. */
  readonly defaultFrom?: { readonly key: string; readonly values: { readonly [value: string]: number } };
}

export interface EnumSchema extends BaseSchema {
  readonly type: 'enum';
  readonly values: readonly string[];
  /** Markdown per value, for completion items. */
  readonly valueDescriptions?: { readonly [value: string]: string };
  readonly default?: string;
}

export interface BooleanSchema extends BaseSchema {
  readonly type: 'boolean';
  readonly default?: boolean;
}

export interface ObjectSchema extends BaseSchema {
  readonly type: 'object';
  readonly properties: { readonly [key: string]: SchemaNode };
  /**
   * The key also accepts `true` (present with defaults) and `false`/null (absent: the parsed value is null).
   * `default` says which of the two an omitted key means.
   */
  readonly toggle?: { readonly default: boolean };
  /** For a device: how many consecutive I/O ports starting at its `port` it claims (checked for conflicts). */
  readonly ioPorts?: number;
}

export interface ArraySchema extends BaseSchema {
  readonly type: 'array';
  readonly items: SchemaNode;
  /** Items are objects whose value for this key must be unique. */
  readonly uniqueBy?: string;
}

export type SchemaNode =
  | StringSchema
  | IntegerSchema
  | SizeSchema
  | AddressSchema
  | EnumSchema
  | BooleanSchema
  | ObjectSchema
  | ArraySchema;

export type SchemaType = SchemaNode['type'];

/** Exit reasons a debug session can break on (names shared with the debug adapter's filters). */
export const EXIT_FILTER_NAMES = ['io', 'mmio', 'hlt', 'shutdown', 'fail-entry', 'internal-error', 'debug', 'system-event', 'rdmsr', 'wrmsr'] as const;

/** Where flat images go when `boot.load` is omitted; also used for hover text. */
export const DEFAULT_LOAD_ADDRESS = { real: 0x7c00, protected: 0x100000, long: 0x100000 } as const;

const portSchema = (defaultPort: number, what: string) =>
  ({
    type: 'integer',
    default: defaultPort,
    min: 0,
    max: 0xffff,
    hex: true,
    description: `First I/O port of the ${what}. Default \`${hex(defaultPort)}\`.`,
  }) as const satisfies IntegerSchema;

export const vmSpecSchema = {
  type: 'object',
  description: 'A vmscope VM spec: one x86-64 guest on KVM, its memory layout, boot image and devices.',
  properties: {
    name: {
      type: 'string',
      required: true,
      minLength: 1,
      description: 'Name of the VM, shown in the debugger, the CLI and log lines.',
    },
    memory: {
      type: 'size',
      default: 16 * MiB,
      min: PAGE_SIZE,
      max: GPA_LIMIT,
      align: PAGE_SIZE,
      description:
        'Guest RAM, one KVM memory slot at guest-physical address 0 covering `[0, memory)`.\n\n' +
        'Bytes as an integer, or a binary size such as `16MiB`, `512 KiB`, `1GiB` (`KiB`, `MiB`, `GiB`, `TiB`). ' +
        'SI-looking suffixes (`16M`, `16MB`) are rejected as ambiguous. ' +
        'Must be a multiple of 4 KiB (KVM memory slots are page-granular). Default `16MiB`. ' +
        'There is no PCI hole: extra `regions` must lie above RAM.',
    },
    vcpus: {
      type: 'integer',
      default: 1,
      min: 1,
      max: 255,
      description:
        'Number of vCPUs. vCPU 0 (the bootstrap processor) starts at `boot.entry`. ' +
        'At most 255 (8-bit xAPIC IDs). Default `1`.',
    },
    accel: {
      type: 'enum',
      values: ['auto', 'kvm', 'emu'],
      default: 'auto',
      valueDescriptions: {
        auto: 'KVM where `/dev/kvm` is usable, else the emulator (one line says why).',
        kvm: 'Hardware virtualization through `/dev/kvm`; the run fails if it cannot be used.',
        emu: 'The emulator (Unicorn, QEMU\'s CPU emulator as a library): no `/dev/kvm` needed; exact instruction counts, any number of breakpoints, real data watchpoints.',
      },
      description:
        'Which backend runs the guest: `auto` (default), `kvm` or `emu`. ' +
        'The CLI\'s `--accel` and a launch configuration\'s `accel` override it. See docs/backends.md.',
    },
    boot: {
      type: 'object',
      required: true,
      description: 'What to load into the guest and how vCPU 0 starts.',
      properties: {
        image: {
          type: 'string',
          required: true,
          minLength: 1,
          path: true,
          description:
            'The guest image to load, relative to the directory of this spec file. ' +
            'An ELF file is loaded by its `PT_LOAD` segments at their physical addresses; a flat binary is copied to `load`.',
        },
        format: {
          type: 'enum',
          values: ['elf', 'flat'],
          valueDescriptions: {
            elf: 'ELF: `PT_LOAD` segments are loaded at their physical addresses (`p_paddr`); symbols can be named in `entry`.',
            flat: 'A raw binary copied byte for byte to `load`.',
          },
          defaultText: 'Detected from the file: ELF if it starts with `\\x7fELF`, flat otherwise.',
          description: 'Image format. Omit it to detect the format from the file\'s magic number.',
        },
        mode: {
          type: 'enum',
          values: ['real', 'protected', 'long'],
          valueDescriptions: {
            real: '16-bit real mode, as after reset; the entry point must be below 1 MiB.',
            protected: '32-bit protected mode with flat segments and paging off; the entry point must be below 4 GiB.',
            long: '64-bit long mode (paging is mandatory there, so vmscope supplies the initial page tables); the entry point must be canonical.',
          },
          default: 'long',
          description: 'CPU mode vCPU 0 is put in before its first instruction. Default `long`.',
        },
        load: {
          type: 'address',
          bits: 52,
          defaultFrom: { key: 'mode', values: DEFAULT_LOAD_ADDRESS },
          defaultText: '`0x7c00` in `real` mode (where a BIOS puts a boot sector), `0x100000` (1 MiB) otherwise.',
          description:
            'Guest-physical address a **flat** image is copied to. Ignored for ELF images, which carry their own addresses. ' +
            'Must lie in RAM or in a `ram`/`rom` region.',
        },
        entry: {
          type: 'address',
          bits: 64,
          symbol: true,
          defaultText: 'The ELF header\'s `e_entry`, or `load` for a flat image.',
          description:
            'Where vCPU 0 starts: an address (`0x100000`, or a 64-bit virtual address such as `0xffffffff81000000`) ' +
            'or the name of an ELF symbol (`_start`). In `real` mode it must be below 1 MiB, in `protected` mode below 4 GiB, ' +
            'in `long` mode canonical.',
        },
      },
    },
    regions: {
      type: 'array',
      uniqueBy: 'name',
      description:
        'Extra guest-physical regions beyond RAM, for example MMIO windows or a ROM. ' +
        'They must not overlap RAM or each other; `ram` and `rom` regions must be 4 KiB aligned because each is a KVM memory slot.',
      items: {
        type: 'object',
        description: 'One guest-physical region.',
        properties: {
          name: {
            type: 'string',
            required: true,
            minLength: 1,
            description: 'Name of the region, unique in this spec; shown in exit traces and the memory view.',
          },
          gpa: {
            type: 'address',
            bits: 52,
            required: true,
            description: 'Guest-physical start address of the region.',
          },
          size: {
            type: 'size',
            required: true,
            min: 1,
            max: GPA_LIMIT,
            description: 'Length of the region in bytes, or a binary size such as `4KiB`.',
          },
          kind: {
            type: 'enum',
            values: ['ram', 'rom', 'mmio'],
            valueDescriptions: {
              ram: 'Read-write memory backed by the host: a KVM memory slot.',
              rom: 'Read-only memory: a KVM memory slot with `KVM_MEM_READONLY`; guest writes exit as MMIO.',
              mmio: 'No backing memory: every access exits to vmscope as `KVM_EXIT_MMIO` and shows in the exit trace.',
            },
            required: true,
            description:
              'What backs the region. Required, because mistaking an MMIO window for RAM silently changes what the guest sees.',
          },
        },
      },
    },
    devices: {
      type: 'object',
      description: 'Emulated legacy devices on the I/O port bus.',
      properties: {
        serial: {
          type: 'object',
          toggle: { default: true },
          ioPorts: 8,
          description:
            'A 16550 UART (8 ports) whose output goes to the debug console and the CLI. ' +
            'Present by default at `0x3f8` (COM1); `serial: false` removes it.',
          properties: { port: portSchema(0x3f8, 'UART (COM1 is `0x3f8`)') },
        },
        'debug-exit': {
          type: 'object',
          toggle: { default: true },
          ioPorts: 1,
          description:
            'An exit port like QEMU\'s `isa-debug-exit`: a guest `out` to it stops the VM and reports the value written. ' +
            'Present by default at `0xf4`; `debug-exit: false` removes it.',
          properties: { port: portSchema(0xf4, 'exit port') },
        },
      },
    },
    cpu: {
      type: 'object',
      description: 'What the vCPUs offer the guest beyond what KVM supports by default.',
      properties: {
        nested: {
          type: 'boolean',
          default: false,
          description:
            'Offer VMX to the guest (CPUID.1:ECX.VMX), so it can run its own hypervisor, and show its vmcs12 in the debugger. ' +
            'Needs a host KVM with nested virtualization (kvm_intel nested=1); elsewhere vmscope warns and the bit stays off. Default `false`.',
        },
      },
    },
    debug: {
      type: 'object',
      description: 'Defaults for debugging this VM in vmscope\'s debugger.',
      properties: {
        'break-on-exit': {
          type: 'array',
          description:
            'VM exits to break on from the start of a debug session, as if ticked in the Breakpoints view: ' +
            '`io`, `mmio`, `hlt`, `shutdown` (triple fault), `fail-entry`, `internal-error`, `debug`, `system-event`, `rdmsr`, `wrmsr`.',
          items: {
            type: 'enum',
            description: 'A VM exit reason.',
            values: EXIT_FILTER_NAMES,
            valueDescriptions: {
              io: 'Port I/O (`in`/`out`): KVM_EXIT_IO, VMX exit 30 (I/O instruction).',
              mmio: 'An access to guest-physical memory that no RAM backs: KVM_EXIT_MMIO, VMX exit 48 (EPT violation).',
              hlt: 'HLT with no interrupt controller in the kernel: KVM_EXIT_HLT, VMX exit 12.',
              shutdown: 'Triple fault: KVM_EXIT_SHUTDOWN, VMX exit 2.',
              'fail-entry': 'VM entry failed (invalid guest state): KVM_EXIT_FAIL_ENTRY, VMX exits 33/34 with bit 31 set.',
              'internal-error': 'KVM could not emulate or deliver something: KVM_EXIT_INTERNAL_ERROR (no single VMX exit).',
              debug: 'A #DB or #BP routed to the debugger: KVM_EXIT_DEBUG, VMX exit 0 (exception or NMI).',
              'system-event': 'Reset, shutdown or crash request: KVM_EXIT_SYSTEM_EVENT (no single VMX exit).',
              rdmsr: 'RDMSR, routed to vmscope through a KVM MSR filter: KVM_EXIT_X86_RDMSR, VMX exit 31. Needs KVM_CAP_X86_USER_SPACE_MSR.',
              wrmsr: 'WRMSR, routed likewise: KVM_EXIT_X86_WRMSR, VMX exit 32. Needs KVM_CAP_X86_USER_SPACE_MSR.',
            },
          },
        },
      },
    },
  },
} as const satisfies ObjectSchema;

/** The schema node for a key path (`['boot', 'entry']`, `['regions', 0, 'gpa']`), or undefined if no such key exists. */
export function schemaAt(path: readonly (string | number)[], root: SchemaNode = vmSpecSchema): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const step of path) {
    if (node === undefined) return undefined;
    if (node.type === 'array') {
      node = typeof step === 'number' ? node.items : undefined;
    } else if (node.type === 'object' && typeof step === 'string') {
      node = Object.prototype.hasOwnProperty.call(node.properties, step) ? node.properties[step] : undefined;
    } else {
      return undefined;
    }
  }
  return node;
}

/** YAML key to the property name in the parsed VmSpec: `debug-exit` → `debugExit`. */
export function propertyName(key: string): string {
  return key.replace(/-(.)/g, (_, c: string) => c.toUpperCase());
}

// ---- The parsed value type, inferred from the schema so that a new key needs no edit elsewhere. ----

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** Keys that always have a value after parsing: required, defaulted, or containers (which are always built). */
type AlwaysPresent<N> = N extends { required: true }
  ? true
  : N extends { default: unknown }
    ? true
    : N extends { defaultFrom: unknown }
      ? true
      : N extends { type: 'object' | 'array' }
        ? true
        : false;

type Flatten<T> = { -readonly [K in keyof T]: T[K] } & {};

type PropertiesValue<P> = Flatten<
  { -readonly [K in keyof P as AlwaysPresent<P[K]> extends true ? CamelCase<K & string> : never]: SchemaValue<P[K]> } & {
    -readonly [K in keyof P as AlwaysPresent<P[K]> extends true ? never : CamelCase<K & string>]?: SchemaValue<P[K]>;
  }
>;

/** The parsed value of a schema node. */
export type SchemaValue<N> = N extends { type: 'string' }
  ? string
  : N extends { type: 'integer' | 'size' }
    ? number
    : N extends { type: 'address'; symbol: true }
      ? bigint | string
      : N extends { type: 'address'; bits: 64 }
        ? bigint
        : N extends { type: 'address' }
          ? number
          : N extends { type: 'enum'; values: readonly (infer V)[] }
            ? V
            : N extends { type: 'boolean' }
              ? boolean
              : N extends { type: 'object'; properties: infer P; toggle: object }
                ? PropertiesValue<P> | null
                : N extends { type: 'object'; properties: infer P }
                  ? PropertiesValue<P>
                  : N extends { type: 'array'; items: infer I }
                    ? SchemaValue<I>[]
                    : never;
