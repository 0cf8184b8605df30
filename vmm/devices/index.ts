// Device registry: a new device is one file plus one line here.

import { acpiPm } from './acpi-pm';
import { cmos } from './cmos';
import { debugExit } from './debug-exit';
import { debugcon } from './debugcon';
import { fwCfg } from './fw-cfg';
import { i8042 } from './i8042';
import { pciHost } from './pci-host';
import type { Device, DeviceConfig, DeviceContext, DeviceFactory } from './types';
import { uart16550 } from './uart16550';
import { pic } from './pic';
import { pit } from './pit';

type Factories = { [K in DeviceConfig['kind']]: DeviceFactory<Extract<DeviceConfig, { kind: K }>> };

const FACTORIES: Factories = {
  uart16550,
  'debug-exit': debugExit,
  pic,
  pit,
  debugcon,
  cmos,
  'fw-cfg': fwCfg,
  'pci-host': pciHost,
  i8042,
  'acpi-pm': acpiPm,
};

function factory<C extends DeviceConfig>(config: C): DeviceFactory<C> {
  return FACTORIES[config.kind] as unknown as DeviceFactory<C>;
}

export function deviceStateBytes(config: DeviceConfig): number {
  return factory(config).stateBytes(config);
}

export function createDevice(config: DeviceConfig, state: SharedArrayBuffer, ctx: DeviceContext): Device {
  return factory(config).create(config, state, ctx);
}

export type { Device, DeviceConfig, DeviceContext, DeviceEvent, DeviceMemory, DeviceView, IrqChip, ResetAction, FwCfgItem } from './types';
export { uartEnqueue } from './uart16550';
export { fwCfgItems } from './fw-cfg-items';
