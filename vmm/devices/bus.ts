// The port-I/O and MMIO bus: routes an access to the device that claims the
// address, with an offset into that device's range. Accesses nobody claims
// are answered like a floating bus (all ones on read, writes dropped) and
// recorded, so the user learns about them without the guest dying.

import { hex } from '../../common/address';
import type { Device, MmioHandler, PioHandler } from './types';

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
  private readonly pioHandlers: Array<{ base: number; handler: PioHandler; device: string }> = [];
  private readonly mmioRanges: Array<{ base: number; end: number; handler: MmioHandler; device: string }> = [];
  private readonly unclaimed = { pio: new Map<number, UnclaimedAccess>(), mmio: new Map<number, UnclaimedAccess>() };

  constructor(private readonly mmioRegionName: (gpa: number) => string | undefined = () => undefined) {}

  add(device: Device): void {
    for (const r of device.pio ?? []) {
      if (r.base < 0 || r.base + r.length > 0x10000) throw new BusConflict(`${device.name}: ports ${hex(r.base)}+${r.length} out of range`);
      this.pioHandlers.push({ base: r.base, handler: r.handler, device: device.name });
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
      this.mmioRanges.push({ base: r.base, end, handler: r.handler, device: device.name });
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
