// A 16550A UART (the PC's COM ports): transmit, receive FIFO, divisor latch,
// scratch, loopback and the interrupt line. Output is delivered the moment THR
// is written, so LSR always reports THRE|TEMT and a THR write "completes" at
// once: the THRE interrupt is pending again right after it.
//
// Interrupt sources and their IIR codes and priorities follow the 16550D
// datasheet (TI SLLS057): line status 0x06 > received data 0x04 > THR empty
// 0x02 > modem status 0x00. The PC gates the chip's INTRPT output through
// MCR.OUT2, and loopback forces OUT2's pin inactive, so the ISA line is
// pending && OUT2 && !LOOP.

import { initOnce } from './init-once';
import type { Device, DeviceContext, DeviceFactory, DeviceView, PioHandler } from './types';

const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
export const IER_ERBFI = 0x01;
export const IER_ETBEI = 0x02;
export const IER_ELSI = 0x04;
export const IER_EDSSI = 0x08;
export const IIR_NONE = 0x01;
export const IIR_LINE_STATUS = 0x06;
export const IIR_RX_DATA = 0x04;
export const IIR_THR_EMPTY = 0x02;
export const IIR_MODEM_STATUS = 0x00;
const IIR_FIFO = 0xc0;
/** Outside loopback the modem lines read as a connected terminal: DCD, DSR, CTS. */
const MSR_DCD_DSR_CTS = 0xb0;

// Shared state layout (Int32 words), then the receive ring.
const W_IER = 0;
const W_LCR = 1;
const W_MCR = 2;
const W_SCR = 3;
const W_DLL = 4;
const W_DLM = 5;
const W_FCR = 6;
const W_OVERRUN = 7; // set by the producer, cleared by an LSR read
const W_HEAD = 8; // consumer index (the guest reading RBR)
const W_TAIL = 9; // producer index (host input or loopback)
const W_THRI = 10; // THR-empty interrupt pending (cleared by an IIR read that reports it)
const W_LINE = 11; // the level last driven on the ISA line
const W_INTS = 12; // rising edges on the line
const W_MSR_DELTA = 13; // MSR bits 0-3 (DCTS, DDSR, TERI, DDCD), cleared by an MSR read
const W_ACTIVE = 14;
const W_INIT = 15;
const WORDS = 16;
export const UART_RX_CAPACITY = 4096;

function views(state: SharedArrayBuffer): { w: Int32Array; rx: Uint8Array } {
  return { w: new Int32Array(state, 0, WORDS), rx: new Uint8Array(state, WORDS * 4, UART_RX_CAPACITY) };
}

/**
 * Queues bytes for the guest to read. Single producer: call from one thread
 * (the machine's main thread); the device side consumes under the bus lock.
 * The interrupt line follows at the device's next poll(). Returns how many
 * bytes fit.
 */
export function uartEnqueue(state: SharedArrayBuffer, bytes: Uint8Array): number {
  const { w, rx } = views(state);
  let tail = Atomics.load(w, W_TAIL);
  const head = Atomics.load(w, W_HEAD);
  let n = 0;
  for (const b of bytes) {
    if (tail - head >= UART_RX_CAPACITY) {
      Atomics.store(w, W_OVERRUN, 1);
      break;
    }
    rx[tail % UART_RX_CAPACITY] = b;
    tail++;
    n++;
  }
  Atomics.store(w, W_TAIL, tail);
  return n;
}

/** MSR's status bits (4-7) in loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
function loopbackMsr(mcr: number): number {
  return ((mcr & 1) << 5) | ((mcr & 2) << 3) | ((mcr & 4) << 4) | ((mcr & 8) << 4);
}

function modemStatus(mcr: number): number {
  return mcr & MCR_LOOP ? loopbackMsr(mcr) : MSR_DCD_DSR_CTS;
}

class Uart16550 implements Device, PioHandler {
  readonly pio;
  private readonly w: Int32Array;
  private readonly rx: Uint8Array;

  constructor(
    readonly name: string,
    port: number,
    private readonly irqLine: number | undefined,
    state: SharedArrayBuffer,
    private readonly ctx: DeviceContext,
  ) {
    ({ w: this.w, rx: this.rx } = views(state));
    this.pio = [{ base: port, length: 8, handler: this }];
  }

  private rxCount(): number {
    return Atomics.load(this.w, W_TAIL) - Atomics.load(this.w, W_HEAD);
  }

  private dlab(): boolean {
    return (this.w[W_LCR]! & LCR_DLAB) !== 0;
  }

  /** The highest-priority enabled source, as IIR's low nibble. */
  private source(): number {
    const w = this.w;
    const ier = w[W_IER]!;
    if (ier & IER_ELSI && Atomics.load(w, W_OVERRUN)) return IIR_LINE_STATUS;
    if (ier & IER_ERBFI && this.rxCount() > 0) return IIR_RX_DATA;
    if (ier & IER_ETBEI && w[W_THRI]) return IIR_THR_EMPTY;
    if (ier & IER_EDSSI && w[W_MSR_DELTA]) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  /** Drives the ISA line when its level changes. */
  private update(): void {
    if (this.irqLine === undefined) return;
    const w = this.w;
    const mcr = w[W_MCR]!;
    const level = this.source() !== IIR_NONE && (mcr & MCR_OUT2) !== 0 && (mcr & MCR_LOOP) === 0 ? 1 : 0;
    if (w[W_LINE] === level) return;
    w[W_LINE] = level;
    if (level) w[W_INTS]!++;
    this.ctx.irq(this.irqLine, level === 1);
  }

  read(offset: number): number {
    const v = this.readReg(offset);
    this.update();
    return v;
  }

  private readReg(offset: number): number {
    const w = this.w;
    switch (offset) {
      case RBR_THR_DLL: {
        if (this.dlab()) return w[W_DLL]!;
        if (this.rxCount() === 0) return 0;
        const head = Atomics.load(w, W_HEAD);
        const b = this.rx[head % UART_RX_CAPACITY]!;
        Atomics.store(w, W_HEAD, head + 1);
        return b;
      }
      case IER_DLM:
        return this.dlab() ? w[W_DLM]! : w[W_IER]!;
      case IIR_FCR: {
        const id = this.source();
        if (id === IIR_THR_EMPTY) w[W_THRI] = 0;
        return id | (w[W_FCR]! & FCR_ENABLE ? IIR_FIFO : 0);
      }
      case LCR:
        return w[W_LCR]!;
      case MCR:
        return w[W_MCR]!;
      case LSR: {
        const overrun = Atomics.exchange(w, W_OVERRUN, 0) ? LSR_OE : 0;
        return LSR_THRE | LSR_TEMT | overrun | (this.rxCount() > 0 ? LSR_DR : 0);
      }
      case MSR: {
        const delta = w[W_MSR_DELTA]!;
        w[W_MSR_DELTA] = 0;
        return modemStatus(w[W_MCR]!) | delta;
      }
      case SCR:
        return w[W_SCR]!;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: number, value: number): void {
    this.w[W_ACTIVE] = 1;
    this.writeReg(offset, value & 0xff);
    this.update();
  }

  private writeReg(offset: number, v: number): void {
    const w = this.w;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.dlab()) {
          w[W_DLL] = v;
          return;
        }
        if (w[W_MCR]! & MCR_LOOP) this.loopback(v);
        else this.ctx.emit({ kind: 'serial-output', device: this.name, bytes: Uint8Array.of(v) });
        // The byte is gone at once, so THR is empty again: THRE is pending anew.
        w[W_THRI] = 1;
        return;
      case IER_DLM:
        if (this.dlab()) {
          w[W_DLM] = v;
          return;
        }
        // Enabling ETBEI while THR is empty (always, here) raises THRE.
        if (v & IER_ETBEI && !(w[W_IER]! & IER_ETBEI)) w[W_THRI] = 1;
        w[W_IER] = v & 0x0f;
        return;
      case IIR_FCR:
        w[W_FCR] = v;
        if (v & FCR_CLEAR_RX) Atomics.store(w, W_HEAD, Atomics.load(w, W_TAIL));
        return;
      case LCR:
        w[W_LCR] = v;
        return;
      case MCR: {
        const before = modemStatus(w[W_MCR]!);
        w[W_MCR] = v & 0x1f;
        const after = modemStatus(w[W_MCR]!);
        // Delta bits: CTS, DSR and DCD on any change; RI only on its trailing edge.
        const changed = (before ^ after) >> 4;
        const teri = before & 0x40 && !(after & 0x40) ? 0x04 : 0;
        w[W_MSR_DELTA] = w[W_MSR_DELTA]! | (changed & 0x0b) | teri;
        return;
      }
      case SCR:
        w[W_SCR] = v;
        return;
      default:
        return; // LSR and MSR are read-only
    }
  }

  private loopback(v: number): void {
    const w = this.w;
    const tail = Atomics.load(w, W_TAIL);
    if (tail - Atomics.load(w, W_HEAD) >= UART_RX_CAPACITY) {
      Atomics.store(w, W_OVERRUN, 1);
      return;
    }
    this.rx[tail % UART_RX_CAPACITY] = v;
    Atomics.store(w, W_TAIL, tail + 1);
  }

  /** Host input arrives from the main thread between accesses; the line catches up here. */
  poll(): number {
    this.update();
    return Infinity;
  }

  inspect(): DeviceView {
    const w = this.w;
    const divisor = (w[W_DLM]! << 8) | w[W_DLL]!;
    const hex2 = (n: number) => '0x' + n.toString(16).padStart(2, '0');
    return {
      name: this.name,
      model: '16550A UART',
      active: w[W_ACTIVE] === 1,
      interrupts: w[W_INTS]!,
      fields: [
        { name: 'baud', value: divisor ? String(Math.floor(115200 / divisor)) : 'divisor 0' },
        { name: 'IER', value: hex2(w[W_IER]!) },
        { name: 'LCR', value: hex2(w[W_LCR]!) },
        { name: 'MCR', value: hex2(w[W_MCR]!) },
        { name: 'pending', value: ['modem status', '', 'THR empty', '', 'rx data', '', 'line status'][this.source()] || 'none' },
        { name: 'line', value: this.irqLine === undefined ? 'none (polled)' : `IRQ ${this.irqLine} ${w[W_LINE] ? 'high' : 'low'}` },
        { name: 'rx queued', value: String(this.rxCount()) },
      ],
    };
  }
}

export const uart16550: DeviceFactory<{ kind: 'uart16550'; name: string; port: number; irq?: number }> = {
  stateBytes: () => WORDS * 4 + UART_RX_CAPACITY,
  create: (config, state, ctx) => {
    // Reset values, once per machine: 8N1 in LCR, DLL=12 (9600 baud), MCR with OUT2 clear.
    const { w } = views(state);
    initOnce(w, W_INIT, () => {
      w[W_LCR] = 0x03;
      w[W_DLL] = 12;
    });
    return new Uart16550(config.name, config.port, config.irq, state, ctx);
  },
};
