// Device registry: a new device is one file plus one line here.

import { debugExit } from './debug-exit';
import type { Device, DeviceConfig, DeviceContext, DeviceFactory } from './types';
import { uart16550 } from './uart16550';

type Factories = { [K in DeviceConfig['kind']]: DeviceFactory<Extract<DeviceConfig, { kind: K }>> };

const FACTORIES: Factories = {
  uart16550,
  'debug-exit': debugExit,
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

export type { Device, DeviceConfig, DeviceContext, DeviceEvent } from './types';
export { uartEnqueue } from './uart16550';
