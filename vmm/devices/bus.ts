// The port-I/O and MMIO bus: routes an access to the device that claims the
// address, with an offset into that device's range. Accesses nobody claims
// are answered like a floating bus (all ones on read, writes dropped) and
// recorded, so the user learns about them without the guest dying.

import { hex } from '../../common/address';
import type { Device, DeviceContext, DeviceEvent, DeviceMemory, DeviceView, IrqChip, MmioHandler, PioHandler } from './types';

export interface UnclaimedAccess {
  space: 'pio' | 'mmio';
  addr: number;
  reads: number;
  writes: number;
  size: number;
  lastValue: number;
  /** For MMIO: the declared region the address falls in, if any (e.g. an mmio region with no device). */
  region?: string;
}

export class BusConflict extends Error {}

export class Bus {
  /** Port -> index+1 into pioHandlers (0: unclaimed). */
  private readonly portMap = new Uint16Array(0x10000);
  private readonly pioHandlers: Array<{ base: number; handler: PioHandler; device: string; polled: boolean }> = [];
  private readonly mmioRanges: Array<{ base: number; end: number; handler: MmioHandler; device: string; polled: boolean }> = [];
  /** A write reached a device with timers (poll): its next deadline may have moved. Cleared by poll(). */
  timersChanged = false;
  private readonly unclaimed = { pio: new Map<number, UnclaimedAccess>(), mmio: new Map<number, UnclaimedAccess>() };
  private readonly devices: Device[] = [];
  private readonly chips: IrqChip[] = [];
  private readonly pollers: Device[] = [];

  constructor(private readonly mmioRegionName: (gpa: number) => string | undefined = () => undefined) {}

  add(device: Device): void {
    this.devices.push(device);
    if (device.irqChip) this.chips.push(device.irqChip);
    if (device.poll) this.pollers.push(device);
    for (const r of device.pio ?? []) {
      if (r.base < 0 || r.base + r.length > 0x10000) throw new BusConflict(`${device.name}: ports ${hex(r.base)}+${r.length} out of range`);
      this.pioHandlers.push({ base: r.base, handler: r.handler, device: device.name, polled: device.poll !== undefined });
      for (let p = r.base; p < r.base + r.length; p++) {
        if (this.portMap[p]) {
          const other = this.pioHandlers[this.portMap[p]! - 1]!.device;
          throw new BusConflict(`${device.name} and ${other} both claim port ${hex(p)}`);
        }
        this.portMap[p] = this.pioHandlers.length;
      }
    }
    for (const r of device.mmio ?? []) {
      const end = r.base + r.length;
      const clash = this.mmioRanges.find((m) => r.base < m.end && m.base < end);
      if (clash) throw new BusConflict(`${device.name} and ${clash.device} both claim MMIO at ${hex(Math.max(r.base, clash.base))}`);
      this.mmioRanges.push({ base: r.base, end, handler: r.handler, device: device.name, polled: device.poll !== undefined });
    }
  }

  pioRead(port: number, size: number): number {
    const i = this.portMap[port]!;
    if (i) {
      const h = this.pioHandlers[i - 1]!;
      return h.handler.read(port - h.base, size);
    }
    const ones = size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    this.record('pio', port, size, false, ones);
    return ones;
  }

  pioWrite(port: number, size: number, value: number): void {
    const i = this.portMap[port]!;
    if (i) {
      const h = this.pioHandlers[i - 1]!;
      h.handler.write(port - h.base, size, value);
      if (h.polled) this.timersChanged = true;
      return;
    }
    this.record('pio', port, size, true, value);
  }

  private findMmio(gpa: number) {
    for (const m of this.mmioRanges) if (gpa >= m.base && gpa < m.end) return m;
    return undefined;
  }

  mmioRead(gpa: number, size: number): bigint {
    const m = this.findMmio(gpa);
    if (m) return m.handler.read(gpa - m.base, size);
    const ones = (1n << BigInt(size * 8)) - 1n;
    this.record('mmio', gpa, size, false, -1);
    return ones;
  }

  mmioWrite(gpa: number, size: number, value: bigint): void {
    const m = this.findMmio(gpa);
    if (m) {
      m.handler.write(gpa - m.base, size, value);
      if (m.polled) this.timersChanged = true;
      return;
    }
    this.record('mmio', gpa, size, true, Number(value & 0xffffffffn));
  }

  private record(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): void {
    const map = space === 'pio' ? this.unclaimed.pio : this.unclaimed.mmio;
    let u = map.get(addr);
    if (!u) {
      u = { space, addr, reads: 0, writes: 0, size, lastValue: value };
      if (space === 'mmio') {
        const region = this.mmioRegionName(addr);
        if (region !== undefined) u.region = region;
      }
      map.set(addr, u);
    }
    if (write) u.writes++;
    else u.reads++;
    u.size = size;
    u.lastValue = value;
  }

  /** Routes ISA interrupt line `line` to every interrupt controller on the bus (none: dropped). */
  irq(line: number, level: boolean): void {
    for (const c of this.chips) c.setIrq(line, level);
  }

  /** The first interrupt controller (the one wired to the boot vCPU's INTR pin), if the platform has one. */
  irqChip(): IrqChip | undefined {
    return this.chips[0];
  }

  /** Whether any device has timers or host input to poll. */
  get polled(): boolean {
    return this.pollers.length > 0;
  }

  /** Runs the devices' timers and host input; the earliest time any of them wants to run again (Infinity: none). */
  poll(now: number): number {
    this.timersChanged = false;
    let next = Infinity;
    for (const d of this.pollers) next = Math.min(next, d.poll!(now));
    return next;
  }

  /** The VM view of every device that describes itself. */
  inspect(): DeviceView[] {
    return this.devices.flatMap((d) => (d.inspect ? [d.inspect()] : []));
  }

  /** Whether a device claims `port` (a backend may count unclaimed ports itself, off the bus). */
  claimsPort(port: number): boolean {
    return this.portMap[port] !== 0;
  }

  /** Adds accesses to an unclaimed port that a backend counted itself (the emulator's fast path). */
  addUnclaimedPio(port: number, size: number, reads: number, writes: number, lastValue: number): void {
    if (!reads && !writes) return;
    let u = this.unclaimed.pio.get(port);
    if (!u) this.unclaimed.pio.set(port, (u = { space: 'pio', addr: port, reads: 0, writes: 0, size, lastValue }));
    u.reads += reads;
    u.writes += writes;
    u.size = size;
    u.lastValue = lastValue === 0xffffffff ? -1 : lastValue;
  }

  unclaimedAccesses(): UnclaimedAccess[] {
    return [...this.unclaimed.pio.values(), ...this.unclaimed.mmio.values()];
  }
}

export function describeUnclaimed(u: UnclaimedAccess): string {
  const what = u.space === 'pio' ? `port ${hex(u.addr, 2)}` : `MMIO ${hex(u.addr)}${u.region ? ` (region ${u.region}, no device)` : ' (unmapped)'}`;
  const parts = [];
  if (u.reads) parts.push(`${u.reads} read${u.reads > 1 ? 's' : ''}`);
  if (u.writes) parts.push(`${u.writes} write${u.writes > 1 ? 's' : ''}`);
  return `${what}: ${parts.join(', ')}, ${u.size}-byte, last ${u.space === 'pio' || u.writes ? 'value ' + hex(u.lastValue >>> 0) : 'read'}`;
}

/** The host's monotonic clock in milliseconds: CLOCK_MONOTONIC, as libuv and the native addon read it, so every thread agrees. */
export function hostNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The context a bus gives the devices on it: events to `emit`, interrupt lines routed through the bus, the host clock, DMA to `memory`. */
export function busContext(bus: Bus, emit: (event: DeviceEvent) => void, memory: DeviceMemory): DeviceContext {
  return { emit, irq: (line, level) => bus.irq(line, level), now: hostNow, memory };
}

/** Guest memory for a bus that has none (unit tests of devices that do no DMA). */
export const NO_MEMORY: DeviceMemory = { read: () => undefined, write: () => false };

/** DMA over guest RAM given as byte views (a vCPU thread's mapping of the machine's regions). */
export function regionMemory(regions: ReadonlyArray<{ gpa: number; bytes: Uint8Array }>): DeviceMemory {
  const find = (gpa: number, len: number) => regions.find((r) => gpa >= r.gpa && gpa + len <= r.gpa + r.bytes.length);
  return {
    read: (gpa, len) => {
      const r = find(gpa, len);
      return r ? r.bytes.slice(gpa - r.gpa, gpa - r.gpa + len) : undefined;
    },
    write: (gpa, data) => {
      const r = find(gpa, data.length);
      if (!r) return false;
      r.bytes.set(data, gpa - r.gpa);
      return true;
    },
  };
}
