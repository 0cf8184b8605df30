// A 16550A UART (the PC's COM ports): transmit, receive FIFO, divisor latch,
// scratch and loopback, with LSR always reporting THRE|TEMT because output is
// delivered the moment THR is written. No interrupt line yet: vmscope creates
// no interrupt controller, so IER is stored but never raises an IRQ.

import type { Device, DeviceContext, DeviceFactory, PioHandler } from './types';

const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const IIR_NO_INT = 0x01;
const IIR_FIFO = 0xc0;
const MSR_DCD_DSR_CTS = 0xb0;

// Shared state layout (Int32 words), then the receive ring.
const W_IER = 0;
const W_LCR = 1;
const W_MCR = 2;
const W_SCR = 3;
const W_DLL = 4;
const W_DLM = 5;
const W_FCR = 6;
const W_OVERRUN = 7;
const W_HEAD = 8; // consumer index (the guest reading RBR)
const W_TAIL = 9; // producer index (host input or loopback)
const WORDS = 10;
export const UART_RX_CAPACITY = 4096;

function views(state: SharedArrayBuffer): { w: Int32Array; rx: Uint8Array } {
  return { w: new Int32Array(state, 0, WORDS), rx: new Uint8Array(state, WORDS * 4, UART_RX_CAPACITY) };
}

/**
 * Queues bytes for the guest to read. Single producer: call from one thread
 * (the machine's main thread); the device side consumes under the bus lock.
 * Returns how many bytes fit.
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

class Uart16550 implements Device, PioHandler {
  readonly pio;
  private readonly w: Int32Array;
  private readonly rx: Uint8Array;

  constructor(
    readonly name: string,
    port: number,
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

  read(offset: number): number {
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
      case IIR_FCR:
        return IIR_NO_INT | (w[W_FCR]! & FCR_ENABLE ? IIR_FIFO : 0);
      case LCR:
        return w[W_LCR]!;
      case MCR:
        return w[W_MCR]!;
      case LSR: {
        const overrun = Atomics.exchange(w, W_OVERRUN, 0) ? LSR_OE : 0;
        return LSR_THRE | LSR_TEMT | overrun | (this.rxCount() > 0 ? LSR_DR : 0);
      }
      case MSR: {
        const mcr = w[W_MCR]!;
        if (!(mcr & MCR_LOOP)) return MSR_DCD_DSR_CTS;
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        return ((mcr & 1) << 5) | ((mcr & 2) << 3) | ((mcr & 4) << 4) | ((mcr & 8) << 4);
      }
      case SCR:
        return w[W_SCR]!;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const w = this.w;
    const v = value & 0xff;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.dlab()) w[W_DLL] = v;
        else if (w[W_MCR]! & MCR_LOOP) this.loopback(v);
        else this.ctx.emit({ kind: 'serial-output', device: this.name, bytes: Uint8Array.of(v) });
        return;
      case IER_DLM:
        if (this.dlab()) w[W_DLM] = v;
        else w[W_IER] = v & 0x0f;
        return;
      case IIR_FCR:
        w[W_FCR] = v;
        if (v & FCR_CLEAR_RX) Atomics.store(w, W_HEAD, Atomics.load(w, W_TAIL));
        return;
      case LCR:
        w[W_LCR] = v;
        return;
      case MCR:
        w[W_MCR] = v & 0x1f;
        return;
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
}

export const uart16550: DeviceFactory<{ kind: 'uart16550'; name: string; port: number }> = {
  stateBytes: () => WORDS * 4 + UART_RX_CAPACITY,
  create: (config, state, ctx) => {
    // Reset values: 8N1 in LCR, DLL=12 (9600 baud), MCR with OUT2 clear.
    const { w } = views(state);
    if (w[W_LCR] === 0 && w[W_DLL] === 0) {
      w[W_LCR] = 0x03;
      w[W_DLL] = 12;
    }
    return new Uart16550(config.name, config.port, state, ctx);
  },
};
