// A raw DAP client for the fuzz harness: Content-Length framing over a child's
// stdio or a socket, requests sent without waiting (so they overlap), any
// arguments at all (so they can be malformed), and each response matched to
// its request by request_seq. The test-support DebugClient checks and waits;
// this one only records, so that the harness can judge.

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import type { DebugProtocol } from '@vscode/debugprotocol';

export interface Pending {
  seq: number;
  command: string;
  sentAt: number;
  response: Promise<DebugProtocol.Response>;
}

/** What a wire was closed by: the peer's end of stream, or our own close(). */
export type WireEnd = { kind: 'open' } | { kind: 'closed'; at: number };

export class DapWire {
  private seq = 1;
  private buf = Buffer.alloc(0);
  private readonly waiting = new Map<number, (r: DebugProtocol.Response) => void>();
  readonly events: DebugProtocol.Event[] = [];
  private readonly eventWaiters: Array<{ match: (e: DebugProtocol.Event) => boolean; resolve: (e: DebugProtocol.Event) => void }> = [];
  /** Responses whose request_seq matches no request we sent, or a second response to one. */
  readonly strayResponses: DebugProtocol.Response[] = [];
  /** Bodies that were not JSON. */
  readonly garbled: string[] = [];
  end: WireEnd = { kind: 'open' };
  private readonly ended: Promise<void>;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream,
  ) {
    let onEnd!: () => void;
    this.ended = new Promise((r) => (onEnd = r));
    input.on('data', (d: Buffer) => this.onData(d));
    const close = () => {
      if (this.end.kind === 'open') this.end = { kind: 'closed', at: Date.now() };
      onEnd();
    };
    input.on('end', close);
    input.on('close', close);
    input.on('error', close);
    output.on('error', () => {});
  }

  /** Sends a request with any arguments (undefined leaves the key out); the promise settles with its response. */
  request(command: string, args?: unknown): Pending {
    const seq = this.seq++;
    const msg: Record<string, unknown> = { seq, type: 'request', command };
    if (args !== undefined) msg.arguments = args;
    const response = new Promise<DebugProtocol.Response>((resolve) => this.waiting.set(seq, resolve));
    this.write(JSON.stringify(msg));
    return { seq, command, sentAt: Date.now(), response };
  }

  /** Sends a raw message body (framed), for messages that are not requests at all; no response is expected. */
  raw(body: string): void {
    this.seq++;
    this.write(body);
  }

  /** The next event that `match` accepts (one already received counts), or undefined after `timeoutMs`. */
  waitEvent(match: (e: DebugProtocol.Event) => boolean, timeoutMs: number): Promise<DebugProtocol.Event | undefined> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const w = { match, resolve: (e: DebugProtocol.Event | undefined) => resolve(e) };
      this.eventWaiters.push(w as { match: (e: DebugProtocol.Event) => boolean; resolve: (e: DebugProtocol.Event) => void });
      setTimeout(() => {
        const i = this.eventWaiters.indexOf(w as (typeof this.eventWaiters)[number]);
        if (i >= 0) this.eventWaiters.splice(i, 1);
        resolve(undefined);
      }, timeoutMs).unref();
    });
  }

  /** Forgets the events received so far (the next waitEvent waits for a new one). */
  clearEvents(): void {
    this.events.length = 0;
  }

  /** Resolves when the peer closed the stream, or after `timeoutMs` (false then). */
  async closed(timeoutMs: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (t = setTimeout(() => r(false), timeoutMs)));
    const r = await Promise.race([this.ended.then(() => true), timeout]);
    clearTimeout(t);
    return r;
  }

  private write(body: string): void {
    try {
      this.output.write(`Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`, 'utf8');
    } catch {
      // The peer is gone: the request stays unanswered, which is what the harness reports.
    }
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head < 0) return;
      const m = /Content-Length: *(\d+)/i.exec(this.buf.toString('latin1', 0, head));
      const len = m ? Number(m[1]) : 0;
      if (this.buf.length < head + 4 + len) return;
      const text = this.buf.toString('utf8', head + 4, head + 4 + len);
      this.buf = this.buf.subarray(head + 4 + len);
      let msg: DebugProtocol.ProtocolMessage;
      try {
        msg = JSON.parse(text) as DebugProtocol.ProtocolMessage;
      } catch {
        this.garbled.push(text.slice(0, 200));
        continue;
      }
      if (msg.type === 'response') {
        const r = msg as DebugProtocol.Response;
        const w = this.waiting.get(r.request_seq);
        if (w) {
          this.waiting.delete(r.request_seq);
          w(r);
        } else this.strayResponses.push(r);
      } else if (msg.type === 'event') {
        const e = msg as DebugProtocol.Event;
        this.events.push(e);
        for (let i = 0; i < this.eventWaiters.length; i++) {
          const w = this.eventWaiters[i]!;
          if (w.match(e)) {
            this.eventWaiters.splice(i--, 1);
            w.resolve(e);
          }
        }
      }
      // A reverse request (runInTerminal, startDebugging) is not something this adapter sends.
    }
  }
}

/** `p`'s response, or undefined when none came within `timeoutMs`. */
export async function within(p: Pending, timeoutMs: number): Promise<DebugProtocol.Response | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), timeoutMs)));
  const r = await Promise.race([p.response, timeout]);
  clearTimeout(t);
  return r;
}

/** The adapter bundle as VS Code starts it: a child process speaking DAP on stdio. Its stderr is collected. */
export interface AdapterProcess {
  child: ChildProcess;
  wire: DapWire;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process is gone, or undefined after `timeoutMs`. */
  exited(timeoutMs: number): Promise<number | string | undefined>;
}

export function spawnAdapter(adapter: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): AdapterProcess {
  const child = spawn(process.execPath, [adapter, ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  let status: number | string | undefined;
  const done = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve((status = code ?? signal ?? 'unknown'))));
  const wire = new DapWire(child.stdout!, child.stdin!);
  return {
    child,
    wire,
    stderr: () => err,
    async exited(timeoutMs) {
      if (status !== undefined) return status;
      let t: NodeJS.Timeout | undefined;
      const r = await Promise.race([done, new Promise<undefined>((res) => (t = setTimeout(() => res(undefined), timeoutMs)))]);
      clearTimeout(t);
      return r;
    },
  };
}

/** A DAP connection to an adapter serving sessions on a TCP port (`--server=PORT`), one session per connection. */
export function connectWire(port: number): Promise<{ wire: DapWire; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve({ wire: new DapWire(socket, socket), socket }));
    socket.once('error', reject);
  });
}
