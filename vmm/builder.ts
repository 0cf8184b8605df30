// The one place that assembles a machine from a spec: picks the backend (KVM
// or the emulator), lays out and maps guest memory, loads the image, creates
// vCPUs with CPUID and their initial state, and picks the devices. Everything it needs from the spec comes
// through vmspec/'s VmSpec; everything it produces is a Machine.

import * as path from 'node:path';
import type { VmSpec } from '../vmspec/types';
import { MAX_IMAGE_BYTES } from '../vmspec/image-checks';
import { readRegularFile } from '../common/read-file';
import { gpa, gva, hex, type Gva } from '../common/address';
import { BootArea, KVM_IDENTITY_MAP_ADDR, KVM_TSS_ADDR } from './boot/layout';
import { KVM_RESERVED, MAX_LOW_RAM_MIB, overlapsKvmReserved } from '../vmspec/kvm-reserved';
import { BootStateError, initialState, type EntryMode, type InitialState } from './boot/cpu-state';
import { e820Map } from './boot/e820';
import { acpiTables, ACPI_TABLES_GPA, type AcpiTables } from './boot/acpi';
import { dataSegment } from './loaders/boot-info';
import { fwCfgItems } from './devices/fw-cfg-items';
import { KvmCap } from './kvm/constants';
import { autoBackend, detectBackend, KVM_DEVICE, openKvm, type KvmSystem } from './kvm/system';
import { type CpuidEntry, type Sregs } from './registers';
import { Structs } from './kvm/structs';
import { loadNative, type KvmNative } from './kvm/native';
import { KvmMachine } from './kvm/machine';
import { EmuMachine } from './emu/machine';
import { loadUnicorn, UnicornUnavailable } from './emu/native';
import { ContextLayoutMismatch } from './emu/context';
import type { AccelChoice, BackendName } from './backend';
import { loadImage, ImageError, type LoadedImage, type LoadSegment } from './loaders';
import type { EntryRegs, LoadOptions, SegmentRole } from './loaders/types';
import { readSymbolFile, type SymbolFile } from './loaders/symbols';
import { platformOf, serialIrqOf } from '../vmspec/platform';
import { allocateGuestMemory, mapGuestMemory, releaseGuestMemory, type BackedKind, type GuestMemory } from './memory';
import type { DeviceConfig } from './devices';
import { BackendUnavailable, BuildError, KvmUnavailable } from './errors';
import { Machine, type MachineParts } from './machine';
import { VcpuState } from './vcpu-state';

export interface BuildOptions {
  /** The backend: overrides the spec's `accel` (the CLI's --accel, a launch configuration's `accel`). */
  accel?: AccelChoice;
  /** Path of the KVM device (default /dev/kvm). */
  kvmPath?: string;
  native?: KvmNative;
  /** Entries in each vCPU's exit trace ring (16 to 1,048,576; default 4,096). */
  traceCapacity?: number;
}

export interface MemoryLayoutEntry {
  name: string;
  kind: BackedKind | 'mmio';
  gpa: number;
  size: number;
}

/** CPUID.1:ECX bit 5: VMX. */
const CPUID_1_ECX_VMX = 1 << 5;

/** RAM at 0 plus the spec's regions, checked against KVM's private pages. Pure. */
export function memoryLayout(spec: Pick<VmSpec, 'memory' | 'regions'>): MemoryLayoutEntry[] {
  const entries: MemoryLayoutEntry[] = [{ name: 'ram', kind: 'ram', gpa: 0, size: spec.memory }];
  for (const r of spec.regions) entries.push({ name: r.name, kind: r.kind, gpa: r.gpa, size: r.size });
  // vmspec's semantic checks report this with a position (reserved-overlap); this is the backstop for specs built in code.
  for (const e of entries) {
    if (e.kind !== 'mmio' && overlapsKvmReserved(e.gpa, e.size)) {
      throw new BuildError(
        `${e.name} (${hex(e.gpa)}..${hex(e.gpa + e.size)}) overlaps the pages KVM reserves at ${hex(KVM_RESERVED.start)}..${hex(KVM_RESERVED.end)}`,
        e.name === 'ram' ? `use at most ${MAX_LOW_RAM_MIB}MiB of memory, and a ram region at 0x100000000 or above for more` : 'move the region',
      );
    }
  }
  return entries;
}

function readImage(spec: VmSpec): Uint8Array {
  return readBootFile(spec.boot.image, 'image', 'boot.image', 'build the guest first (e.g. make), or fix boot.image');
}

/**
 * Reads a file the spec names (image, initrd, module, symbols), failing with what is wrong and the key to fix.
 * Only regular files: a device such as /dev/zero or a FIFO would never end (common/read-file.ts).
 */
function readBootFile(file: string, what: string, key: string, missingFix: string): Uint8Array {
  const r = readRegularFile(file, MAX_IMAGE_BYTES, `a ${what}`);
  if (r.ok) return r.bytes;
  switch (r.code) {
    case 'ENOENT':
      throw new BuildError(`${what} ${file} does not exist`, missingFix);
    case 'EACCES':
    case 'EPERM':
      throw new BuildError(`${what} ${file} is not readable`, 'check its permissions');
    default:
      throw new BuildError(`${what} ${file} ${r.problem}`, `point ${key} at a regular file`);
  }
}

function resolveEntry(spec: VmSpec, image: LoadedImage): Gva {
  const e = spec.boot.entry;
  if (e === undefined || image.entryState) return image.entry;
  if (typeof e === 'bigint') return gva(e);
  const sym = image.symbols.find((s) => s.name === e);
  if (!sym) {
    const near = image.symbols
      .filter((s) => s.kind === 'func')
      .map((s) => s.name)
      .filter((n) => n.toLowerCase().includes(e.toLowerCase().replace(/^_+/, '')))
      .slice(0, 3);
    throw new BuildError(`entry symbol "${e}" is not in ${spec.boot.image}`, near.length ? `did you mean ${near.join(', ')}?` : 'use an address or a symbol the image defines');
  }
  return sym.value;
}

/** Checks that every segment lands in backed memory and clear of the boot area. Pure. */
export function checkPlacement(spec: VmSpec, image: LoadedImage, layout: readonly MemoryLayoutEntry[]): void {
  const mode = entryModeOf(spec, image);
  const bootEnd = mode === 'real' || mode === 'reset' ? 0 : BootArea.end;
  const what = (seg: LoadSegment) => `${ROLE_NAMES[seg.role ?? 'image']} ${hex(seg.gpa)}..${hex(seg.gpa + seg.memSize)}`;
  for (const seg of image.segments) {
    const end = seg.gpa + seg.memSize;
    const home = layout.find((l) => l.kind !== 'mmio' && seg.gpa >= l.gpa && end <= l.gpa + l.size);
    if (!home) {
      throw new BuildError(
        `${what(seg)} does not fit in guest memory (RAM is ${hex(0)}..${hex(spec.memory)})`,
        'raise memory, add a ram region, or relink the guest',
      );
    }
    if (seg.gpa < bootEnd && BootArea.gdt < end) {
      throw new BuildError(
        `${what(seg)} overlaps ${hex(BootArea.gdt)}..${hex(BootArea.end)}, where vmscope puts the GDT and page tables in ${mode} mode`,
        'link the guest above 0x7000 (1 MiB is usual)',
      );
    }
  }
  // What a protocol loader adds (boot information, modules, an initrd) must not land on the kernel or on each other.
  const segs = [...image.segments].sort((a, b) => a.gpa - b.gpa);
  for (let i = 1; i < segs.length; i++) {
    const a = segs[i - 1]!;
    const b = segs[i]!;
    if (b.gpa < a.gpa + a.memSize && (a.role ?? 'image') !== (b.role ?? 'image')) {
      throw new BuildError(`${what(b)} overlaps ${what(a)}`, 'link the kernel at 1 MiB or above, clear of vmscope\'s boot information at 0x8000..0x70000');
    }
  }
}

const ROLE_NAMES: Record<SegmentRole, string> = {
  image: 'image segment',
  'boot-info': 'boot information',
  cmdline: 'command line',
  initrd: 'initrd',
  module: 'module',
  'firmware-alias': 'the firmware\'s copy below 1 MiB',
  acpi: 'the ACPI tables',
};

/** The mode vCPUs start in: the boot protocol's for linux, multiboot and firmware images, else the spec's. */
export function entryModeOf(spec: VmSpec, image: LoadedImage): EntryMode {
  return image.entryState?.mode ?? spec.boot.mode;
}

function copyImage(image: LoadedImage, memory: GuestMemory): void {
  for (const seg of image.segments) {
    const dst = memory.view(seg.gpa, seg.memSize);
    dst.set(seg.data);
    dst.fill(0, seg.data.length);
  }
}

/** Everything about a machine that can be decided without KVM: layout, image, entry. */
export interface MachinePlan {
  layout: MemoryLayoutEntry[];
  image: LoadedImage;
  entry: Gva;
  warnings: string[];
}

/** What the spec gives a protocol loader besides the image: command line, initrd, modules and the memory map. */
function loadOptions(spec: VmSpec, layout: readonly MemoryLayoutEntry[], acpi: AcpiTables | undefined): LoadOptions {
  const opts: LoadOptions = { load: gpa(spec.boot.load), e820: e820Map(layout) };
  if (acpi && spec.boot.format === 'linux') opts.acpiRsdp = acpi.rsdp;
  if (spec.boot.cmdline !== undefined) opts.cmdline = spec.boot.cmdline;
  if (spec.boot.format === 'linux' && spec.boot.initrd !== undefined) {
    opts.initrd = readBootFile(spec.boot.initrd, 'initrd', 'boot.initrd', 'build the initrd first, or fix boot.initrd');
  }
  if (spec.boot.format === 'multiboot') {
    opts.modules = spec.boot.modules.map((m) => ({
      data: readBootFile(m.path, 'module', 'boot.modules', 'build the module first, or fix its path in boot.modules'),
      cmdline: m.cmdline ?? path.relative(spec.dir, m.path),
    }));
  }
  return opts;
}

/**
 * The ACPI tables (vmm/boot/acpi.ts) for the pc platform, whatever the boot
 * format but firmware, which brings its own (SeaBIOS builds them): in RAM
 * at 0xF0000, the part of the BIOS area e820 reports reserved. None when
 * RAM does not reach that far.
 */
export function acpiTablesFor(spec: VmSpec, layout: readonly MemoryLayoutEntry[]): AcpiTables | undefined {
  if (platformOf(spec) !== 'pc' || spec.boot.format === 'firmware') return undefined;
  const tables = acpiTables(ACPI_TABLES_GPA);
  const end = tables.gpa + tables.bytes.length;
  return layout.some((l) => l.kind === 'ram' && l.gpa <= tables.gpa && end <= l.gpa + l.size) ? tables : undefined;
}

/** Adds the ACPI tables to what is copied into the guest, unless the image itself uses that memory (a flat or ELF guest below 1 MiB). */
function placeAcpiTables(image: LoadedImage, tables: AcpiTables, warnings: string[]): void {
  if (image.format === 'firmware') return;
  const end = tables.gpa + tables.bytes.length;
  const clash = image.segments.find((s) => s.gpa < end && tables.gpa < s.gpa + s.memSize);
  if (clash) {
    warnings.push(`no ACPI tables: the image uses ${hex(clash.gpa)}..${hex(clash.gpa + clash.memSize)}, where the pc platform puts them (${hex(tables.gpa)}..${hex(end)})`);
    return;
  }
  image.segments.push(dataSegment(tables.gpa, tables.bytes, 'acpi'));
}

/** ROM and RAM the image brings (a firmware ROM), checked like the spec's regions against everything else. */
function withImageRegions(layout: MemoryLayoutEntry[], image: LoadedImage): MemoryLayoutEntry[] {
  const out = [...layout];
  for (const r of image.regions ?? []) {
    const clash = out.find((l) => r.gpa < l.gpa + l.size && l.gpa < r.gpa + r.size);
    if (clash) throw new BuildError(`the image's ${r.name} (${hex(r.gpa)}..${hex(r.gpa + r.size)}) overlaps ${clash.name} (${hex(clash.gpa)}..${hex(clash.gpa + clash.size)})`, 'move or remove that region');
    if (overlapsKvmReserved(r.gpa, r.size)) {
      throw new BuildError(`the image's ${r.name} (${hex(r.gpa)}..${hex(r.gpa + r.size)}) overlaps the pages KVM reserves at ${hex(KVM_RESERVED.start)}..${hex(KVM_RESERVED.end)}`, 'use a ROM of at most 16 MiB');
    }
    out.push({ name: r.name, kind: r.kind, gpa: r.gpa, size: r.size });
  }
  return out;
}

/** boot.symbols: symbols for an image that has none of its own (or more than it has). */
function attachSymbols(spec: VmSpec, image: LoadedImage, warnings: string[]): void {
  const file = spec.boot.symbols;
  if (file === undefined) return;
  let symbols: SymbolFile;
  try {
    symbols = readSymbolFile(readBootFile(file, 'symbol file', 'boot.symbols', 'fix boot.symbols, or remove it'));
  } catch (e) {
    if (e instanceof ImageError) throw new BuildError(`boot.symbols ${file}: ${e.message}`, 'point it at a System.map or an ELF vmlinux');
    throw e;
  }
  if (symbols.placeholder !== undefined) {
    warnings.push(`boot.symbols ${file} is a placeholder System.map ("${symbols.placeholder}"): no kernel symbols; install the -dbg package it names and use its System.map or vmlinux`);
    return;
  }
  const own = new Set(image.symbols.map((s) => s.name));
  image.symbols = [...image.symbols, ...symbols.symbols.filter((s) => !own.has(s.name))];
}

export function planMachine(spec: VmSpec): MachinePlan {
  const warnings: string[] = [];
  const baseLayout = memoryLayout(spec);
  const bytes = readImage(spec);
  const acpi = acpiTablesFor(spec, baseLayout);
  let image: LoadedImage;
  try {
    image = loadImage(bytes, spec.boot.format, loadOptions(spec, baseLayout, acpi));
  } catch (e) {
    if (e instanceof ImageError) throw new BuildError(`${spec.boot.image}: ${e.message}`);
    throw e;
  }
  const layout = withImageRegions(baseLayout, image);
  if (acpi) placeAcpiTables(image, acpi, warnings);
  if (!image.entryState) {
    if (image.bits === 64 && spec.boot.mode !== 'long') {
      warnings.push(`${spec.boot.image} is a 64-bit ELF but boot.mode is ${spec.boot.mode}; its entry code must be ${spec.boot.mode === 'real' ? '16' : '32'}-bit`);
    }
    if (image.bits === 32 && spec.boot.mode === 'long') {
      warnings.push(`${spec.boot.image} is a 32-bit ELF but boot.mode is long; the CPU will decode its code as 64-bit`);
    }
  }
  warnings.push(...(image.notes ?? []));
  attachSymbols(spec, image, warnings);
  checkPlacement(spec, image, layout);
  return { layout, image, entry: resolveEntry(spec, image), warnings };
}

function cpuidFor(sys: KvmSystem, structs: Structs): CpuidEntry[] {
  for (let n = 128; n <= 4096; n *= 2) {
    const buf = structs.allocCpuid(n);
    try {
      sys.native.getSupportedCpuid(sys.fd, buf);
      return structs.decodeCpuid(buf);
    } catch (e) {
      if ((e as { code?: string }).code !== 'E2BIG') throw e;
    }
  }
  throw new BuildError('KVM_GET_SUPPORTED_CPUID needs more than 4096 entries');
}

/** Per-vCPU CPUID: the host's supported set with this vCPU's APIC ID filled in. */
export function cpuidForVcpu(base: readonly CpuidEntry[], index: number): CpuidEntry[] {
  return base.map((e) => {
    // No local APIC (vmscope creates no in-kernel irqchip and emulates none): guests use the 8259A and the PIT.
    if (e.function === 1) return { ...e, ebx: ((e.ebx & 0x00ffffff) | (index << 24)) >>> 0, ecx: (e.ecx & ~((1 << 21) | (1 << 24))) >>> 0, edx: (e.edx & ~(1 << 9)) >>> 0 };
    if (e.function === 0xb || e.function === 0x1f) return { ...e, edx: index };
    return e;
  });
}

/**
 * The devices a spec asks for: on the pc platform the PC's own (PICs, PIT,
 * CMOS, i8042, PCI host bridge, ACPI PM registers) first, then the spec's. fw-cfg is added by
 * the caller that has the boot files at hand.
 */
export function deviceConfigs(spec: VmSpec): DeviceConfig[] {
  const out: DeviceConfig[] = [];
  if (platformOf(spec) === 'pc') {
    const ramBelow4g = Math.min(spec.memory, 2 ** 32) + spec.regions.filter((r) => r.kind === 'ram' && r.gpa < 2 ** 32).reduce((a, r) => a + r.size, 0);
    const ramAbove4g = Math.max(0, spec.memory - 2 ** 32) + spec.regions.filter((r) => r.kind === 'ram' && r.gpa >= 2 ** 32).reduce((a, r) => a + r.size, 0);
    out.push({ kind: 'pic', name: 'pic' });
    out.push({ kind: 'pit', name: 'pit' });
    out.push({ kind: 'cmos', name: 'cmos', ramBelow4g, ramAbove4g, vcpus: spec.vcpus });
    out.push({ kind: 'i8042', name: 'i8042', onReset: spec.devices.i8042.onReset });
    out.push({ kind: 'pci-host', name: 'pci-host' });
    out.push({ kind: 'acpi-pm', name: 'acpi-pm' });
    // What firmware asks fw_cfg for: RAM size, CPUs and the e820 map (SeaBIOS's etc/e820).
    const e820 = e820Map(memoryLayout(spec)).map((e) => ({ addr: e.addr, len: e.size, type: e.type }));
    out.push({ kind: 'fw-cfg', name: 'fw-cfg', items: fwCfgItems({ ramBelow4g, ramAbove4g, vcpus: spec.vcpus, e820 }) });
  }
  if (spec.devices.serial) {
    const irq = serialIrqOf(spec);
    out.push({ kind: 'uart16550', name: 'serial', port: spec.devices.serial.port, ...(irq !== undefined ? { irq } : {}) });
  }
  if (spec.devices.debugExit) out.push({ kind: 'debug-exit', name: 'debug-exit', port: spec.devices.debugExit.port });
  if (spec.devices.debugcon) out.push({ kind: 'debugcon', name: 'debugcon', port: spec.devices.debugcon.port });
  return out;
}

export interface BuildResult {
  machine: Machine;
  /** Things worth telling the user that do not stop the run. */
  warnings: string[];
  /** One line when `auto` chose emulation, saying why KVM was not used. */
  notice?: string;
}

/** Which backend runs the machine, and the one line that says why when `auto` fell back to emulation. */
export interface BackendChoice {
  name: BackendName;
  notice?: string;
}

/** Why KVM cannot be used here, shortly, for the one notice line of an `auto` fallback. */
/** The notice's reason: the problem without its fix (the fix is for someone who wants KVM; this run goes on under emulation). */
function kvmAbsence(problem: string): string {
  return problem.split('; ')[0]!;
}

/**
 * Picks the backend: `kvm` and `emu` as asked (failing with the fix when it
 * cannot be used), `auto` KVM where /dev/kvm is usable (and not PVM, where the
 * emulator is far faster), else the emulator.
 */
export function chooseBackend(accel: AccelChoice, kvmPath = KVM_DEVICE, native?: KvmNative): BackendChoice {
  const kvm = (): string | undefined => {
    try {
      openKvm(kvmPath, native).close();
      return undefined;
    } catch (e) {
      if (e instanceof KvmUnavailable) return e.message;
      throw e;
    }
  };
  const emu = (): string | undefined => {
    try {
      loadUnicorn();
      return undefined;
    } catch (e) {
      if (e instanceof UnicornUnavailable || e instanceof ContextLayoutMismatch) return e.message;
      throw e;
    }
  };
  switch (accel) {
    case 'kvm': {
      const why = kvm();
      if (why) throw new KvmUnavailable(why, 'or run under emulation: accel: emu (--accel emu)');
      return { name: 'kvm' };
    }
    case 'emu': {
      const why = emu();
      if (why) throw new BackendUnavailable(`the emulator cannot run: ${why}`);
      return { name: 'emu' };
    }
    case 'auto': {
      const kvmWhy = kvm();
      let emuWhy: string | undefined;
      const pick = autoBackend(kvmWhy === undefined, detectBackend().backend, () => (emuWhy = emu()) === undefined);
      switch (pick.name) {
        case 'kvm':
          return { name: 'kvm' };
        case 'emu':
          return { name: 'emu', notice: `${pick.avoidsKvm ?? kvmAbsence(kvmWhy ?? '')}; running under emulation` };
        case null:
          throw new BackendUnavailable(`no backend can run this VM: KVM: ${kvmWhy}; emulation: ${emuWhy}`);
      }
    }
  }
}

/** The entry state: the mode's (the protocol's, for linux, multiboot and firmware), with the registers the protocol sets. */
export function initialStateOf(spec: VmSpec, image: LoadedImage, entry: Gva, reset: Sregs, memory: Pick<GuestMemory, 'writeU64' | 'view'>): InitialState {
  const writer = {
    writeU64: (a: number, v: bigint) => memory.writeU64(gpa(a), v),
    fill: (a: number, len: number, v: number) => memory.view(gpa(a), len).fill(v),
  };
  try {
    const proto = image.entryState;
    const init = initialState(proto?.mode ?? spec.boot.mode, entry, reset, writer, proto?.gdt);
    for (const [reg, value] of Object.entries(proto?.regs ?? {})) init.regs[reg as keyof EntryRegs] = value;
    return init;
  } catch (e) {
    if (e instanceof BootStateError) throw new BuildError(e.message);
    throw e;
  }
}

function traceCapacity(opts: BuildOptions): number | undefined {
  return opts.traceCapacity !== undefined ? Math.min(Math.max(Math.floor(opts.traceCapacity), 16), 1 << 20) : undefined;
}

/** VMSCOPE_ACCEL=auto|kvm|emu: the backend for every run of this process and its children (tests, CI). */
function envAccel(): AccelChoice | undefined {
  const v = process.env.VMSCOPE_ACCEL;
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'kvm' || v === 'emu') return v;
  throw new BuildError(`VMSCOPE_ACCEL is "${v}"`, 'set it to auto, kvm or emu, or unset it');
}

export function buildMachine(spec: VmSpec, opts: BuildOptions = {}): BuildResult {
  const plan = planMachine(spec);
  const choice = chooseBackend(opts.accel ?? envAccel() ?? spec.accel, opts.kvmPath, opts.native);
  const result = choice.name === 'kvm' ? buildKvmMachine(spec, plan, opts) : buildEmuMachine(spec, plan, opts);
  if (choice.notice) result.notice = choice.notice;
  return result;
}

/** The emulation backend: guest memory in host mappings, one Unicorn engine per vCPU over it. */
function buildEmuMachine(spec: VmSpec, plan: MachinePlan, opts: BuildOptions): BuildResult {
  const { layout, image, entry, warnings } = plan;
  const native = loadNative();
  const backed = layout.filter((l): l is MemoryLayoutEntry & { kind: BackedKind } => l.kind !== 'mmio');
  const memory = mapGuestMemory(native, backed);
  let emu: EmuMachine | undefined;
  try {
    copyImage(image, memory);
    const mmioRegions = layout.filter((l) => l.kind === 'mmio');
    emu = new EmuMachine({ memory, mmioRegions, vcpus: spec.vcpus });
    if (spec.cpu.nested) warnings.push('cpu.nested: the emulator has no VMX, so the guest sees none; run on KVM with nested virtualization for that');
    for (let i = 0; i < spec.vcpus; i++) {
      const state = emu.vcpuState(i);
      const init = initialStateOf(spec, image, entry, state.getSregs(), memory);
      state.setSregs(init.sregs);
      state.setRegs(init.regs);
    }
    const parts: MachineParts = {
      spec,
      backend: emu,
      vcpuCount: spec.vcpus,
      memory,
      image,
      entry,
      devices: deviceConfigs(spec),
      mmioRegions,
      traceCapacity: traceCapacity(opts),
    };
    return { machine: new Machine(parts), warnings };
  } catch (e) {
    emu?.release();
    releaseGuestMemory(native, memory);
    throw e;
  }
}

function buildKvmMachine(spec: VmSpec, plan: MachinePlan, opts: BuildOptions): BuildResult {
  const { layout, image, entry, warnings } = plan;
  const sys = openKvm(opts.kvmPath, opts.native);
  const native = sys.native;
  const structs = new Structs(native.layout);
  const fds: number[] = [];
  let memory: GuestMemory | undefined;
  try {
    const vmFd = native.createVm(sys.fd, 0);
    fds.push(vmFd);
    if (native.checkExtension(sys.fd, KvmCap.SET_TSS_ADDR)) native.setTssAddr(vmFd, KVM_TSS_ADDR);
    if (native.checkExtension(sys.fd, KvmCap.SET_IDENTITY_MAP_ADDR)) native.setIdentityMapAddr(vmFd, BigInt(KVM_IDENTITY_MAP_ADDR));
    const backed = layout.filter((l): l is MemoryLayoutEntry & { kind: BackedKind } => l.kind !== 'mmio');
    memory = allocateGuestMemory(native, vmFd, structs, backed);
    copyImage(image, memory);

    const maxVcpus = native.checkExtension(sys.fd, KvmCap.MAX_VCPUS) || native.checkExtension(sys.fd, KvmCap.NR_VCPUS) || 4;
    if (spec.vcpus > maxVcpus) throw new BuildError(`the spec asks for ${spec.vcpus} vCPUs but this KVM allows ${maxVcpus}`);
    let cpuid = cpuidFor(sys, structs);
    if (spec.cpu.nested) {
      const leaf1 = cpuid.find((e) => e.function === 1);
      // KVM_GET_SUPPORTED_CPUID sets VMX only where nested virtualization works.
      if (leaf1 && leaf1.ecx & CPUID_1_ECX_VMX) cpuid = cpuid.map((e) => (e === leaf1 ? { ...e, ecx: (e.ecx | CPUID_1_ECX_VMX) >>> 0 } : e));
      else warnings.push('cpu.nested: this host\'s KVM does not offer VMX to guests (no nested virtualization), so the guest sees no VMX');
    } else {
      cpuid = cpuid.map((e) => (e.function === 1 ? { ...e, ecx: (e.ecx & ~CPUID_1_ECX_VMX) >>> 0 } : e));
    }
    const vcpuFds: number[] = [];
    for (let i = 0; i < spec.vcpus; i++) {
      const fd = native.createVcpu(vmFd, i);
      fds.push(fd);
      vcpuFds.push(fd);
      const state = new VcpuState(native, fd);
      state.setCpuid(cpuidForVcpu(cpuid, i));
      // Every vCPU starts at the entry point; without an in-kernel LAPIC
      // there is no INIT/SIPI, so the guest tells CPUs apart by APIC ID.
      const init = initialStateOf(spec, image, entry, state.getSregs(), memory);
      state.setSregs(init.sregs);
      state.setRegs(init.regs);
    }
    const parts: MachineParts = {
      spec,
      backend: new KvmMachine(sys, vmFd, vcpuFds, cpuidForVcpu(cpuid, 0)),
      vcpuCount: spec.vcpus,
      memory,
      image,
      entry,
      devices: deviceConfigs(spec),
      mmioRegions: layout.filter((l) => l.kind === 'mmio'),
      traceCapacity: traceCapacity(opts),
    };
    return { machine: new Machine(parts), warnings };
  } catch (e) {
    for (const fd of fds.reverse()) native.close(fd);
    if (memory) releaseGuestMemory(native, memory);
    sys.close();
    throw e;
  }
}
