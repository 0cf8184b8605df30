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
  /** A scalar in place of the mapping stands for `{ <shorthand>: scalar }` (a module given as just its path). */
  readonly shorthand?: string;
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
        'There is no PCI hole: extra `regions` must lie above RAM. At most `4079MiB`: RAM must end below the pages KVM reserves at ' +
        '`0xfeffc000`..`0xff000000`; put more in a `ram` region at `0x100000000` or above.',
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
          values: ['elf', 'flat', 'linux', 'multiboot', 'firmware'],
          valueDescriptions: {
            elf: 'ELF: `PT_LOAD` segments are loaded at their physical addresses (`p_paddr`); symbols can be named in `entry`.',
            flat: 'A raw binary copied byte for byte to `load`.',
            linux:
              'A Linux bzImage (x86 boot protocol 2.12 or later, 64-bit kernel): loaded at its preferred address, given boot_params with the e820 map, ' +
              '`cmdline` and `initrd`, and entered at its 64-bit entry in long mode with RSI = boot_params. Implies the `pc` platform.',
            multiboot:
              'A Multiboot 1 or Multiboot 2 kernel (the osdev.org kind): loaded by its ELF program headers or its header\'s address fields, ' +
              'entered in 32-bit protected mode with the magic in EAX and the info structure (memory map, `cmdline`, `modules`) in EBX. Implies the `pc` platform.',
            firmware:
              'A firmware ROM (a BIOS such as SeaBIOS, 64 KiB to 16 MiB, a power of two) mapped just below 4 GiB with its last 128 KiB copied below 1 MiB; ' +
              'the CPU starts at the reset vector `0xfffffff0` in real mode. Implies the `pc` platform.',
          },
          defaultText: 'Detected from the file: ELF if it starts with `\\x7fELF`, `linux` if it has the boot protocol\'s `HdrS` signature, flat otherwise. `multiboot` and `firmware` must be written.',
          description:
            'Image format. Omit it to detect ELF, Linux and flat images from the file. `linux`, `multiboot` and `firmware` follow their boot protocol, ' +
            'which fixes the CPU mode (so `mode`, `load` and `entry` do not apply). Example: `format: multiboot`.',
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
          description:
            'CPU mode vCPU 0 is put in before its first instruction. Default `long`. ' +
            'Ignored for `linux` (long mode), `multiboot` (protected mode) and `firmware` (real mode at the reset vector), whose protocols fix it.',
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
        cmdline: {
          type: 'string',
          description:
            'The kernel command line, for `linux` (placed where boot_params\' `cmd_line_ptr` points; at most the kernel\'s `cmdline_size`) ' +
            'and `multiboot` (the info structure\'s command line). Default: empty. Example: `cmdline: "console=ttyS0 earlyprintk=serial"`.',
        },
        initrd: {
          type: 'string',
          path: true,
          minLength: 1,
          description:
            'An initial RAM disk for a `linux` kernel (a cpio archive, optionally compressed), relative to this spec file. ' +
            'It is placed page-aligned as high in RAM as the kernel\'s `initrd_addr_max` allows, above the kernel. Example: `initrd: build/initramfs.cpio.gz`.',
        },
        modules: {
          type: 'array',
          description:
            'Multiboot modules, loaded page-aligned above the kernel in the order written and listed in the info structure. ' +
            'Each is a path (relative to this spec file) or `{ path, cmdline }`. Example: `modules: [ramdisk.img, { path: init.elf, cmdline: "init --verbose" }]`.',
          items: {
            type: 'object',
            shorthand: 'path',
            description: 'One Multiboot module: a path, or `{ path, cmdline }`.',
            properties: {
              path: {
                type: 'string',
                required: true,
                minLength: 1,
                path: true,
                description: 'The module file, relative to this spec file.',
              },
              cmdline: {
                type: 'string',
                defaultText: 'The path as written.',
                description: 'The string the kernel sees for this module (the `string` field of its module entry).',
              },
            },
          },
        },
        symbols: {
          type: 'string',
          path: true,
          minLength: 1,
          description:
            'Symbols for the debugger when the image has none of its own (a bzImage, a ROM): a `System.map` or an ELF file such as `vmlinux`, relative to this spec file. ' +
            'With it, function breakpoints and call stacks name kernel functions. Debian\'s packaged `System.map` is a placeholder: take the real one from the ' +
            '`linux-image-<version>-dbg` package, or use the `vmlinux` it ships. Example: `symbols: /usr/lib/debug/boot/vmlinux-6.1.0-18-cloud-amd64`.',
        },
      },
    },
    platform: {
      type: 'enum',
      values: ['pc', 'minimal'],
      valueDescriptions: {
        pc: 'A PC: the 8259A PICs, the 8254 PIT, CMOS/RTC with the memory size, the i8042 (for its reset line), PCI configuration space, fw_cfg, and the UART on IRQ 4.',
        minimal: 'Only the devices under `devices` (a polled UART and the exit port): what ELF and flat test guests need.',
      },
      defaultText: '`pc` when `boot.format` is `linux`, `multiboot` or `firmware`; `minimal` otherwise.',
      description:
        'Which machine the guest sees around the CPU. `pc` adds the legacy PC devices real kernels and firmware expect, ' +
        'and ACPI: PM registers at `0x600` (an OS powers off through them) and, for every format but `firmware`, ACPI tables at `0xf0000`; ' +
        '`minimal` keeps just the devices listed under `devices`. Example: `platform: minimal` to boot a Multiboot kernel that only prints on serial.',
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
          properties: {
            port: portSchema(0x3f8, 'UART (COM1 is `0x3f8`)'),
            irq: {
              type: 'integer',
              min: 0,
              max: 15,
              defaultText: '`4` (COM1\'s line) on the `pc` platform; none on `minimal`, where the UART is polled only.',
              description:
                'ISA interrupt line the UART raises (through the PIC) when it has received a byte or can take one to send, as Linux\'s 8250 driver expects. ' +
                'Example: `irq: 3` for a UART at COM2\'s `0x2f8`.',
            },
          },
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
        debugcon: {
          type: 'object',
          toggle: { default: false },
          ioPorts: 1,
          description:
            'A debug console port like QEMU\'s `isa-debugcon`: bytes the guest writes to it appear in the run\'s output, named as the debug console. ' +
            'Absent by default; `debugcon: true` puts it at `0x402`, where SeaBIOS prints; Bochs-style guests use `{ port: 0xe9 }`.',
          properties: { port: portSchema(0x402, 'debug console (`0x402` for SeaBIOS, `0xe9` for Bochs-style guests)') },
        },
        i8042: {
          type: 'object',
          description:
            'The PC keyboard controller (ports `0x60`/`0x64`) on the `pc` platform, present for the reset line that kernels pulse to reboot (`0xfe` to port `0x64`). ' +
            'Example: `i8042: { on-reset: reset }` to restart the guest instead of ending the run.',
          properties: {
            'on-reset': {
              type: 'enum',
              values: ['exit', 'reset'],
              default: 'exit',
              valueDescriptions: {
                exit: 'End the run, as `poweroff` would: what a debugging session usually wants from `reboot`.',
                reset: 'Restart the VM: a fresh machine from the same spec (the image reloaded, RAM and devices as at power-on, registers as at first entry), in `vmscope run` and in the debugger.',
              },
              description: 'What a reset pulse does: `exit` (default) ends the run, `reset` restarts the guest.',
            },
          },
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
