// The PC's two cascaded 8259A programmable interrupt controllers: the master
// at 0x20-0x21 (IRQ 0-7) and the slave at 0xA0-0xA1 (IRQ 8-15, on the
// master's IRQ 2), with the edge/level control registers at 0x4D0-0x4D1.
// The behaviour follows Intel's 8259A data sheet: ICW1-ICW4 initialisation,
// OCW1 masks, OCW2 EOI and rotation, OCW3 register reads and poll mode,
// automatic EOI, and priority with rotation. Special mask mode and special
// fully nested mode are stored but not modelled; no PC guest we know needs them.
//
// This is the platform's interrupt controller as the boot vCPU sees it
// (irqChip): the vCPU loop asks hasInterrupt() and runs the acknowledge cycle.

import type { Device, DeviceFactory, DeviceView, IrqChip, PioHandler } from './types';

// Per-chip words in the shared state (Int32), chip 0 = master, 1 = slave.
const IRR = 0;
const ISR = 1;
const IMR = 2;
/** Lines high now (edge detection). */
const LEVEL = 3;
const BASE = 4;
/** 0: ready; 1: expects ICW2; 2: ICW3; 3: ICW4. */
const INIT = 5;
const NEEDS_ICW4 = 6;
const SINGLE = 7;
const AUTO_EOI = 8;
const ROTATE_AUTO_EOI = 9;
/** Lowest-priority line + 1 (rotation), 0..7. */
const PRIORITY_ADD = 10;
/** OCW3: 1 reads ISR at the command port, 0 IRR. */
const READ_ISR = 11;
const POLL = 12;
const SPECIAL_MASK = 13;
const FULLY_NESTED = 14;
/** Edge/level control (ELCR bits). */
const ELCR = 15;
/** Whether the guest has initialised this chip. */
const PROGRAMMED = 16;
const CHIP_WORDS = 17;
/** Interrupt counts per line (16), after both chips' words. */
const COUNTS = 2 * CHIP_WORDS;
const WORDS = COUNTS + 16;

/** ELCR bits that may be set: IRQ 0, 1, 2, 8 and 13 are always edge-triggered on the PC. */
const ELCR_MASK = [0xf8, 0xde] as const;

class Pic8259 implements IrqChip {
  private readonly w: Int32Array;

  constructor(state: SharedArrayBuffer) {
    this.w = new Int32Array(state, 0, WORDS);
  }

  private get(chip: number, word: number): number {
    return this.w[chip * CHIP_WORDS + word]!;
  }

  private set(chip: number, word: number, value: number): void {
    this.w[chip * CHIP_WORDS + word] = value;
  }

  /** Priority (0 highest) of the highest-priority bit in `mask`, or 8 when none. */
  private priority(chip: number, mask: number): number {
    if (!(mask & 0xff)) return 8;
    const add = this.get(chip, PRIORITY_ADD);
    let p = 0;
    while (!(mask & (1 << ((p + add) & 7)))) p++;
    return p;
  }

  /** The line this chip would raise INTR for, or -1. */
  private request(chip: number): number {
    const pending = this.get(chip, IRR) & ~this.get(chip, IMR) & 0xff;
    const p = this.priority(chip, pending);
    if (p === 8) return -1;
    let inService = this.get(chip, ISR);
    if (this.get(chip, SPECIAL_MASK)) inService &= ~this.get(chip, IMR);
    // With special fully nested mode on the master, the slave's line does not block itself.
    if (chip === 0 && this.get(0, FULLY_NESTED)) inService &= ~(1 << 2);
    return p < this.priority(chip, inService) ? (p + this.get(chip, PRIORITY_ADD)) & 7 : -1;
  }

  /** The slave's INTR output drives the master's IRQ 2. */
  private cascade(): void {
    this.line(0, 2, this.request(1) >= 0);
  }

  private line(chip: number, irq: number, level: boolean): void {
    const bit = 1 << irq;
    const was = this.get(chip, LEVEL) & bit;
    if (level) this.set(chip, LEVEL, this.get(chip, LEVEL) | bit);
    else this.set(chip, LEVEL, this.get(chip, LEVEL) & ~bit);
    if (this.get(chip, ELCR) & bit) {
      // Level-triggered: the request follows the line.
      this.set(chip, IRR, level ? this.get(chip, IRR) | bit : this.get(chip, IRR) & ~bit);
    } else if (level && !was) {
      this.set(chip, IRR, this.get(chip, IRR) | bit);
    }
  }

  setIrq(line: number, level: boolean): void {
    if (line < 0 || line > 15) return;
    const chip = line >> 3;
    const irq = line & 7;
    const rising = level && !(this.get(chip, LEVEL) & (1 << irq));
    if (rising) this.w[COUNTS + line]!++;
    this.line(chip, irq, level);
    if (chip === 1) this.cascade();
  }

  hasInterrupt(): boolean {
    return this.request(0) >= 0;
  }

  canInterrupt(): boolean {
    if (!this.get(0, PROGRAMMED) || this.get(0, INIT) !== 0) return false;
    const master = ~this.get(0, IMR) & 0xff;
    // IRQ 2 is the slave's output: it counts only if the slave has a line unmasked too.
    const slave = this.get(1, PROGRAMMED) && this.get(1, INIT) === 0 ? ~this.get(1, IMR) & 0xff : 0;
    return (master & ~(1 << 2)) !== 0 || ((master & (1 << 2)) !== 0 && slave !== 0);
  }

  /** Moves `irq` to in-service (or clears it, with automatic EOI). */
  private ack(chip: number, irq: number): void {
    const bit = 1 << irq;
    if (this.get(chip, AUTO_EOI)) {
      if (this.get(chip, ROTATE_AUTO_EOI)) this.set(chip, PRIORITY_ADD, (irq + 1) & 7);
    } else {
      this.set(chip, ISR, this.get(chip, ISR) | bit);
    }
    // An edge request is consumed by the acknowledge; a level one stays while the line is high.
    if (!(this.get(chip, ELCR) & bit)) this.set(chip, IRR, this.get(chip, IRR) & ~bit);
  }

  acknowledge(): number {
    const irq = this.request(0);
    if (irq < 0) return this.get(0, BASE) + 7; // the request went away: spurious IRQ 7
    this.ack(0, irq);
    let vector: number;
    if (irq === 2 && !this.get(0, SINGLE)) {
      const irq2 = this.request(1);
      if (irq2 >= 0) {
        this.ack(1, irq2);
        vector = this.get(1, BASE) + irq2;
      } else {
        vector = this.get(1, BASE) + 7; // spurious on the slave
      }
      this.cascade();
    } else {
      vector = this.get(0, BASE) + irq;
    }
    return vector;
  }

  /** Poll mode (OCW3 P): the read that follows returns 0x80|line and acknowledges it. */
  private pollRead(chip: number): number {
    const irq = this.request(chip);
    if (irq < 0) return 0;
    this.ack(chip, irq);
    if (chip === 1) this.cascade();
    return 0x80 | irq;
  }

  private eoi(chip: number, value: number): void {
    const cmd = value >> 5;
    switch (cmd) {
      case 0: // rotate in automatic EOI mode: clear
      case 4: // rotate in automatic EOI mode: set
        this.set(chip, ROTATE_AUTO_EOI, cmd >> 2);
        break;
      case 1: // non-specific EOI
      case 5: {
        // rotate on non-specific EOI
        const p = this.priority(chip, this.get(chip, ISR));
        if (p !== 8) {
          const irq = (p + this.get(chip, PRIORITY_ADD)) & 7;
          this.set(chip, ISR, this.get(chip, ISR) & ~(1 << irq));
          if (cmd === 5) this.set(chip, PRIORITY_ADD, (irq + 1) & 7);
        }
        break;
      }
      case 3: // specific EOI
        this.set(chip, ISR, this.get(chip, ISR) & ~(1 << (value & 7)));
        break;
      case 6: // set priority
        this.set(chip, PRIORITY_ADD, (value + 1) & 7);
        break;
      case 7: // rotate on specific EOI
        this.set(chip, ISR, this.get(chip, ISR) & ~(1 << (value & 7)));
        this.set(chip, PRIORITY_ADD, ((value & 7) + 1) & 7);
        break;
      default: // 2: no operation
        break;
    }
  }

  write(chip: number, offset: number, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      if (value & 0x10) {
        // ICW1: starts initialisation; the mask, requests and in-service bits clear.
        for (const word of [IRR, ISR, IMR, PRIORITY_ADD, READ_ISR, POLL, SPECIAL_MASK, AUTO_EOI, ROTATE_AUTO_EOI, FULLY_NESTED]) this.set(chip, word, 0);
        this.set(chip, INIT, 1);
        this.set(chip, NEEDS_ICW4, value & 1);
        this.set(chip, SINGLE, (value >> 1) & 1);
        this.set(chip, PROGRAMMED, 1);
      } else if (value & 0x08) {
        // OCW3
        if (value & 0x04) this.set(chip, POLL, 1);
        if (value & 0x02) this.set(chip, READ_ISR, value & 1);
        if (value & 0x40) this.set(chip, SPECIAL_MASK, (value >> 5) & 1);
      } else {
        this.eoi(chip, value);
      }
    } else {
      switch (this.get(chip, INIT)) {
        case 0: // OCW1: the mask
          this.set(chip, IMR, value);
          break;
        case 1: // ICW2: the vector base
          this.set(chip, BASE, value & 0xf8);
          this.set(chip, INIT, this.get(chip, SINGLE) ? (this.get(chip, NEEDS_ICW4) ? 3 : 0) : 2);
          break;
        case 2: // ICW3: the cascade wiring (fixed on the PC)
          this.set(chip, INIT, this.get(chip, NEEDS_ICW4) ? 3 : 0);
          break;
        default: // ICW4
          this.set(chip, FULLY_NESTED, (value >> 4) & 1);
          this.set(chip, AUTO_EOI, (value >> 1) & 1);
          this.set(chip, INIT, 0);
          break;
      }
    }
    if (chip === 1) this.cascade();
  }

  read(chip: number, offset: number): number {
    if (this.get(chip, POLL)) {
      this.set(chip, POLL, 0);
      return this.pollRead(chip);
    }
    if (offset === 1) return this.get(chip, IMR);
    return this.get(chip, this.get(chip, READ_ISR) ? ISR : IRR);
  }

  elcrRead(chip: number): number {
    return this.get(chip, ELCR);
  }

  elcrWrite(chip: number, value: number): void {
    this.set(chip, ELCR, value & ELCR_MASK[chip]!);
  }

  view(name: string): DeviceView {
    const hex2 = (n: number): string => '0x' + (n & 0xff).toString(16).padStart(2, '0');
    const lines: string[] = [];
    for (let i = 0; i < 16; i++) if (this.w[COUNTS + i]) lines.push(`IRQ ${i}: ${this.w[COUNTS + i]}`);
    const chipFields = (chip: number, label: string) => [
      { name: `${label} vector base`, value: hex2(this.get(chip, BASE)) },
      { name: `${label} IMR`, value: hex2(this.get(chip, IMR)) },
      { name: `${label} IRR`, value: hex2(this.get(chip, IRR)) },
      { name: `${label} ISR`, value: hex2(this.get(chip, ISR)) },
    ];
    let total = 0;
    for (let i = 0; i < 16; i++) total += this.w[COUNTS + i]!;
    return {
      name,
      model: '8259A PIC pair',
      active: this.get(0, PROGRAMMED) === 1,
      interrupts: total,
      fields: [...chipFields(0, 'master'), ...chipFields(1, 'slave'), { name: 'requests by line', value: lines.join(', ') || 'none' }],
    };
  }
}

function chipPorts(pic: Pic8259, chip: number): PioHandler {
  return {
    read: (offset) => pic.read(chip, offset),
    write: (offset, _size, value) => pic.write(chip, offset, value),
  };
}

export const pic: DeviceFactory<{ kind: 'pic'; name: string }> = {
  stateBytes: () => WORDS * 4,
  create: (config, state): Device => {
    const chip = new Pic8259(state);
    return {
      name: config.name,
      pio: [
        { base: 0x20, length: 2, handler: chipPorts(chip, 0) },
        { base: 0xa0, length: 2, handler: chipPorts(chip, 1) },
        {
          base: 0x4d0,
          length: 2,
          handler: { read: (offset) => chip.elcrRead(offset), write: (offset, _size, value) => chip.elcrWrite(offset, value) },
        },
      ],
      irqChip: chip,
      inspect: () => chip.view(config.name),
    };
  },
};
