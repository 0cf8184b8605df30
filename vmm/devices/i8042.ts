// The i8042 keyboard controller at 0x60 (data) / 0x64 (status, command) with
// a keyboard behind it that answers the commands Linux's atkbd and i8042
// drivers send, no mouse, and System Control Port A at 0x92 (A20, fast reset).
// Commands and bits follow the IBM PC/AT Technical Reference and the 8042 as
// Linux's drivers/input/serio/i8042.h names them.
//
// No mouse: the controller still has an AUX port (its 0xD3 loopback works, so
// Linux accepts the port without waiting out a timeout), and a byte sent to
// the missing device through 0xD4 comes back as 0xFE with the status
// register's timeout bit, as a real 8042 reports a device that never clocks;
// Linux's psmouse takes that as a failed command and gives up at once.
//
// A20 is recorded (output port bit 1, port 0x92 bit 1), not applied to memory.

import { initOnce } from './init-once';
import type { Device, DeviceContext, DeviceFactory, DeviceView, ResetAction } from './types';

export const STATUS_OBF = 0x01;
export const STATUS_IBF = 0x02;
export const STATUS_SYS = 0x04;
export const STATUS_CMD = 0x08; // A2: the last write went to the command port
export const STATUS_UNLOCKED = 0x10;
export const STATUS_AUX_OBF = 0x20;
export const STATUS_TIMEOUT = 0x40;

export const CTR_KBD_INT = 0x01;
export const CTR_AUX_INT = 0x02;
export const CTR_SYS = 0x04;
export const CTR_KBD_DISABLE = 0x10;
export const CTR_AUX_DISABLE = 0x20;
export const CTR_XLATE = 0x40;

const OUT_RESET = 0x01; // 0 holds the CPU in reset
const OUT_A20 = 0x02;
/** The output port's bits that have no meaning here read as set (as QEMU reports them). */
const OUT_ONES = 0xcc;
const PORTA_RESET = 0x01;
const PORTA_A20 = 0x02;

export const KBD_ACK = 0xfa;
export const KBD_RESEND = 0xfe;
export const KBD_BAT_OK = 0xaa;

const KBD_IRQ = 1;
const AUX_IRQ = 12;

// Queue entries: the byte, plus where it came from.
const FROM_AUX = 0x100;
const WITH_TIMEOUT = 0x200;

// Shared state (Int32 words), then the output queue.
const W_RAM0 = 0; // controller RAM 0x00-0x1f; byte 0 is the command byte (CTR)
const RAM_WORDS = 32;
const W_OUTPORT = RAM_WORDS;
const W_PORTA = RAM_WORDS + 1;
const W_SYS = RAM_WORDS + 2; // status SYS flag
const W_LAST_CMD = RAM_WORDS + 3; // STATUS_CMD or 0
const W_CTRL_PENDING = RAM_WORDS + 4; // controller command awaiting its data byte (0: none)
const W_KBD_PENDING = RAM_WORDS + 5; // keyboard command awaiting its argument (0: none)
const W_KBD_ENABLED = RAM_WORDS + 6;
const W_LINE_KBD = RAM_WORDS + 7;
const W_LINE_AUX = RAM_WORDS + 8;
const W_INTS = RAM_WORDS + 9;
const W_ACTIVE = RAM_WORDS + 10;
const W_HEAD = RAM_WORDS + 11;
const W_COUNT = RAM_WORDS + 12;
const W_INIT = RAM_WORDS + 13;
const W_QUEUE = RAM_WORDS + 14;
const QUEUE = 16;
const WORDS = W_QUEUE + QUEUE;

type I8042Config = { kind: 'i8042'; name: string; onReset: ResetAction };

class I8042 implements Device {
  readonly pio;
  private readonly w: Int32Array;

  constructor(
    private readonly config: I8042Config,
    state: SharedArrayBuffer,
    private readonly ctx: DeviceContext,
  ) {
    this.w = new Int32Array(state, 0, WORDS);
    this.pio = [
      { base: 0x60, length: 1, handler: { read: () => this.readData(), write: (_o: number, _s: number, v: number) => this.writeData(v & 0xff) } },
      { base: 0x64, length: 1, handler: { read: () => this.status(), write: (_o: number, _s: number, v: number) => this.command(v & 0xff) } },
      { base: 0x92, length: 1, handler: { read: () => this.w[W_PORTA]!, write: (_o: number, _s: number, v: number) => this.writePortA(v & 0xff) } },
    ];
  }

  get name(): string {
    return this.config.name;
  }

  private ctr(): number {
    return this.w[W_RAM0]!;
  }

  private push(entry: number): void {
    const w = this.w;
    if (w[W_COUNT]! >= QUEUE) return; // the keyboard's own buffer overflowed: the byte is lost
    w[W_QUEUE + ((w[W_HEAD]! + w[W_COUNT]!) % QUEUE)] = entry;
    w[W_COUNT]!++;
  }

  private headEntry(): number | undefined {
    return this.w[W_COUNT] ? this.w[W_QUEUE + this.w[W_HEAD]!]! : undefined;
  }

  private status(): number {
    const head = this.headEntry();
    let s = STATUS_UNLOCKED | this.w[W_LAST_CMD]! | (this.w[W_SYS] ? STATUS_SYS : 0);
    if (head !== undefined) s |= STATUS_OBF | (head & FROM_AUX ? STATUS_AUX_OBF : 0) | (head & WITH_TIMEOUT ? STATUS_TIMEOUT : 0);
    return s;
  }

  /** Drives IRQ 1 / IRQ 12 from the output buffer and the command byte's interrupt enables. */
  private update(): void {
    const head = this.headEntry();
    const ctr = this.ctr();
    this.drive(W_LINE_KBD, KBD_IRQ, head !== undefined && !(head & FROM_AUX) && (ctr & CTR_KBD_INT) !== 0);
    this.drive(W_LINE_AUX, AUX_IRQ, head !== undefined && (head & FROM_AUX) !== 0 && (ctr & CTR_AUX_INT) !== 0);
  }

  private drive(word: number, line: number, high: boolean): void {
    const level = high ? 1 : 0;
    if (this.w[word] === level) return;
    this.w[word] = level;
    if (level) this.w[W_INTS]!++;
    this.ctx.irq(line, high);
  }

  private readData(): number {
    const w = this.w;
    const head = this.headEntry();
    if (head === undefined) return 0; // an empty buffer repeats nothing useful; Linux reads only with OBF set
    w[W_HEAD] = (w[W_HEAD]! + 1) % QUEUE;
    w[W_COUNT]!--;
    // Reading deasserts the line; the next byte, if any, asserts it anew (a fresh edge for the PIC).
    this.drive(W_LINE_KBD, KBD_IRQ, false);
    this.drive(W_LINE_AUX, AUX_IRQ, false);
    this.update();
    return head & 0xff;
  }

  private writeData(v: number): void {
    const w = this.w;
    w[W_ACTIVE] = 1;
    w[W_LAST_CMD] = 0;
    const pending = w[W_CTRL_PENDING]!;
    w[W_CTRL_PENDING] = 0;
    if (pending >= 0x60 && pending < 0x80) {
      w[W_RAM0 + (pending & 0x1f)] = v;
      if (pending === 0x60) w[W_SYS] = v & CTR_SYS ? 1 : 0;
    } else if (pending === 0xd1) this.writeOutputPort(v);
    else if (pending === 0xd2) this.push(v);
    else if (pending === 0xd3) this.push(v | FROM_AUX);
    else if (pending === 0xd4) this.push(KBD_RESEND | FROM_AUX | WITH_TIMEOUT);
    else this.keyboard(v);
    this.update();
  }

  /** The keyboard's side: a command byte, or the argument of the last one. */
  private keyboard(v: number): void {
    const w = this.w;
    const pending = w[W_KBD_PENDING]!;
    if (pending) {
      w[W_KBD_PENDING] = 0;
      this.push(KBD_ACK);
      if (pending === 0xf0 && v === 0) this.push(0x02); // "which scan code set": set 2
      return;
    }
    switch (v) {
      case 0xed: // set LEDs
      case 0xf3: // typematic rate
      case 0xf0: // scan code set
        w[W_KBD_PENDING] = v;
        this.push(KBD_ACK);
        return;
      case 0xee: // echo
        this.push(0xee);
        return;
      case 0xf2: // identify: an MF2 keyboard
        this.push(KBD_ACK);
        this.push(0xab);
        this.push(0x83);
        return;
      case 0xf4:
        w[W_KBD_ENABLED] = 1;
        this.push(KBD_ACK);
        return;
      case 0xf5:
      case 0xf6:
        w[W_KBD_ENABLED] = v === 0xf6 ? 1 : 0;
        this.push(KBD_ACK);
        return;
      case 0xff: // reset: ACK, then the basic assurance test passed
        w[W_KBD_ENABLED] = 1;
        this.push(KBD_ACK);
        this.push(KBD_BAT_OK);
        return;
      default:
        this.push(KBD_RESEND);
    }
  }

  private command(v: number): void {
    const w = this.w;
    w[W_ACTIVE] = 1;
    w[W_LAST_CMD] = STATUS_CMD;
    w[W_CTRL_PENDING] = 0;
    if (v >= 0x20 && v < 0x40) this.push(w[W_RAM0 + (v & 0x1f)]!);
    else if (v >= 0x60 && v < 0x80) w[W_CTRL_PENDING] = v;
    else if (v >= 0xf0) {
      // Pulse output port lines: a 0 in bit 0 pulses the CPU's reset line.
      if (!(v & 1)) this.reset();
    } else
      switch (v) {
        case 0xa7:
          w[W_RAM0] = this.ctr() | CTR_AUX_DISABLE;
          break;
        case 0xa8:
          w[W_RAM0] = this.ctr() & ~CTR_AUX_DISABLE;
          break;
        case 0xa9: // AUX interface test: no error
        case 0xab: // keyboard interface test: no error
          this.push(0x00);
          break;
        case 0xaa: // controller self test: passed
          w[W_SYS] = 1;
          this.push(0x55);
          break;
        case 0xad:
          w[W_RAM0] = this.ctr() | CTR_KBD_DISABLE;
          break;
        case 0xae:
          w[W_RAM0] = this.ctr() & ~CTR_KBD_DISABLE;
          break;
        case 0xc0: // input port: keyboard not inhibited
          this.push(0x80);
          break;
        case 0xd0: {
          const head = this.headEntry();
          const obf = head === undefined ? 0 : head & FROM_AUX ? 0x20 : 0x10;
          this.push((w[W_OUTPORT]! & ~0x30) | obf);
          break;
        }
        case 0xd1:
        case 0xd2:
        case 0xd3:
        case 0xd4:
          w[W_CTRL_PENDING] = v;
          break;
        case 0xdd: // A20 off / on (the commands some BIOSes use instead of 0xD1)
        case 0xdf:
          this.setA20(v === 0xdf);
          break;
        case 0xe0: // test inputs
          this.push(0x00);
          break;
        default:
          break; // unknown commands are ignored, as the 8042 does
      }
    this.update();
  }

  private setA20(on: boolean): void {
    const w = this.w;
    w[W_OUTPORT] = on ? w[W_OUTPORT]! | OUT_A20 : w[W_OUTPORT]! & ~OUT_A20;
    w[W_PORTA] = on ? w[W_PORTA]! | PORTA_A20 : w[W_PORTA]! & ~PORTA_A20;
  }

  private writeOutputPort(v: number): void {
    this.w[W_OUTPORT] = v | OUT_ONES;
    this.setA20((v & OUT_A20) !== 0);
    if (!(v & OUT_RESET)) this.reset();
  }

  private writePortA(v: number): void {
    const w = this.w;
    w[W_ACTIVE] = 1;
    const before = w[W_PORTA]!;
    w[W_PORTA] = v & ~PORTA_RESET;
    this.setA20((v & PORTA_A20) !== 0);
    // Fast reset on bit 0's rising edge; the bit reads back clear once the reset is under way.
    if (v & PORTA_RESET && !(before & PORTA_RESET)) this.reset();
  }

  private reset(): void {
    this.ctx.emit({ kind: 'reset', device: this.config.name, action: this.config.onReset });
  }

  inspect(): DeviceView {
    const hex2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
    const w = this.w;
    return {
      name: this.config.name,
      model: 'i8042 keyboard controller',
      active: w[W_ACTIVE] === 1,
      interrupts: w[W_INTS]!,
      fields: [
        { name: 'status', value: hex2(this.status()) },
        { name: 'command byte', value: hex2(this.ctr()) },
        { name: 'A20', value: w[W_OUTPORT]! & OUT_A20 ? 'enabled' : 'disabled' },
        { name: 'output queue', value: String(w[W_COUNT]) },
        { name: 'keyboard', value: w[W_KBD_ENABLED] ? 'scanning' : 'disabled' },
        { name: 'on reset', value: this.config.onReset },
      ],
    };
  }
}

export const i8042: DeviceFactory<I8042Config> = {
  stateBytes: () => WORDS * 4,
  create: (config, state, ctx) => {
    const w = new Int32Array(state, 0, WORDS);
    initOnce(w, W_INIT, () => {
      // What a BIOS leaves behind: keyboard interrupt, SYS, translation; A20 on, the CPU out of reset.
      w[W_RAM0] = CTR_KBD_INT | CTR_SYS | CTR_XLATE;
      w[W_SYS] = 1;
      w[W_OUTPORT] = OUT_ONES | OUT_A20 | OUT_RESET;
      w[W_PORTA] = PORTA_A20;
      w[W_KBD_ENABLED] = 1;
    });
    return new I8042(config, state, ctx);
  },
};
