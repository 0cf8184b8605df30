// The MC146818 real-time clock and its 128 bytes of CMOS at ports 0x70 (index;
// bit 7 masks NMI) and 0x71 (data), on ISA IRQ 8. The clock registers read
// the host's wall clock (UTC) plus whatever offset the guest set; the memory
// bytes carry the machine's size where the PC BIOS convention (and SeaBIOS,
// reading what QEMU writes) looks for it.
//
// Register semantics from the MC146818A datasheet (Motorola): A = UIP, divider,
// rate select; B = SET, PIE, AIE, UIE, SQWE, DM (binary), 24/12, DSE; C = IRQF,
// PF, AF, UF, cleared by reading; D = VRT. Flags are set whether or not their
// interrupt is enabled; IRQF (and the line) = PF&PIE | AF&AIE | UF&UIE.

import { initOnce } from './init-once';
import type { Device, DeviceContext, DeviceFactory, DeviceView, PioHandler } from './types';

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_HOURS = 0x04;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
/** The century byte (IBM PS/2 convention, what ACPI's FADT names and QEMU writes). */
export const RTC_CENTURY = 0x32;

export const A_UIP = 0x80;
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_DM_BINARY = 0x04;
export const B_24H = 0x02;
export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;
const D_VRT = 0x80;

const RTC_IRQ = 8;

// Shared state: Float64 words, then Int32 words, then the 128 bytes of CMOS.
const F_OFFSET = 0; // guest time minus host wall time, ms (the guest set the clock)
const F_FROZEN = 1; // guest time while B.SET holds the clock, ms
const F_LAST_SEC = 2; // the guest second the update cycle last ran for
const F_LAST_TICK = 3; // the periodic tick (index of now/period) last flagged
const FLOATS = 4;
const W_INDEX = 0;
const W_NMI_MASKED = 1;
const W_INIT = 2;
const W_INTS = 3;
const W_LINE = 4;
const W_ACTIVE = 5;
const WORDS = 6;
const RAM_OFFSET = FLOATS * 8 + WORDS * 4;
const RAM_BYTES = 128;

/** The update cycle is reported in progress this long before each second's update (the datasheet's 244 µs, rounded up to the host clock's ms). */
const UIP_WINDOW_MS = 1;

type CmosConfig = { kind: 'cmos'; name: string; ramBelow4g: number; ramAbove4g: number; vcpus: number };

const KIB = 1024;
const MIB = 1024 * KIB;

/** The memory-size and equipment bytes a PC BIOS reads, per the config (values QEMU's pc_cmos_init writes). */
export function cmosMemoryBytes(config: Omit<CmosConfig, 'kind' | 'name'>): Map<number, number> {
  const bytes = new Map<number, number>();
  const put16 = (at: number, v: number) => {
    bytes.set(at, v & 0xff);
    bytes.set(at + 1, (v >> 8) & 0xff);
  };
  bytes.set(0x10, 0); // no floppy drives
  bytes.set(0x14, 0x02); // equipment: FPU present, no floppies, EGA/VGA display
  put16(0x15, 640); // base memory, KiB
  const ext = Math.min(0xffff, Math.max(0, Math.floor((config.ramBelow4g - MIB) / KIB)));
  put16(0x17, ext);
  put16(0x30, ext);
  const above16m = Math.min(0xffff, Math.max(0, Math.floor((config.ramBelow4g - 16 * MIB) / (64 * KIB))));
  put16(0x34, above16m);
  const above4g = Math.floor(config.ramAbove4g / (64 * KIB));
  bytes.set(0x5b, above4g & 0xff);
  bytes.set(0x5c, Math.floor(above4g / 0x100) & 0xff);
  bytes.set(0x5d, Math.floor(above4g / 0x10000) & 0xff);
  bytes.set(0x5f, Math.max(0, config.vcpus - 1));
  return bytes;
}

const toBcd = (v: number) => ((Math.floor(v / 10) % 10) << 4) | v % 10;
const fromBcd = (v: number) => (v >> 4) * 10 + (v & 0x0f);

/** Periodic interrupt frequency (Hz) for rate select `rs` with the 32.768 kHz time base; 0: off. */
export function periodicHz(rs: number): number {
  if (rs === 0) return 0;
  if (rs <= 2) return 256 >> (rs - 1);
  return 32768 >> (rs - 1);
}

class Cmos implements Device, PioHandler {
  readonly pio;
  private readonly f: Float64Array;
  private readonly w: Int32Array;
  private readonly ram: Uint8Array;

  constructor(
    readonly name: string,
    state: SharedArrayBuffer,
    private readonly ctx: DeviceContext,
    private readonly wall: () => number,
  ) {
    this.f = new Float64Array(state, 0, FLOATS);
    this.w = new Int32Array(state, FLOATS * 8, WORDS);
    this.ram = new Uint8Array(state, RAM_OFFSET, RAM_BYTES);
    this.pio = [{ base: 0x70, length: 2, handler: this }];
  }

  private guestMs(): number {
    return this.ram[RTC_REG_B]! & B_SET ? this.f[F_FROZEN]! : this.wall() + this.f[F_OFFSET]!;
  }

  private setGuestMs(ms: number): void {
    if (this.ram[RTC_REG_B]! & B_SET) this.f[F_FROZEN] = ms;
    else this.f[F_OFFSET] = ms - this.wall();
    // A clock set is no update cycle: the next UF comes at the next second boundary.
    this.f[F_LAST_SEC] = Math.floor(ms / 1000);
  }

  private periodMs(): number {
    const hz = periodicHz(this.ram[RTC_REG_A]! & 0x0f);
    return hz ? 1000 / hz : 0;
  }

  private binary(): boolean {
    return (this.ram[RTC_REG_B]! & B_DM_BINARY) !== 0;
  }

  private encode(v: number): number {
    return this.binary() ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.binary() ? v : fromBcd(v);
  }

  private encodeHours(h: number): number {
    if (this.ram[RTC_REG_B]! & B_24H) return this.encode(h);
    const pm = h >= 12 ? 0x80 : 0;
    return pm | this.encode(h % 12 === 0 ? 12 : h % 12);
  }

  private decodeHours(v: number): number {
    if (this.ram[RTC_REG_B]! & B_24H) return this.decode(v);
    const h12 = this.decode(v & 0x7f) % 12;
    return v & 0x80 ? h12 + 12 : h12;
  }

  /** Runs the update cycle and the periodic divider up to `now`: sets C's flags, then drives the line. */
  private advance(now: number): void {
    const ram = this.ram;
    const f = this.f;
    if (!(ram[RTC_REG_B]! & B_SET)) {
      const ms = this.guestMs();
      const sec = Math.floor(ms / 1000);
      if (sec > f[F_LAST_SEC]!) {
        f[F_LAST_SEC] = sec;
        ram[RTC_REG_C] = ram[RTC_REG_C]! | C_UF | (this.alarmMatches(new Date(ms)) ? C_AF : 0);
      }
    }
    const period = this.periodMs();
    if (period) {
      const tick = Math.floor(now / period);
      if (tick > f[F_LAST_TICK]!) {
        f[F_LAST_TICK] = tick;
        ram[RTC_REG_C] = ram[RTC_REG_C]! | C_PF;
      }
    }
    this.update();
  }

  private alarmMatches(t: Date): boolean {
    const ram = this.ram;
    const dontCare = (v: number) => (v & 0xc0) === 0xc0;
    const s = ram[RTC_SECONDS_ALARM]!;
    const m = ram[0x03]!;
    const h = ram[0x05]!;
    return (
      (dontCare(s) || this.decode(s) === t.getUTCSeconds()) &&
      (dontCare(m) || this.decode(m) === t.getUTCMinutes()) &&
      (dontCare(h) || this.decodeHours(h) === t.getUTCHours())
    );
  }

  private irqf(): boolean {
    const ram = this.ram;
    return (ram[RTC_REG_C]! & ram[RTC_REG_B]! & (C_PF | C_AF | C_UF)) !== 0;
  }

  private update(): void {
    const level = this.irqf() ? 1 : 0;
    if (this.w[W_LINE] === level) return;
    this.w[W_LINE] = level;
    if (level) this.w[W_INTS]!++;
    this.ctx.irq(RTC_IRQ, level === 1);
  }

  read(offset: number): number {
    if (offset === 0) return 0xff; // the index register is write-only; QEMU answers 0xff too
    const index = this.w[W_INDEX]!;
    this.advance(this.ctx.now());
    const ram = this.ram;
    if (index <= RTC_YEAR || index === RTC_CENTURY) return this.clockRegister(index);
    switch (index) {
      case RTC_REG_A: {
        const inUpdate = !(ram[RTC_REG_B]! & B_SET) && 1000 - (this.guestMs() % 1000) <= UIP_WINDOW_MS;
        return (ram[RTC_REG_A]! & 0x7f) | (inUpdate ? A_UIP : 0);
      }
      case RTC_REG_C: {
        const c = ram[RTC_REG_C]! | (this.irqf() ? C_IRQF : 0);
        ram[RTC_REG_C] = 0;
        this.update();
        return c;
      }
      case RTC_REG_D:
        return D_VRT;
      default:
        return ram[index]!;
    }
  }

  private clockRegister(index: number): number {
    const t = new Date(this.guestMs());
    switch (index) {
      case RTC_SECONDS:
        return this.encode(t.getUTCSeconds());
      case RTC_MINUTES:
        return this.encode(t.getUTCMinutes());
      case RTC_HOURS:
        return this.encodeHours(t.getUTCHours());
      case RTC_DAY_OF_WEEK:
        return this.encode(t.getUTCDay() + 1);
      case RTC_DAY_OF_MONTH:
        return this.encode(t.getUTCDate());
      case RTC_MONTH:
        return this.encode(t.getUTCMonth() + 1);
      case RTC_YEAR:
        return this.encode(t.getUTCFullYear() % 100);
      case RTC_CENTURY:
        return this.encode(Math.floor(t.getUTCFullYear() / 100));
      default:
        return this.ram[index]!; // the alarm bytes
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    this.w[W_ACTIVE] = 1;
    if (offset === 0) {
      this.w[W_INDEX] = v & 0x7f;
      this.w[W_NMI_MASKED] = v >> 7;
      return;
    }
    const index = this.w[W_INDEX]!;
    const ram = this.ram;
    const now = this.ctx.now();
    this.advance(now);
    switch (index) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case RTC_CENTURY:
        this.setClock(index, v);
        break;
      case RTC_DAY_OF_WEEK:
        break; // follows from the date
      case RTC_REG_A: {
        const rateChanged = (v ^ ram[RTC_REG_A]!) & 0x0f;
        ram[RTC_REG_A] = v & 0x7f;
        // A new rate starts its divider now: no tick is owed for the time before.
        const period = this.periodMs();
        if (rateChanged && period) this.f[F_LAST_TICK] = Math.floor(now / period);
        break;
      }
      case RTC_REG_B: {
        const wasSet = ram[RTC_REG_B]! & B_SET;
        // Freeze or release the clock before the mode bits change what guestMs() means.
        if (v & B_SET && !wasSet) this.f[F_FROZEN] = this.guestMs();
        if (!(v & B_SET) && wasSet) this.f[F_OFFSET] = this.f[F_FROZEN]! - this.wall();
        // Setting SET clears UIE (datasheet: no update-ended interrupts while the clock is held).
        ram[RTC_REG_B] = v & B_SET ? v & ~B_UIE : v;
        break;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        break; // read-only
      default:
        ram[index] = v;
    }
    this.update();
  }

  private setClock(index: number, raw: number): void {
    const t = new Date(this.guestMs());
    let year = t.getUTCFullYear();
    let month = t.getUTCMonth();
    let day = t.getUTCDate();
    let hours = t.getUTCHours();
    let minutes = t.getUTCMinutes();
    let seconds = t.getUTCSeconds();
    if (index === RTC_HOURS) hours = this.decodeHours(raw);
    else {
      const v = this.decode(raw);
      if (index === RTC_SECONDS) seconds = v;
      else if (index === RTC_MINUTES) minutes = v;
      else if (index === RTC_DAY_OF_MONTH) day = v;
      else if (index === RTC_MONTH) month = v - 1;
      else if (index === RTC_YEAR) year = year - (year % 100) + v;
      else year = v * 100 + (year % 100);
    }
    const ms = Date.UTC(year, month, day, hours, minutes, seconds) + t.getUTCMilliseconds();
    this.setGuestMs(ms);
  }

  poll(now: number): number {
    this.advance(now);
    const ram = this.ram;
    const b = ram[RTC_REG_B]!;
    let next = Infinity;
    const period = this.periodMs();
    if (b & B_PIE && period) next = (this.f[F_LAST_TICK]! + 1) * period;
    if (b & (B_UIE | B_AIE) && !(b & B_SET)) next = Math.min(next, now + 1000 - (this.guestMs() % 1000));
    return next;
  }

  inspect(): DeviceView {
    const ram = this.ram;
    const hex2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
    const hz = periodicHz(ram[RTC_REG_A]! & 0x0f);
    const b = ram[RTC_REG_B]!;
    const enabled = [b & B_PIE ? 'periodic' : '', b & B_AIE ? 'alarm' : '', b & B_UIE ? 'update' : ''].filter(Boolean);
    return {
      name: this.name,
      model: 'MC146818 RTC/CMOS',
      active: this.w[W_ACTIVE] === 1,
      interrupts: this.w[W_INTS]!,
      fields: [
        { name: 'time', value: new Date(this.guestMs()).toISOString().replace(/\.\d+Z$/, 'Z') + (b & B_SET ? ' (held)' : '') },
        { name: 'mode', value: `${b & B_DM_BINARY ? 'binary' : 'BCD'}, ${b & B_24H ? '24h' : '12h'}` },
        { name: 'interrupts enabled', value: enabled.length ? enabled.join(', ') : 'none' },
        { name: 'periodic rate', value: hz ? `${hz} Hz` : 'off' },
        { name: 'A/B/C', value: [ram[RTC_REG_A]!, b, ram[RTC_REG_C]!].map(hex2).join(' ') },
        { name: 'NMI', value: this.w[W_NMI_MASKED] ? 'masked' : 'enabled' },
      ],
    };
  }
}

/** The factory over a given wall clock (ms since the epoch): tests pass a fake one. */
export function cmosWithClock(wall: () => number): DeviceFactory<CmosConfig> {
  return {
    stateBytes: () => RAM_OFFSET + RAM_BYTES,
    create: (config, state, ctx) => {
      const dev = new Cmos(config.name, state, ctx, wall);
      const ram = new Uint8Array(state, RAM_OFFSET, RAM_BYTES);
      const f = new Float64Array(state, 0, FLOATS);
      initOnce(new Int32Array(state, FLOATS * 8, WORDS), W_INIT, () => {
        // Power-on values: 32.768 kHz time base at 1024 Hz, BCD, 24-hour.
        ram[RTC_REG_A] = 0x26;
        ram[RTC_REG_B] = B_24H;
        ram[RTC_REG_D] = D_VRT;
        for (const [at, v] of cmosMemoryBytes(config)) ram[at] = v;
        // The standard checksum over 0x10-0x2D, big-endian at 0x2E.
        let sum = 0;
        for (let i = 0x10; i <= 0x2d; i++) sum += ram[i]!;
        ram[0x2e] = (sum >> 8) & 0xff;
        ram[0x2f] = sum & 0xff;
        f[F_LAST_SEC] = Math.floor(wall() / 1000);
        f[F_LAST_TICK] = Math.floor(ctx.now() / (1000 / 1024));
      });
      return dev;
    },
  };
}

export const cmos: DeviceFactory<CmosConfig> = cmosWithClock(Date.now);
