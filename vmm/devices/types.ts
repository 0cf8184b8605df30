// The device model's contracts. A device sees only offsets into its own port
// or MMIO range; the bus does the routing. Device state lives in a
// SharedArrayBuffer so that every vCPU thread (and the main thread, for input
// and for the VM view) sees one device, not a copy per thread.
//
// The PC platform adds three things to a device's world: interrupt lines
// (ctx.irq, routed by the bus to the interrupt controllers), the host clock
// (ctx.now, the same monotonic clock on every thread) with poll() for timers
// and for input that arrives from the host, and guest-physical memory for DMA.

import type { Gpa } from '../../common/address';

/** What devices report to the machine. Exhaustive: add a case, handle it everywhere. */
export type DeviceEvent =
  | { kind: 'serial-output'; device: string; bytes: Uint8Array }
  /** Bytes written to a debug console port (QEMU's isa-debugcon: 0x402 for SeaBIOS, 0xe9 for Bochs-style guests). */
  | { kind: 'debug-console'; device: string; bytes: Uint8Array }
  | { kind: 'debug-exit'; device: string; status: number }
  /** The guest asked for a system reset (0xFE to the i8042's command port, 0xCF9): `action` is what the spec says to do with it. */
  | { kind: 'reset'; device: string; action: ResetAction }
  /** The guest powered the machine off (ACPI: SLP_TYP = S5 with SLP_EN in PM1_CNT). */
  | { kind: 'poweroff'; device: string };

/** What a guest-requested reset does: restart the VM from its initial state, or end the run. */
export type ResetAction = 'reset' | 'exit';

/** Guest-physical memory as devices reach it (DMA). Both return false/undefined where nothing backs an address. */
export interface DeviceMemory {
  read(gpa: Gpa, len: number): Uint8Array | undefined;
  write(gpa: Gpa, data: Uint8Array): boolean;
}

export interface DeviceContext {
  emit(event: DeviceEvent): void;
  /**
   * Drives ISA interrupt line `line` (0-15) to `level`. The bus passes it to
   * the platform's interrupt controllers (the PIC pair, an I/O APIC); with
   * none, it is counted and dropped. Edge-triggered lines request on the
   * rising edge, so a device pulses with irq(n, true) then irq(n, false).
   */
  irq(line: number, level: boolean): void;
  /** The host's monotonic clock in milliseconds (fractional), the same on every thread (CLOCK_MONOTONIC). */
  now(): number;
  /** Guest-physical memory, for devices that do DMA (fw_cfg). */
  memory: DeviceMemory;
}

export interface PioHandler {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface MmioHandler {
  read(offset: number, size: number): bigint;
  write(offset: number, size: number, value: bigint): void;
}

/** An interrupt controller as the CPU sees it: the INTR line and the interrupt-acknowledge cycle. */
export interface IrqChip {
  /** Input from the bus: ISA line `line` is now at `level`. */
  setIrq(line: number, level: boolean): void;
  /** INTR is asserted: an unmasked request of higher priority than any in service is pending. */
  hasInterrupt(): boolean;
  /**
   * The CPU's interrupt acknowledge: the vector to deliver (the request moves
   * to in-service), or the controller's spurious vector when the request went away.
   */
  acknowledge(): number;
  /**
   * Whether a request could still reach the CPU: the guest programmed the
   * controller and left some line unmasked. When not, a vCPU halted with
   * interrupts on can never wake, and the run ends as halted.
   */
  canInterrupt(): boolean;
}

/** A device's state for the VM view: one line, a few named fields, and its interrupt count. */
export interface DeviceView {
  name: string;
  /** What the device is, e.g. "8254 PIT". */
  model: string;
  /** The guest has programmed or used it since the VM started. */
  active: boolean;
  /** Interrupts the device raised (rising edges on its lines). */
  interrupts: number;
  fields: ReadonlyArray<{ name: string; value: string }>;
}

export interface Device {
  readonly name: string;
  readonly pio?: ReadonlyArray<{ base: number; length: number; handler: PioHandler }>;
  readonly mmio?: ReadonlyArray<{ base: number; length: number; handler: MmioHandler }>;
  /**
   * Timers and host input: called (under the device lock) before a vCPU enters
   * the guest and when a deadline it returned has passed. Returns the time
   * (ctx.now() units) it next wants to be called at, or Infinity.
   */
  poll?(now: number): number;
  /** Set on interrupt controllers: the bus routes ctx.irq here, and the vCPU loop asks it for vectors. */
  readonly irqChip?: IrqChip;
  /** The device's state for the VM view (read from the shared state; callable on any thread). */
  inspect?(): DeviceView;
}

/** Serializable device configuration, built from the spec on the main thread. */
export type DeviceConfig =
  | { kind: 'uart16550'; name: string; port: number; /** ISA line (4 for COM1); none: polled only. */ irq?: number }
  | { kind: 'debug-exit'; name: string; port: number }
  | { kind: 'debugcon'; name: string; port: number }
  /** The 8259A master/slave pair: 0x20-0x21, 0xA0-0xA1, ELCR 0x4D0-0x4D1. */
  | { kind: 'pic'; name: string }
  /** The 8254 PIT at 0x40-0x43 (channel 0 on IRQ 0) and port 0x61 (channel 2 gate and output). */
  | { kind: 'pit'; name: string }
  /** MC146818 RTC and CMOS at 0x70-0x71, IRQ 8; the memory size in the standard bytes. */
  | { kind: 'cmos'; name: string; /** Guest RAM below 4 GiB, bytes. */ ramBelow4g: number; /** Guest RAM above 4 GiB, bytes. */ ramAbove4g: number; vcpus: number }
  /** The i8042 keyboard controller at 0x60/0x64: enough for A20, self-test and the reset pulse. */
  | { kind: 'i8042'; name: string; onReset: ResetAction }
  /** PCI configuration mechanism #1 (0xCF8/0xCFC) with an i440FX-style host bridge at 00:00.0. */
  | { kind: 'pci-host'; name: string }
  /** QEMU's fw_cfg: selector 0x510, data 0x511, DMA 0x514; `items` are built on the main thread. */
  | { kind: 'fw-cfg'; name: string; items: ReadonlyArray<FwCfgItem> }
  /** ACPI PM registers at PIIX4's ports: PM1 event 0x600, PM1 control 0x604, PM timer 0x608; the SCI on IRQ 9. */
  | { kind: 'acpi-pm'; name: string };

/** One fw_cfg item: a fixed key (FW_CFG_RAM_SIZE, ...) or a named file in the directory (key 0x20+). */
export type FwCfgItem = { key: number; data: Uint8Array } | { file: string; data: Uint8Array };

export interface DeviceFactory<C extends DeviceConfig> {
  /** Bytes of shared state the device needs. */
  stateBytes(config: C): number;
  create(config: C, state: SharedArrayBuffer, ctx: DeviceContext): Device;
}
