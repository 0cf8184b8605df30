// vmscope's gdb remote stub: a TCP server (one client at a time) that turns
// GDB Remote Serial Protocol packets into runner calls on a Machine, in
// all-stop mode: a stop of any vCPU pauses the others, and gdb sees one
// thread per vCPU (thread ids 1..n for vCPUs 0..n-1). Memory goes through
// the chosen vCPU's page tables, as gdb expects of a system target.

import * as net from 'node:net';
import { gva, type Gpa, type Gva } from '../common/address';
import type { Machine } from '../vmm/machine';
import { GuestAccess } from '../vmm/guest-access';
import type { HwSlot, WatchLength } from '../vmm/debug';
import { cpuModeName, type RunResult, type VcpuStop } from '../vmm/exits';
import { encodePacket, fromHex, MAX_PACKET, PacketReader, parseHexNumber, toHex, type InboundEvent } from './packets';
import { Monitor } from './monitor';
import { GDB_OWNER } from './owner';
import { encodeRegister, encodeRegisters, registerValues, REGISTERS, targetXml, type RegisterSources } from './target';

export interface GdbServerOptions {
  host: string;
  port: number;
  /** One line for the user (a client came or went); no newline. */
  log?: (line: string) => void;
}

/** Signals as gdb numbers them in stop replies (gdb's own numbering, which matches Linux's for these). */
const SIGINT = 2;
const SIGTRAP = 5;
const SIGSEGV = 11;

/** A Z/z breakpoint gdb set, by type and linear address. */
interface StubBreakpoint {
  type: 0 | 1 | 2 | 3 | 4;
  addr: Gva;
  len: WatchLength;
  /** Where the int3 sits, for type 0. */
  physical?: Gpa;
}

export class GdbServer {
  private readonly server = net.createServer((socket) => this.accept(socket));
  private session: Session | undefined;
  private ended: RunResult | undefined;

  constructor(
    private readonly machine: Machine,
    private readonly opts: GdbServerOptions,
  ) {
    machine.on('stopped', (vcpu, stop) => this.session?.onStopped(vcpu, stop));
    machine.on('end', (result) => {
      this.ended = result;
      this.session?.onEnd(result);
      this.server.close();
    });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /**
   * What a client's Ctrl-C does, for another front end on the same machine
   * that pauses the VM: a client waiting for a stop reply gets one (SIGINT)
   * rather than waiting on. Does nothing when no client waits.
   */
  interrupt(): void {
    this.session?.interrupt();
  }

  /** Stops listening and drops the client, if any. */
  close(): void {
    this.server.close();
    this.session?.drop();
  }

  private accept(socket: net.Socket): void {
    if (this.session) {
      // One debugger owns the VM; a second one would fight it over every stop.
      this.opts.log?.(`gdb: refused a second client from ${socket.remoteAddress}:${socket.remotePort}`);
      socket.destroy();
      return;
    }
    if (this.ended) {
      socket.destroy();
      return;
    }
    this.opts.log?.(`gdb: client ${socket.remoteAddress}:${socket.remotePort} attached`);
    const session = new Session(this.machine, socket, () => {
      if (this.session === session) this.session = undefined;
      this.opts.log?.('gdb: client detached');
    });
    this.session = session;
  }
}

/** One client's connection: the protocol state and the all-stop bookkeeping. */
class Session {
  private readonly reader = new PacketReader();
  private readonly access: GuestAccess;
  private readonly monitor: Monitor;
  private noAck = false;
  /** Whether gdb believes the target runs (it sent c/s/vCont and awaits a stop reply). */
  private running = false;
  private interruptRequested = false;
  /** The vCPU of the last stop: what thread id 0 / -1 means. */
  private stopVcpu = 0;
  private gVcpu = 0;
  private cVcpu: number | 'all' = 'all';
  private lastStop = '';
  private readonly breakpoints = new Map<string, StubBreakpoint>();
  private slots: Array<HwSlot | null> = [null, null, null, null];
  /** The Z type gdb asked for in each slot, so a hit is reported as watch, rwatch or awatch. */
  private slotTypes: Array<StubBreakpoint['type'] | null> = [null, null, null, null];
  private queue: Promise<void>;
  private closed = false;

  constructor(
    private readonly machine: Machine,
    private readonly socket: net.Socket,
    private readonly onClose: () => void,
  ) {
    this.access = new GuestAccess(machine);
    this.monitor = new Monitor(machine, this.access);
    socket.setNoDelay(true);
    // gdb expects a stopped target when it connects: pause every vCPU first (a --gdb-wait machine is paused already).
    this.queue = this.stopAll().then(() => {
      this.lastStop = this.stopReply(this.stopVcpu, SIGTRAP, '');
    });
    socket.on('data', (chunk) => {
      for (const e of this.reader.feed(chunk)) this.onEvent(e);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.onSocketClosed());
  }

  private onEvent(e: InboundEvent): void {
    switch (e.kind) {
      case 'ack':
      case 'nack':
        // Replies are not kept for resending: gdb re-asks on a timeout, and over TCP a '-' does not happen in practice.
        return;
      case 'interrupt':
        this.interrupt();
        return;
      case 'bad-checksum':
        if (!this.noAck) this.socket.write('-');
        return;
      case 'too-long':
        if (!this.noAck) this.socket.write('+');
        this.send('E01');
        return;
      case 'packet': {
        if (!this.noAck) this.socket.write('+');
        const data = e.data;
        this.queue = this.queue.then(async () => {
          let reply: string | undefined;
          try {
            reply = await this.handle(data);
          } catch (err) {
            // A packet the runner refused (a vCPU gone, memory unreadable) is an error reply, never the stub's end.
            void err;
            reply = 'E01';
          }
          if (reply !== undefined) this.send(reply);
        });
        return;
      }
    }
  }

  interrupt(): void {
    if (this.running && !this.interruptRequested) {
      this.interruptRequested = true;
      this.machine.pause();
    }
  }

  private send(data: string): void {
    if (!this.closed) this.socket.write(encodePacket(data));
  }

  /** Ends the connection from our side (k, D, or the machine ended). */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
    this.onClose();
  }

  private onSocketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    // A client that vanished leaves the VM running, as a detach does.
    void this.queue.then(() => this.releaseVm());
    this.onClose();
  }

  /** Removes every breakpoint and lets the guest run on. */
  private async releaseVm(): Promise<void> {
    this.breakpoints.clear();
    this.slots = [null, null, null, null];
    this.applyDebug();
    this.monitor.release();
    if (!this.running) {
      this.running = true;
      await this.machine.resume();
    }
  }

  private async stopAll(): Promise<void> {
    this.machine.pause();
    await this.machine.whenAllPaused(30_000);
    this.access.invalidate();
  }

  onStopped(vcpu: number, stop: VcpuStop): void {
    if (!this.running) return;
    // Our own pauses (of the other vCPUs, or at attach) report too; only a Ctrl-C's counts as a stop for gdb.
    if (stop.kind === 'pause' && !this.interruptRequested) return;
    this.running = false;
    const interrupted = this.interruptRequested;
    this.interruptRequested = false;
    this.queue = this.queue.then(async () => {
      await this.stopAll();
      this.stopVcpu = vcpu;
      this.gVcpu = vcpu;
      this.lastStop = this.describeStop(vcpu, stop, interrupted);
      this.send(this.lastStop);
    });
  }

  onEnd(result: RunResult): void {
    this.lastStop = exitReply(result);
    if (this.running) this.send(this.lastStop);
    this.running = false;
    this.drop();
  }

  private describeStop(vcpu: number, stop: VcpuStop, interrupted: boolean): string {
    switch (stop.kind) {
      case 'pause':
        return this.stopReply(vcpu, interrupted ? SIGINT : SIGTRAP, '');
      case 'exit':
        return this.stopReply(vcpu, SIGTRAP, this.monitor.exitStopReason(stop));
      case 'step':
      case 'debug':
        return this.stopReply(vcpu, SIGTRAP, '');
      // At another front end's breakpoint (a debug adapter on the same machine), a plain SIGTRAP: gdb takes a
      // swbreak/hwbreak where it has no breakpoint for one of its own just removed, and resumes.
      case 'sw-breakpoint':
        return this.stopReply(vcpu, SIGTRAP, this.hasBreakpointAt(0, stop.pc) ? 'swbreak:;' : '');
      case 'breakpoint':
        return this.stopReply(vcpu, SIGTRAP, this.hasBreakpointAt(1, stop.pc) ? 'hwbreak:;' : '');
      case 'watchpoint': {
        const n = this.machine.debugOwners.ownSlots(GDB_OWNER, stop.slots)[0] ?? -1;
        const slot = this.slots[n];
        if (!slot) return this.stopReply(vcpu, SIGTRAP, '');
        const reason = this.slotTypes[n] === 2 ? 'watch' : this.slotTypes[n] === 3 ? 'rwatch' : 'awatch';
        return this.stopReply(vcpu, SIGTRAP, `${reason}:${slot.addr.toString(16)};`);
      }
      case 'failure':
        return this.stopReply(vcpu, SIGSEGV, '');
    }
  }

  private hasBreakpointAt(type: 0 | 1, pc: Gva): boolean {
    for (const bp of this.breakpoints.values()) if (bp.type === type && bp.addr === pc) return true;
    return false;
  }

  private stopReply(vcpu: number, signal: number, reason: string): string {
    return `T${signal.toString(16).padStart(2, '0')}thread:${threadId(vcpu)};${reason}`;
  }

  /** The reply to one packet, or undefined when the reply comes later (a resume's stop reply) or never (k). */
  private async handle(p: string): Promise<string | undefined> {
    if (this.running && p !== '?') return 'E01';
    switch (p[0]) {
      case '?':
        return this.lastStop;
      case 'g':
        return encodeRegisters(registerValues(this.registerSources(this.gVcpu)));
      case 'p': {
        const n = parseHexNumber(p.slice(1));
        if (n === undefined || n >= BigInt(REGISTERS.length)) return 'E00';
        return encodeRegister(Number(n), registerValues(this.registerSources(this.gVcpu))[Number(n)]!);
      }
      case 'm':
        return this.readMemory(p.slice(1));
      case 'M':
        return this.writeMemory(p.slice(1));
      case 'c':
        return this.resumeAll(p.slice(1));
      case 's':
        return this.step(this.cVcpu === 'all' ? this.stopVcpu : this.cVcpu, p.slice(1));
      case 'H':
        return this.setThread(p[1], p.slice(2));
      case 'T': {
        const v = parseThread(p.slice(1), this.machine.vcpuCount);
        return v !== undefined && v !== 'all' && this.machine.vcpuRunState(v) !== 'finished' ? 'OK' : 'E01';
      }
      case 'Z':
      case 'z':
        return this.breakpoint(p[0] === 'Z', p.slice(1));
      case 'D':
        await this.releaseVm();
        this.send('OK');
        this.drop();
        return undefined;
      case 'k':
        this.drop();
        await this.machine.stop();
        return undefined;
      case 'q':
      case 'Q':
        return this.query(p);
      case 'v':
        return this.vPacket(p);
      default:
        return '';
    }
  }

  /** General queries; undefined when the reply went out already (QStartNoAckMode). */
  private query(p: string): string | undefined {
    if (p.startsWith('qSupported')) {
      return `PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+`;
    }
    if (p === 'QStartNoAckMode') {
      // The OK goes out acknowledged as usual; from then on neither side acks.
      this.send('OK');
      this.noAck = true;
      this.reader.checkChecksums = false;
      return undefined;
    }
    const xfer = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (xfer) {
      if (xfer[1] !== 'target.xml') return 'E00';
      const xml = targetXml();
      const off = parseInt(xfer[2]!, 16);
      const len = parseInt(xfer[3]!, 16);
      const chunk = xml.slice(off, off + len);
      return (off + len >= xml.length ? 'l' : 'm') + chunk;
    }
    if (p === 'qAttached') return '1';
    if (p === 'qC') return `QC${threadId(this.stopVcpu)}`;
    if (p === 'qfThreadInfo') {
      const live = Array.from({ length: this.machine.vcpuCount }, (_, i) => i).filter((i) => this.machine.vcpuRunState(i) !== 'finished');
      return 'm' + live.map(threadId).join(',');
    }
    if (p === 'qsThreadInfo') return 'l';
    if (p.startsWith('qThreadExtraInfo,')) {
      const v = parseThread(p.slice('qThreadExtraInfo,'.length), this.machine.vcpuCount);
      if (v === undefined || v === 'all') return 'E01';
      return Buffer.from(this.describeVcpu(v)).toString('hex');
    }
    if (p === 'qSymbol::') return 'OK';
    if (p.startsWith('qRcmd,')) return this.monitor.packet(p.slice(6), this.gVcpu, (d) => this.send(d));
    return '';
  }

  /** What 'info threads' shows beside a thread: the vCPU, its mode and its run state. */
  private describeVcpu(vcpu: number): string {
    const state = this.machine.vcpuRunState(vcpu);
    if (state === 'finished') return `vCPU ${vcpu}, finished`;
    const mode = cpuModeName(this.machine.vcpuState(vcpu).getSregs());
    return `vCPU ${vcpu}, ${mode} mode, ${state === 'created' ? 'not started' : state}`;
  }

  /**
   * vCont: each vCPU takes the leftmost action naming it (or naming all). All-stop
   * here means: a stepping thread steps alone, the others stay paused whatever
   * their action (as the debug adapter's step does, so a step never races other
   * vCPUs); without a step, the threads with 'c' run and those with 't' or no
   * action stay paused; the first stop of any vCPU pauses them all again.
   */
  private async vPacket(p: string): Promise<string | undefined> {
    if (p === 'vCont?') return 'vCont;c;C;s;S;t';
    if (!p.startsWith('vCont;')) return '';
    const actions = p.slice(6).split(';').map((a) => {
      const [action, thread] = a.split(':');
      return { action: action![0], thread: thread === undefined ? 'all' : parseThread(thread, this.machine.vcpuCount) };
    });
    if (actions.some((a) => a.thread === undefined || !'cCsSt'.includes(a.action ?? ''))) return 'E01';
    const count = this.machine.vcpuCount;
    const perVcpu = Array.from({ length: count }, (_, v) => actions.find((a) => a.thread === 'all' || a.thread === v)?.action);
    const stepping = perVcpu.findIndex((a) => a === 's' || a === 'S');
    if (stepping >= 0) return this.step(stepping, '');
    const runs = perVcpu.flatMap((a, v) => ((a === 'c' || a === 'C') && this.machine.vcpuRunState(v) !== 'finished' ? [v] : []));
    if (runs.length === 0) return 'E01';
    if (runs.length === perVcpu.filter((_, v) => this.machine.vcpuRunState(v) !== 'finished').length) return this.resumeAll('');
    this.running = true;
    this.access.invalidate();
    for (const v of runs) await this.machine.resume(v);
    return undefined;
  }

  private registerSources(vcpu: number): RegisterSources {
    const st = this.machine.vcpuState(vcpu);
    let fpu: RegisterSources['fpu'];
    try {
      fpu = st.getFpu();
    } catch {
      fpu = undefined;
    }
    return { regs: st.getRegs(), sregs: st.getSregs(), fpu };
  }

  private readMemory(args: string): string {
    const m = /^([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(args);
    const addr = m && parseHexNumber(m[1]!);
    const len = m && parseHexNumber(m[2]!);
    if (addr === undefined || addr === null || len === undefined || len === null) return 'E01';
    const bytes = this.access.read(this.gVcpu, { space: 'virtual', addr: gva(addr) }, Math.min(Number(len), MAX_PACKET / 2 - 8));
    return bytes.length === 0 && len > 0n ? 'E14' : toHex(bytes);
  }

  private writeMemory(args: string): string {
    const m = /^([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(args);
    const addr = m && parseHexNumber(m[1]!);
    const data = m ? fromHex(m[3]!) : undefined;
    if (!m || addr === undefined || addr === null || !data || BigInt(data.length) !== parseHexNumber(m[2]!)) return 'E01';
    const written = this.access.write(this.gVcpu, { space: 'virtual', addr: gva(addr) }, data);
    this.access.invalidate();
    return written === data.length ? 'OK' : 'E14';
  }

  /** 'c [addr]': every vCPU runs; the reply is the next stop. */
  private async resumeAll(addrText: string): Promise<string | undefined> {
    if (addrText) {
      const addr = parseHexNumber(addrText);
      if (addr === undefined) return 'E01';
      this.setPc(this.stopVcpu, addr);
    }
    this.running = true;
    this.access.invalidate();
    await this.machine.resume();
    return undefined;
  }

  private async step(vcpu: number, addrText: string): Promise<string | undefined> {
    if (addrText) {
      const addr = parseHexNumber(addrText);
      if (addr === undefined) return 'E01';
      this.setPc(vcpu, addr);
    }
    if (this.machine.vcpuRunState(vcpu) === 'finished') return 'E01';
    this.running = true;
    this.access.invalidate();
    await this.machine.resume(vcpu, { kind: 'step-instruction' });
    return undefined;
  }

  private setPc(vcpu: number, addr: bigint): void {
    const st = this.machine.vcpuState(vcpu);
    st.setRegs({ ...st.getRegs(), rip: addr });
  }

  private setThread(op: string | undefined, text: string): string {
    const v = parseThread(text, this.machine.vcpuCount);
    if (v === undefined) return 'E01';
    if (op === 'g') this.gVcpu = v === 'all' ? this.stopVcpu : v;
    else if (op === 'c') this.cVcpu = v;
    else return 'E01';
    return 'OK';
  }

  /** Z/z type,addr,kind: int3s for type 0, DR0-3 slots for 1 (execute), 2 (write), 3 (read: exact under emulation, reads and writes under KVM) and 4 (access). */
  private breakpoint(insert: boolean, args: string): string {
    const m = /^([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(args);
    const addr = m && parseHexNumber(m[2]!);
    if (!m || addr === undefined || addr === null) return 'E01';
    const type = Number(m[1]);
    const len = Number(m[3]);
    const key = `${type}:${addr.toString(16)}`;
    if (!insert) {
      if (this.breakpoints.delete(key)) this.applyDebug();
      return 'OK';
    }
    if (this.breakpoints.has(key)) return 'OK';
    const bp: StubBreakpoint = { type: type as StubBreakpoint['type'], addr: gva(addr), len: type === 1 || type === 0 ? 1 : (len as WatchLength) };
    if (type >= 2) {
      if (![1, 2, 4, 8].includes(len) || addr % BigInt(len) !== 0n) return 'E01';
    }
    if (type === 0) {
      const physical = this.access.translate(this.gVcpu, bp.addr);
      if (physical === undefined) return 'E14';
      bp.physical = physical;
    }
    this.breakpoints.set(key, bp);
    const refused = this.applyDebug();
    if (refused.has(key)) {
      this.breakpoints.delete(key);
      this.applyDebug();
      return 'E01';
    }
    return 'OK';
  }

  /** Pushes the breakpoints to the machine; returns those it could not take (int3 outside RAM, no free DR slot). */
  private applyDebug(): Set<string> {
    const refused = new Set<string>();
    const slots: Array<HwSlot | null> = [null, null, null, null];
    const types: Array<StubBreakpoint['type'] | null> = [null, null, null, null];
    const int3: Gpa[] = [];
    const owners = new Map<Gpa, string>();
    const slotKeys: string[] = [];
    for (const [key, bp] of this.breakpoints) {
      if (bp.type === 0) {
        int3.push(bp.physical!);
        owners.set(bp.physical!, key);
        continue;
      }
      const free = slots.indexOf(null);
      if (free < 0) {
        refused.add(key);
        continue;
      }
      slots[free] = { addr: bp.addr, kind: WATCH_KINDS[bp.type], len: bp.len };
      types[free] = bp.type;
      slotKeys[free] = key;
    }
    this.slots = slots;
    this.slotTypes = types;
    const skipped = this.machine.configureDebug({ slots, softwareBreakpoints: int3.length > 0, int3, softWatch: [] }, GDB_OWNER);
    // Another front end (the debug adapter) may hold some of the machine's slots.
    for (const n of this.machine.debugOwners.unplaced(GDB_OWNER)) refused.add(slotKeys[n]!);
    for (const at of skipped) {
      const key = owners.get(at);
      if (key) refused.add(key);
    }
    return refused;
  }
}

/** gdb's Z types 1-4 as the runner's slot kinds. */
const WATCH_KINDS: Record<Exclude<StubBreakpoint['type'], 0>, HwSlot['kind']> = { 1: 'exec', 2: 'write', 3: 'read', 4: 'rw' };

/** vCPU index to the protocol's thread id (1-based, hex). */
function threadId(vcpu: number): string {
  return (vcpu + 1).toString(16).padStart(2, '0');
}

/** A thread id in a packet: -1 and 0 mean any/all, else 1..n names vCPU 0..n-1; undefined when malformed or out of range. */
function parseThread(text: string, count: number): number | 'all' | undefined {
  if (text === '-1' || text === '0') return 'all';
  const n = parseHexNumber(text);
  if (n === undefined || n < 1n || n > BigInt(count)) return undefined;
  return Number(n) - 1;
}

/** The reply once the machine ended: W with the guest's debug-exit status, or X for a crash. */
function exitReply(result: RunResult): string {
  const end = result.end;
  if (end.kind === 'vcpu') {
    if (end.end.kind === 'debug-exit') return `W${(end.end.status & 0xff).toString(16).padStart(2, '0')}`;
    if (end.end.kind === 'poweroff' || end.end.kind === 'reset' || end.end.kind === 'halted') return 'W00';
  }
  return `X${SIGSEGV.toString(16).padStart(2, '0')}`;
}

/** For log lines. */
export function describeAddress(a: net.AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
