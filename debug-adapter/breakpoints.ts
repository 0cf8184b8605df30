// Breakpoint bookkeeping for the debug adapter, independent of DAP: source,
// function, instruction and data breakpoints, their conditions, hit
// conditions and log messages, and how each is implemented: an int3 where the
// host supports software breakpoints, otherwise one of the four hardware
// slots (DR0-3), which data breakpoints always need.

import { interpolate } from '../vmm/expr/interpolate';
import { parseHitCondition } from '../vmm/expr/hit-condition';
import { gva, type Gva } from '../common/address';
import { HW_SLOTS, type DebugConfig, type HwSlot, type WatchLength } from '../vmm/debug';

export type BreakpointKind = 'source' | 'function' | 'instruction' | 'data';

export interface BreakpointOptions {
  condition?: string | undefined;
  hitCondition?: string | undefined;
  logMessage?: string | undefined;
}

export interface ManagedBreakpoint extends BreakpointOptions {
  id: number;
  kind: BreakpointKind;
  /** Linear addresses where it triggers (code breakpoints). */
  addresses: Gva[];
  /** Data breakpoints: what is watched. */
  watch?: { addr: Gva; len: WatchLength; access: 'write' | 'readWrite' };
  verified: boolean;
  message?: string;
  hits: number;
  /** Source breakpoints: the line asked for and the line it landed on. */
  file?: string;
  requestedLine?: number;
  line?: number;
  /** Function breakpoints: the name; instruction breakpoints: the reference. */
  name?: string;
  instructionReference?: string;
  offset?: number;
  dataId?: string;
  /**
   * How it is implemented: 'sw' (int3), a hardware slot (DR0-3), or a
   * software watchpoint ('soft', numbered after the hardware slots).
   */
  impl: Array<{ addr: Gva; how: 'sw' } | { addr: Gva; how: 'hw' | 'soft'; slot: number }>;
}

export interface HitDecision {
  stop: boolean;
  /** Log lines to print (logpoints). */
  logs: string[];
  /** Breakpoints that counted this hit (for the stopped event's hitBreakpointIds). */
  hitIds: number[];
  /** Problems evaluating conditions (the breakpoint then stops, so nothing is missed silently). */
  errors: string[];
}

export { interpolate, parseHitCondition };

export class BreakpointManager {
  private nextId = 1;
  private readonly byGroup = new Map<string, ManagedBreakpoint[]>();

  constructor(
    /** int3 works on this host. */
    private readonly softwareBreakpoints: boolean,
    /** Why not, for breakpoint messages. */
    private readonly softwareUnavailableReason = 'int3 breakpoints do not work on this KVM host',
    /** DR0-3 data watchpoints fire on this host; otherwise data breakpoints are software watchpoints. */
    private readonly hardwareWatchpoints = true,
    /** Breakpoint/watchpoint slots the backend offers: DR0-3 on KVM, more under emulation. */
    private readonly slotCount = HW_SLOTS,
  ) {}

  private replace(group: string, bps: ManagedBreakpoint[]): ManagedBreakpoint[] {
    this.byGroup.set(group, bps);
    this.assign();
    return bps;
  }

  private create(kind: BreakpointKind, opts: BreakpointOptions, fields: Partial<ManagedBreakpoint>): ManagedBreakpoint {
    return {
      id: this.nextId++,
      kind,
      addresses: [],
      verified: false,
      hits: 0,
      impl: [],
      condition: opts.condition,
      hitCondition: opts.hitCondition,
      logMessage: opts.logMessage,
      ...fields,
    };
  }

  /** Replaces the breakpoints of one source file. `resolve` maps a line to code addresses. */
  setSource(
    file: string,
    requests: ReadonlyArray<BreakpointOptions & { line: number }>,
    resolve: (line: number) => { line: number; addresses: Gva[] } | undefined,
  ): ManagedBreakpoint[] {
    return this.replace(
      `source:${file}`,
      requests.map((r) => {
        const at = resolve(r.line);
        const bp = this.create('source', r, { file, requestedLine: r.line, line: at?.line ?? r.line, addresses: at?.addresses ?? [] });
        if (!at) bp.message = `no code for line ${r.line} in the loaded symbols`;
        return bp;
      }),
    );
  }

  setFunction(requests: ReadonlyArray<BreakpointOptions & { name: string }>, resolve: (name: string) => Gva | undefined): ManagedBreakpoint[] {
    return this.replace(
      'function',
      requests.map((r) => {
        const addr = resolve(r.name);
        const bp = this.create('function', r, { name: r.name, addresses: addr === undefined ? [] : [addr] });
        if (addr === undefined) bp.message = `no function "${r.name}" in the loaded symbols`;
        return bp;
      }),
    );
  }

  setInstruction(requests: ReadonlyArray<BreakpointOptions & { instructionReference: string; offset?: number | undefined }>): ManagedBreakpoint[] {
    return this.replace(
      'instruction',
      requests.map((r) => {
        let addr: Gva | undefined;
        try {
          addr = gva(BigInt.asUintN(64, BigInt(r.instructionReference) + BigInt(r.offset ?? 0)));
        } catch {
          addr = undefined;
        }
        const bp = this.create('instruction', r, { instructionReference: r.instructionReference, offset: r.offset ?? 0, addresses: addr === undefined ? [] : [addr] });
        if (addr === undefined) bp.message = `"${r.instructionReference}" is not an address`;
        return bp;
      }),
    );
  }

  setData(requests: ReadonlyArray<BreakpointOptions & { dataId: string; access: 'write' | 'readWrite' }>, parse: (dataId: string) => { addr: Gva; len: WatchLength } | undefined): ManagedBreakpoint[] {
    return this.replace(
      'data',
      requests.map((r) => {
        const w = parse(r.dataId);
        const bp = this.create('data', r, { dataId: r.dataId });
        if (w) bp.watch = { ...w, access: r.access };
        else bp.message = `"${r.dataId}" cannot be watched`;
        return bp;
      }),
    );
  }

  all(): ManagedBreakpoint[] {
    return [...this.byGroup.values()].flat();
  }

  /**
   * Decides the implementation of every breakpoint: data breakpoints take
   * hardware slots first (only DR0-3 can watch data), then code breakpoints
   * use int3 if the host supports it, or the remaining slots.
   */
  private assign(): void {
    let free = this.slotCount;
    let slot = 0;
    const all = this.all().sort((a, b) => a.id - b.id);
    for (const bp of all) bp.impl = [];
    let soft = this.slotCount;
    for (const bp of all.filter((b) => b.kind === 'data' && b.watch)) {
      if (!this.hardwareWatchpoints) {
        if (bp.watch!.access !== 'write') {
          bp.verified = false;
          bp.message = 'this KVM host does not report data breakpoints (probed), and a software watchpoint can only see writes: use "Break on Value Change"';
          continue;
        }
        bp.impl = [{ addr: bp.watch!.addr, how: 'soft', slot: soft++ }];
        bp.verified = true;
        bp.message = 'software watchpoint: this KVM host does not report DR0-3 data breakpoints (probed), so the vCPU runs one instruction at a time while it is set (much slower) and stops when the value changes';
        continue;
      }
      if (free === 0) {
        bp.verified = false;
        bp.message = this.slotCount === HW_SLOTS ? 'all four hardware debug registers (DR0-3) are in use' : `all ${this.slotCount} watchpoint slots are in use`;
        continue;
      }
      const w = bp.watch!;
      if (w.addr % BigInt(w.len) !== 0n) {
        bp.verified = false;
        bp.message = `a ${w.len}-byte watchpoint needs a ${w.len}-byte aligned address`;
        continue;
      }
      bp.impl = [{ addr: w.addr, how: 'hw', slot: slot++ }];
      free--;
      bp.verified = true;
      delete bp.message;
    }
    for (const bp of all.filter((b) => b.kind !== 'data')) {
      if (bp.addresses.length === 0) {
        bp.verified = false;
        continue;
      }
      if (this.softwareBreakpoints) {
        bp.impl = bp.addresses.map((addr) => ({ addr, how: 'sw' as const }));
        bp.verified = true;
        delete bp.message;
        continue;
      }
      if (free < bp.addresses.length) {
        bp.verified = false;
        bp.message = `${this.softwareUnavailableReason}, and the hardware breakpoint slots (DR0-3) are all in use`;
        continue;
      }
      bp.impl = bp.addresses.map((addr) => ({ addr, how: 'hw' as const, slot: slot++ }));
      free -= bp.addresses.length;
      bp.verified = true;
      bp.message = `hardware breakpoint (DR${bp.impl.map((i) => (i.how === 'hw' ? i.slot : '')).join(',DR')}): ${this.softwareUnavailableReason}`;
    }
  }

  debugConfig(): DebugConfig {
    const slots: Array<HwSlot | null> = Array.from({ length: this.slotCount }, () => null);
    for (const bp of this.all()) {
      for (const i of bp.impl) {
        if (i.how !== 'hw') continue;
        slots[i.slot] = bp.watch
          ? { addr: bp.watch.addr, kind: bp.watch.access === 'write' ? 'write' : 'rw', len: bp.watch.len }
          : { addr: i.addr, kind: 'exec', len: 1 };
      }
    }
    return { slots, softwareBreakpoints: this.softwareBreakpoints && this.softwareAddresses().length > 0 };
  }

  /** Software watchpoints: slot, guest-virtual address and length. */
  softWatches(): Array<{ slot: number; addr: Gva; len: WatchLength }> {
    return this.all().flatMap((b) => b.impl.flatMap((i) => (i.how === 'soft' && b.watch ? [{ slot: i.slot, addr: b.watch.addr, len: b.watch.len }] : [])));
  }

  softwareAddresses(): Gva[] {
    return [...new Set(this.all().flatMap((b) => b.impl.filter((i) => i.how === 'sw').map((i) => i.addr)))];
  }

  /** Code breakpoints at `pc`. */
  codeAt(pc: Gva): ManagedBreakpoint[] {
    return this.all().filter((b) => b.kind !== 'data' && b.verified && b.addresses.includes(pc));
  }

  /** Data breakpoints in the given hardware slots. */
  dataInSlots(slots: readonly number[]): ManagedBreakpoint[] {
    return this.all().filter((b) => b.kind === 'data' && b.impl.some((i) => i.how !== 'sw' && slots.includes(i.slot)));
  }

  /**
   * Counts a hit on `bps` and decides whether to stop: a breakpoint whose
   * condition is false does not count; a logpoint logs and does not stop.
   */
  onHit(bps: readonly ManagedBreakpoint[], evaluate: (expr: string) => bigint, format: (expr: string) => string): HitDecision {
    const d: HitDecision = { stop: false, logs: [], hitIds: [], errors: [] };
    for (const bp of bps) {
      if (bp.condition && bp.condition.trim()) {
        try {
          if (evaluate(bp.condition) === 0n) continue;
        } catch (e) {
          d.errors.push(`breakpoint ${bp.id}: condition "${bp.condition}" failed: ${e instanceof Error ? e.message : String(e)}`);
          d.stop = true;
          d.hitIds.push(bp.id);
          continue;
        }
      }
      bp.hits++;
      if (bp.hitCondition && bp.hitCondition.trim()) {
        try {
          if (!parseHitCondition(bp.hitCondition)(bp.hits)) continue;
        } catch (e) {
          d.errors.push(`breakpoint ${bp.id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (bp.logMessage) {
        d.logs.push(interpolate(bp.logMessage, format));
        continue;
      }
      d.stop = true;
      d.hitIds.push(bp.id);
    }
    return d;
  }
}
