// Test scaffolding for device models: a bus with the devices under test, a
// recording interrupt controller, and a second instance of any device over the
// same shared state (as another vCPU thread would create it).

import { Bus, busContext, NO_MEMORY } from './bus';
import { createDevice, deviceStateBytes } from './index';
import type { Device, DeviceConfig, DeviceEvent, DeviceMemory, IrqChip } from './types';

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

export function testBus(configs: DeviceConfig[], memory: DeviceMemory = NO_MEMORY, shared?: Map<string, SharedArrayBuffer>): TestBus {
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
  };
  const bus = new Bus();
  bus.add({ name: 'fake-pic', irqChip: chip });
  const states = shared ?? new Map<string, SharedArrayBuffer>();
  const devices = new Map<string, Device>();
  for (const c of configs) {
    let s = states.get(c.name);
    if (!s) states.set(c.name, (s = new SharedArrayBuffer(Math.max(8, deviceStateBytes(c)))));
    const d = createDevice(structuredClone(c), s, busContext(bus, (e) => events.push(e), memory));
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
    twin: () => testBus(configs, memory, states),
  };
}
