// Test scaffolding for device models: a bus with the devices under test, a
// recording interrupt controller, and a second instance of any device over the
// same shared state (as another vCPU thread would create it).

import { Bus, busContext, NO_MEMORY } from './bus';
import { createDevice, deviceStateBytes } from './index';
import type { Device, DeviceConfig, DeviceContext, DeviceEvent, DeviceMemory, IrqChip } from './types';

export interface TestBus {
  bus: Bus;
  events: DeviceEvent[];
  states: Map<string, SharedArrayBuffer>;
  devices: Map<string, Device>;
  /** Current level of each ISA line as the fake controller saw it. */
  lines: Map<number, boolean>;
  /** Every setIrq call, in order. */
  irqLog: Array<[line: number, level: boolean]>;
  /** Rising edges seen on `line`. */
  rises(line: number): number;
  /** A second bus with its own instance of every device over the same shared state (another thread's view). */
  twin(): TestBus;
}

export interface TestBusOptions {
  /** DMA memory (default: none). */
  memory?: DeviceMemory;
  /** The host clock the devices see (default: the real one). */
  now?: () => number;
  /** Creates a device in place of the registry (a factory with a fake wall clock, say). */
  create?: (config: DeviceConfig, state: SharedArrayBuffer, ctx: DeviceContext) => Device;
}

export function testBus(configs: DeviceConfig[], options: TestBusOptions = {}, shared?: Map<string, SharedArrayBuffer>): TestBus {
  const memory = options.memory ?? NO_MEMORY;
  const events: DeviceEvent[] = [];
  const lines = new Map<number, boolean>();
  const irqLog: Array<[number, boolean]> = [];
  const chip: IrqChip = {
    setIrq: (line, level) => {
      irqLog.push([line, level]);
      lines.set(line, level);
    },
    hasInterrupt: () => [...lines.values()].some((l) => l),
    acknowledge: () => 0xff,
    canInterrupt: () => true,
  };
  const bus = new Bus();
  bus.add({ name: 'fake-pic', irqChip: chip });
  const states = shared ?? new Map<string, SharedArrayBuffer>();
  const devices = new Map<string, Device>();
  for (const c of configs) {
    let s = states.get(c.name);
    if (!s) states.set(c.name, (s = new SharedArrayBuffer(Math.max(8, deviceStateBytes(c)))));
    const ctx = busContext(bus, (e) => events.push(e), memory);
    if (options.now) ctx.now = options.now;
    const d = (options.create ?? createDevice)(structuredClone(c), s, ctx);
    devices.set(c.name, d);
    bus.add(d);
  }
  return {
    bus,
    events,
    states,
    devices,
    lines,
    irqLog,
    rises: (line) => irqLog.filter(([l, v], i) => l === line && v && !irqLog.slice(0, i).reverse().find(([l2]) => l2 === line)?.[1]).length,
    twin: () => testBus(configs, options, states),
  };
}
