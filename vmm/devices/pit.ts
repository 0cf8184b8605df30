// The 8254 programmable interval timer at 0x40-0x43 and the PC's port 0x61
// (system control port B: channel 2's gate and output, the speaker, and the
// refresh toggle). Counters run on the host clock at 1.193182 MHz, so a guest
// sees real time, as under KVM: count reads, latches (counter latch and
// read-back), the lsb/msb flip-flops and OUT follow the 8254 data sheet's
// modes 0-5. Channel 0's OUT drives IRQ 0: poll() raises it at each period
// (modes 2 and 3) or once at the terminal count (modes 0, 1, 4, 5). Channel 2
// is what Linux calibrates the TSC against (port 0x61 bit 5). BCD counting is
// stored but counted in binary.

import type { Device, DeviceContext, DeviceFactory, DeviceView } from './types';

/** Input clock of the PC's 8254 (Hz). */
export const PIT_HZ = 1193182;
const TICKS_PER_MS = PIT_HZ / 1000;

// Int32 words per channel.
const MODE = 0;
/** Access mode: 1 lsb, 2 msb, 3 lsb then msb. */
const RW = 1;
const BCD = 2;
/** Reload value, 1..65536. */
const COUNT = 3;
/** The counter was loaded since its control word (it counts). */
const ARMED = 4;
/** lsb/msb flip-flop for writes: 1 after the lsb of a two-byte write. */
const WRITE_HI = 5;
const WRITE_LO = 6;
/** lsb/msb flip-flop for reads. */
const READ_HI = 7;
const LATCHED = 8;
const LATCH_VALUE = 9;
const STATUS_LATCHED = 10;
const STATUS = 11;
const GATE = 12;
/** One-shot modes: the terminal-count interrupt was raised. */
const FIRED = 13;
const NULL_COUNT = 14;
const INTERRUPTS = 15;
const CH_WORDS = 16;
// Float64 slots per channel (after the Int32 words).
/** Host time (ms) counting started: the load, or gate's rising edge. */
const T_LOAD = 0;
/** Channel 0: host time of the next periodic interrupt. */
const T_NEXT = 1;
const CH_TIMES = 2;
/** Port 0x61 speaker-data bit, and whether the guest touched the timer. */
const W_SPEAKER = 3 * CH_WORDS;
const W_PROGRAMMED = W_SPEAKER + 1;
const INT_WORDS = (W_PROGRAMMED + 2) & ~1; // even, so the Float64 area is 8-aligned
const STATE_BYTES = INT_WORDS * 4 + 3 * CH_TIMES * 8;

class Pit8254 {
  private readonly w: Int32Array;
  private readonly t: Float64Array;

  constructor(state: SharedArrayBuffer, private readonly ctx: DeviceContext) {
    this.w = new Int32Array(state, 0, INT_WORDS);
    this.t = new Float64Array(state, INT_WORDS * 4, 3 * CH_TIMES);
    if (!this.w[W_PROGRAMMED]) {
      // Power-on: gates of channels 0 and 1 are wired high; channel 2's follows port 0x61.
      this.w[GATE] = 1;
      this.w[CH_WORDS + GATE] = 1;
    }
  }

  private get(ch: number, word: number): number {
    return this.w[ch * CH_WORDS + word]!;
  }

  private set(ch: number, word: number, value: number): void {
    this.w[ch * CH_WORDS + word] = value;
  }

  /** Input clock ticks since the channel started counting (0 while its gate is low or it is not loaded). */
  private ticks(ch: number, now: number): number {
    if (!this.get(ch, ARMED) || !this.get(ch, GATE)) return 0;
    return Math.max(0, Math.floor((now - this.t[ch * CH_TIMES + T_LOAD]!) * TICKS_PER_MS));
  }

  private mode(ch: number): number {
    const m = this.get(ch, MODE);
    return m > 5 ? m - 4 : m;
  }

  /** The counting element now. */
  private value(ch: number, now: number): number {
    const count = this.get(ch, COUNT);
    if (!this.get(ch, ARMED)) return count & 0xffff;
    const d = this.ticks(ch, now);
    switch (this.mode(ch)) {
      case 2:
        return (count - (d % count)) & 0xffff;
      case 3:
        return (count - ((2 * d) % count)) & 0xfffe;
      default:
        // 0, 1, 4, 5: down from the count, wrapping through 0xFFFF after the terminal count.
        return (((count - d) % 0x10000) + 0x10000) & 0xffff;
    }
  }

  /** The OUT pin now. */
  out(ch: number, now: number): boolean {
    const mode = this.mode(ch);
    if (!this.get(ch, ARMED)) return mode !== 0;
    const count = this.get(ch, COUNT);
    const d = this.ticks(ch, now);
    switch (mode) {
      case 0:
      case 1:
        return d >= count;
      case 2:
        return d % count !== count - 1;
      case 3:
        return d % count < Math.ceil(count / 2);
      default:
        // 4 and 5: low for one clock at the terminal count.
        return d !== count;
    }
  }

  private load(ch: number, now: number): void {
    this.set(ch, ARMED, 1);
    this.set(ch, FIRED, 0);
    this.set(ch, NULL_COUNT, 0);
    this.t[ch * CH_TIMES + T_LOAD] = now;
    this.t[ch * CH_TIMES + T_NEXT] = now + this.get(ch, COUNT) / TICKS_PER_MS;
  }

  private control(value: number, now: number): void {
    const ch = value >> 6;
    if (ch === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 select channels.
      for (let c = 0; c < 3; c++) {
        if (!(value & (2 << c))) continue;
        if (!(value & 0x20)) this.latchCount(c, now);
        if (!(value & 0x10) && !this.get(c, STATUS_LATCHED)) {
          const status = (this.out(c, now) ? 0x80 : 0) | (this.get(c, NULL_COUNT) ? 0x40 : 0) | (this.get(c, RW) << 4) | (this.get(c, MODE) << 1) | this.get(c, BCD);
          this.set(c, STATUS, status);
          this.set(c, STATUS_LATCHED, 1);
        }
      }
      return;
    }
    const rw = (value >> 4) & 3;
    if (rw === 0) {
      this.latchCount(ch, now);
      return;
    }
    this.set(ch, RW, rw);
    this.set(ch, MODE, (value >> 1) & 7);
    this.set(ch, BCD, value & 1);
    this.set(ch, WRITE_HI, 0);
    this.set(ch, READ_HI, 0);
    this.set(ch, ARMED, 0);
    this.set(ch, NULL_COUNT, 1);
    this.w[W_PROGRAMMED] = 1;
  }

  private latchCount(ch: number, now: number): void {
    if (this.get(ch, LATCHED)) return; // a latched count holds until read
    this.set(ch, LATCH_VALUE, this.value(ch, now));
    this.set(ch, LATCHED, 1);
    this.set(ch, READ_HI, 0);
  }

  private writeCount(ch: number, value: number, now: number): void {
    value &= 0xff;
    const rw = this.get(ch, RW);
    let count: number;
    if (rw === 1) count = value;
    else if (rw === 2) count = value << 8;
    else if (!this.get(ch, WRITE_HI)) {
      this.set(ch, WRITE_LO, value);
      this.set(ch, WRITE_HI, 1);
      this.set(ch, NULL_COUNT, 1);
      return;
    } else {
      count = this.get(ch, WRITE_LO) | (value << 8);
      this.set(ch, WRITE_HI, 0);
    }
    this.set(ch, COUNT, count === 0 ? 0x10000 : count);
    this.load(ch, now);
  }

  private readCount(ch: number, now: number): number {
    if (this.get(ch, STATUS_LATCHED)) {
      this.set(ch, STATUS_LATCHED, 0);
      return this.get(ch, STATUS);
    }
    const latched = this.get(ch, LATCHED) === 1;
    const v = latched ? this.get(ch, LATCH_VALUE) : this.value(ch, now);
    const rw = this.get(ch, RW);
    if (rw === 1) {
      if (latched) this.set(ch, LATCHED, 0);
      return v & 0xff;
    }
    if (rw === 2) {
      if (latched) this.set(ch, LATCHED, 0);
      return v >> 8;
    }
    const hi = this.get(ch, READ_HI);
    this.set(ch, READ_HI, hi ^ 1);
    if (hi && latched) this.set(ch, LATCHED, 0);
    return hi ? v >> 8 : v & 0xff;
  }

  portRead(offset: number): number {
    const now = this.ctx.now();
    return offset < 3 ? this.readCount(offset, now) : 0xff; // the control word is write-only
  }

  portWrite(offset: number, value: number): void {
    const now = this.ctx.now();
    if (offset === 3) this.control(value & 0xff, now);
    else this.writeCount(offset, value, now);
  }

  /** Port 0x61: bit 0 channel 2's gate, bit 1 speaker data, bit 4 refresh toggle (every 15 us), bit 5 channel 2's OUT. */
  port61Read(): number {
    const now = this.ctx.now();
    const refresh = Math.floor(now * (1000 / 15)) & 1;
    return this.get(2, GATE) | (this.w[W_SPEAKER]! << 1) | (refresh << 4) | ((this.out(2, now) ? 1 : 0) << 5);
  }

  port61Write(value: number): void {
    const now = this.ctx.now();
    const gate = value & 1;
    if (gate && !this.get(2, GATE) && this.get(2, ARMED)) {
      // A rising gate (re)starts counting in every mode but 0 and 4, where it resumes; starting afresh is close enough for them.
      this.t[2 * CH_TIMES + T_LOAD] = now;
    }
    this.set(2, GATE, gate);
    this.w[W_SPEAKER] = (value >> 1) & 1;
  }

  /** Raises IRQ 0 when channel 0's OUT rises; the next time that happens. */
  poll(now: number): number {
    if (!this.get(0, ARMED)) return Infinity;
    const mode = this.mode(0);
    const period = this.get(0, COUNT) / TICKS_PER_MS;
    if (mode === 2 || mode === 3) {
      let next = this.t[T_NEXT]!;
      if (now >= next) {
        this.pulse();
        next += period;
        // A guest that ran long without polling (paused, or a slow host) gets one interrupt, not a burst.
        if (next <= now) next = now + period;
        this.t[T_NEXT] = next;
      }
      return next;
    }
    if (this.get(0, FIRED)) return Infinity;
    const due = this.t[T_LOAD]! + period;
    if (now < due) return due;
    this.set(0, FIRED, 1);
    this.pulse();
    return Infinity;
  }

  private pulse(): void {
    this.w[INTERRUPTS]!++;
    this.ctx.irq(0, true);
    this.ctx.irq(0, false);
  }

  view(name: string): DeviceView {
    const now = this.ctx.now();
    const describe = (ch: number): string => {
      if (!this.get(ch, ARMED)) return 'not loaded';
      const count = this.get(ch, COUNT);
      return `mode ${this.get(ch, MODE)}, count ${count} (${(PIT_HZ / count).toFixed(count > 1193 ? 2 : 0)} Hz), now ${this.value(ch, now)}`;
    };
    return {
      name,
      model: '8254 PIT',
      active: this.w[W_PROGRAMMED] === 1,
      interrupts: this.get(0, INTERRUPTS),
      fields: [
        { name: 'channel 0 (IRQ 0)', value: describe(0) },
        { name: 'channel 1', value: describe(1) },
        { name: 'channel 2 (port 0x61)', value: `${describe(2)}, gate ${this.get(2, GATE)}, OUT ${this.out(2, now) ? 1 : 0}` },
      ],
    };
  }
}

export const pit: DeviceFactory<{ kind: 'pit'; name: string }> = {
  stateBytes: () => STATE_BYTES,
  create: (config, state, ctx): Device => {
    const timer = new Pit8254(state, ctx);
    return {
      name: config.name,
      pio: [
        { base: 0x40, length: 4, handler: { read: (offset) => timer.portRead(offset), write: (offset, _size, value) => timer.portWrite(offset, value) } },
        { base: 0x61, length: 1, handler: { read: () => timer.port61Read(), write: (_offset, _size, value) => timer.port61Write(value) } },
      ],
      poll: (now) => timer.poll(now),
      inspect: () => timer.view(config.name),
    };
  },
};
