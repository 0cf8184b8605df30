import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSpec } from '../vmspec/parse';
import type { VmSpec } from '../vmspec/types';
import { bzImage, romImage } from '../formats/boot-fixtures';
import { ACPI_TABLES_GPA } from './boot/acpi';
import { deviceConfigs, planMachine } from './builder';
import { BuildError } from './errors';
import { scratchDir } from '../test/scratch';

const dir = scratchDir('vmscope-builder-');
fs.writeFileSync(path.join(dir, 'bzImage'), bzImage(new Uint8Array(0x400)));
fs.writeFileSync(path.join(dir, 'bios.bin'), romImage(1 << 20));
fs.writeFileSync(path.join(dir, 'placeholder.map'), 'ffffffffffffffff B The real System.map is in the linux-image-6.1.0-18-cloud-amd64-dbg package\n');
fs.writeFileSync(path.join(dir, 'flat.bin'), new Uint8Array(0x100).fill(0x90));
fs.writeFileSync(path.join(dir, 'System.map'), 'ffffffff81000000 T _text\nffffffff81000200 T startup_64\n');

function spec(yaml: string): VmSpec {
  const r = parseSpec(yaml, path.join(dir, 'vm.vmspec'));
  assert.ok(r.spec, r.diagnostics.map((d) => d.message).join('; '));
  return r.spec;
}

test('deviceConfigs: the pc platform lists the PC devices with the memory size, the serial on IRQ 4, and debugcon when set', () => {
  const pc = deviceConfigs(spec('name: l\nmemory: 64MiB\nvcpus: 2\nboot: { image: bzImage, format: linux }\ndevices:\n  debugcon: { port: 0xe9 }\n  i8042: { on-reset: reset }\n'));
  const fw = pc.find((d) => d.kind === 'fw-cfg');
  assert.ok(fw && fw.kind === 'fw-cfg');
  const ram = fw.items.find((i) => 'key' in i && i.key === 0x03)!;
  assert.equal(new DataView(ram.data.buffer, ram.data.byteOffset).getBigUint64(0, true), 64n << 20n, 'FW_CFG_RAM_SIZE');
  const e820 = fw.items.find((i) => 'file' in i && i.file === 'etc/e820')!;
  assert.equal(e820.data.length % 20, 0);
  assert.deepEqual(pc.filter((d) => d.kind !== 'fw-cfg'), [
    { kind: 'pic', name: 'pic' },
    { kind: 'pit', name: 'pit' },
    { kind: 'cmos', name: 'cmos', ramBelow4g: 64 << 20, ramAbove4g: 0, vcpus: 2 },
    { kind: 'i8042', name: 'i8042', onReset: 'reset' },
    { kind: 'pci-host', name: 'pci-host' },
    { kind: 'acpi-pm', name: 'acpi-pm' },
    { kind: 'uart16550', name: 'serial', port: 0x3f8, irq: 4 },
    { kind: 'debug-exit', name: 'debug-exit', port: 0xf4 },
    { kind: 'debugcon', name: 'debugcon', port: 0xe9 },
  ]);
  const minimal = deviceConfigs(spec('name: l\nplatform: minimal\nboot: { image: bzImage, format: linux }\n'));
  assert.deepEqual(minimal.map((d) => d.kind), ['uart16550', 'debug-exit']);
  assert.equal(minimal.find((d) => d.kind === 'uart16550')!.irq, undefined, 'polled on minimal');
});

test('planMachine: a firmware ROM becomes a rom region below 4 GiB, clear of the KVM pages', () => {
  const plan = planMachine(spec('name: fw\nmemory: 2MiB\nboot: { image: bios.bin, format: firmware }\n'));
  assert.deepEqual(plan.layout.find((l) => l.name === 'firmware'), { name: 'firmware', kind: 'rom', gpa: 0xfff00000, size: 1 << 20 });
  assert.equal(plan.entry, 0xfffffff0n);
  assert.throws(() => planMachine(spec('name: fw\nmemory: 512KiB\nboot: { image: bios.bin, format: firmware }\n')), (e: unknown) => e instanceof BuildError && /copy below 1 MiB .* does not fit/.test(e.message));
});

test('planMachine: boot.symbols adds System.map symbols; a placeholder is a warning that names the -dbg package', () => {
  const plan = planMachine(spec('name: l\nmemory: 64MiB\nboot: { image: bzImage, format: linux, symbols: System.map }\n'));
  assert.equal(plan.image.symbols.find((s) => s.name === 'startup_64')?.value, 0xffffffff81000200n);
  const placeholder = planMachine(spec('name: l\nmemory: 64MiB\nboot: { image: bzImage, format: linux, symbols: placeholder.map }\n'));
  assert.match(placeholder.warnings.join(), /placeholder System\.map.*-dbg package/);
  assert.deepEqual(placeholder.image.symbols, []);
});

test('planMachine: a missing initrd or module is a build error naming the key', () => {
  assert.throws(() => planMachine(spec('name: l\nmemory: 64MiB\nboot: { image: bzImage, format: linux, initrd: nope.img }\n')), /initrd .*nope\.img does not exist/);
  assert.throws(() => planMachine(spec('name: m\nboot: { image: bzImage, format: linux, symbols: nope.map }\n')), /symbol file .*nope\.map does not exist/);
});

test('planMachine: pc guests get the ACPI tables at 0xF0000, Linux with the RSDP in boot_params; firmware and minimal guests do not', () => {
  const acpiOf = (p: ReturnType<typeof planMachine>) => p.image.segments.find((s) => s.role === 'acpi');
  const linux = planMachine(spec('name: l\nmemory: 64MiB\nboot: { image: bzImage, format: linux }\n'));
  const tables = acpiOf(linux);
  assert.ok(tables);
  assert.equal(tables.gpa, ACPI_TABLES_GPA);
  assert.equal(String.fromCharCode(...tables.data.subarray(0, 8)), 'RSD PTR ');
  const bp = linux.image.segments.find((s) => s.role === 'boot-info')!;
  assert.equal(new DataView(bp.data.buffer, bp.data.byteOffset).getBigUint64(0x070, true), BigInt(ACPI_TABLES_GPA), 'boot_params.acpi_rsdp_addr');

  const elfOnPc = planMachine(spec('name: f\nplatform: pc\nmemory: 4MiB\nboot: { image: flat.bin, format: flat, load: 0x100000, mode: long }\n'));
  assert.equal(acpiOf(elfOnPc)?.gpa, ACPI_TABLES_GPA, 'any format on the pc platform');
  assert.deepEqual(elfOnPc.warnings, []);

  assert.equal(acpiOf(planMachine(spec('name: f\nmemory: 4MiB\nboot: { image: flat.bin, format: flat, load: 0x100000, mode: long }\n'))), undefined, 'minimal platform');
  assert.equal(acpiOf(planMachine(spec('name: fw\nmemory: 2MiB\nboot: { image: bios.bin, format: firmware }\n'))), undefined, 'firmware builds its own');
  const noRsdp = planMachine(spec('name: l\nplatform: minimal\nmemory: 64MiB\nboot: { image: bzImage, format: linux }\n'));
  const bp2 = noRsdp.image.segments.find((s) => s.role === 'boot-info')!;
  assert.equal(new DataView(bp2.data.buffer, bp2.data.byteOffset).getBigUint64(0x070, true), 0n);
});

test('planMachine: a pc guest that loads itself where the ACPI tables go keeps its memory and is told there are no tables', () => {
  const plan = planMachine(spec('name: f\nplatform: pc\nmemory: 4MiB\nboot: { image: flat.bin, format: flat, load: 0xf0000, mode: real }\n'));
  assert.equal(plan.image.segments.find((s) => s.role === 'acpi'), undefined);
  assert.match(plan.warnings.join('\n'), /no ACPI tables: the image uses 0xf0000\.\.0xf0100/);
});
