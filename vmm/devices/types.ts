// The device model's contracts. A device sees only offsets into its own port
// or MMIO range; the bus does the routing. Device state lives in a
// SharedArrayBuffer so that every vCPU thread (and the main thread, for input)
// sees one device, not a copy per thread.

/** What devices report to the machine. Exhaustive: add a case, handle it everywhere. */
export type DeviceEvent =
  | { kind: 'serial-output'; device: string; bytes: Uint8Array }
  | { kind: 'debug-exit'; device: string; status: number };

export interface DeviceContext {
  emit(event: DeviceEvent): void;
}

export interface PioHandler {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface MmioHandler {
  read(offset: number, size: number): bigint;
  write(offset: number, size: number, value: bigint): void;
}

export interface Device {
  readonly name: string;
  readonly pio?: ReadonlyArray<{ base: number; length: number; handler: PioHandler }>;
  readonly mmio?: ReadonlyArray<{ base: number; length: number; handler: MmioHandler }>;
}

/** Serializable device configuration, built from the spec on the main thread. */
export type DeviceConfig =
  | { kind: 'uart16550'; name: string; port: number }
  | { kind: 'debug-exit'; name: string; port: number };

export interface DeviceFactory<C extends DeviceConfig> {
  /** Bytes of shared state the device needs. */
  stateBytes(config: C): number;
  create(config: C, state: SharedArrayBuffer, ctx: DeviceContext): Device;
}
