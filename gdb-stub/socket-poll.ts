// The gdb client's socket, read and written through its file descriptor for
// the packet ping-pong of a stop. After a stop gdb sends a burst of small
// packets, each one only once it has the reply to the one before (a stepi
// is seven round trips: the step, four one-byte reads at pc, a read of the
// code or stack, the thread list). Going back to Node's event loop between
// them costs this thread a wake-up and a pass through the stream machinery
// per packet; reading the socket in a short spin after each reply costs
// neither. Measured on the 2-CPU development VM (docs/performance.md): an
// echo server answers a C client in 72-80 µs per round trip through
// net.Socket, 39-44 µs when it spins on the fd, 55-69 µs as a blocking C
// server.
//
// Everything here falls back to the socket's own stream: where Node gives
// no fd (not a Unix socket), on one CPU (the spin would hold the CPU gdb
// needs), and when polls keep coming back empty (a client across a slow
// link: the spin would only burn CPU), until a packet comes soon enough
// after a reply that a poll would have caught it.

import * as fs from 'node:fs';
import type * as net from 'node:net';
import { SPINNING_PAYS } from '../vmm/machine';

/** Empty polls in a row after which polling stops until a packet shows it would pay again. */
const MISSES_TO_STOP = 8;

export class SocketPoll {
  private readonly fd: number | undefined;
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);
  private misses = 0;
  /** When the last reply went out (performance.now(), ms), to tell whether polling would pay. */
  private lastWrite = 0;

  constructor(
    private readonly socket: net.Socket,
    /** How long a poll spins, in µs. */
    private readonly budgetUs: number,
  ) {
    // Node does not document a socket's fd: it is the stream handle's, and -1 or absent where there is none (Windows).
    const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    this.fd = typeof fd === 'number' && fd >= 0 && SPINNING_PAYS ? fd : undefined;
  }

  /**
   * Bytes gdb sent within the budget, read straight off the socket, or
   * undefined (nothing came, polling is off, or the socket failed or
   * closed: the stream sees that in its turn).
   */
  poll(): Buffer | undefined {
    if (this.fd === undefined || this.misses >= MISSES_TO_STOP) return undefined;
    const until = performance.now() + this.budgetUs / 1000;
    // Each empty read is an EAGAIN error: without a stack trace to capture, it costs little and allocates little.
    const traceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (;;) {
        let n: number;
        try {
          n = fs.readSync(this.fd, this.buffer, 0, this.buffer.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return undefined;
          if (performance.now() < until) continue;
          this.misses++;
          return undefined;
        }
        // 0 is the end of the stream; the stream reads it again and closes.
        if (n === 0) return undefined;
        this.misses = 0;
        return Buffer.from(this.buffer.subarray(0, n));
      }
    } finally {
      Error.stackTraceLimit = traceLimit;
    }
  }

  /** A packet came through the stream instead: when it came soon enough after a reply, polling pays again. */
  arrivedThroughStream(): void {
    if (this.misses >= MISSES_TO_STOP && performance.now() - this.lastWrite <= this.budgetUs / 1000) this.misses = 0;
  }

  /** Sends `data`, straight to the socket when nothing waits in the stream's own queue. */
  write(data: Buffer): void {
    this.lastWrite = performance.now();
    let done = 0;
    if (this.fd !== undefined && this.socket.writableLength === 0 && !this.socket.destroyed) {
      try {
        done = fs.writeSync(this.fd, data);
      } catch {
        // EAGAIN (a full socket buffer) or a failing socket: the stream queues the bytes, or reports the failure.
        done = 0;
      }
    }
    if (done < data.length) this.socket.write(data.subarray(done));
  }
}
