// Several debuggers on one machine (the debug adapter and a gdb stub, say):
// each front end owns its own debug configuration, and the machine runs the
// union. Pure bookkeeping, no threads.
//
// Contracts:
// - int3s: the union of every owner's; an address two owners asked for stays
//   planted until both drop it.
// - Hardware slots: each owner numbers its slots from 0 as if it had them all;
//   they are placed in the machine's slots (DR0-3 on KVM, more under
//   emulation), keeping an owner's slot where it was placed before (so a stop
//   already under way still names the right one), else its own number when
//   that is free, else the lowest free one. A slot that finds no room is
//   unplaced, and the owner is told (`unplaced`) so it can refuse it.
// - Software watchpoints share the numbering (a stop names both kinds the
//   same way): each keeps its number when free, else goes after the hardware slots.
// - A stop names machine slots: `ownSlots` turns them back into an owner's.
// - Exit filters: the concatenation of every owner's; tracing if anyone wants it.

import type { Gpa } from '../common/address';
import type { DebugConfig, HwSlot, SoftWatch } from './debug';
import type { ExitFilterSpec } from './exit-trace';

/** Who set a debug configuration; a machine with one front end only ever sees DEFAULT_OWNER. */
export type DebugOwner = string;
export const DEFAULT_OWNER: DebugOwner = 'default';

interface Owned {
  config: DebugConfig;
  /** Owner slot number -> machine slot number (hardware slots and software watchpoints alike). */
  placed: Map<number, number>;
  unplaced: number[];
}

export class DebugOwners {
  private readonly owners = new Map<DebugOwner, Owned>();
  private readonly exits = new Map<DebugOwner, { filters: ExitFilterSpec[]; trace: boolean }>();

  /** `capacity`: the machine's hardware slots (the backend's maxHardwareBreakpoints). */
  constructor(private readonly capacity: number) {}

  /** Replaces `owner`'s configuration; returns the merged one for the machine. */
  set(owner: DebugOwner, config: DebugConfig): DebugConfig {
    const previous = this.owners.get(owner)?.placed ?? new Map<number, number>();
    const taken = new Set<number>();
    for (const [o, owned] of this.owners) if (o !== owner) for (const p of owned.placed.values()) taken.add(p);
    const placed = new Map<number, number>();
    const unplaced: number[] = [];
    /** Hardware slots go in [0, capacity); a software watchpoint keeps its own number when free, else goes after them. */
    const place = (mine: number, hardware: boolean): void => {
      const fits = (c: number | undefined): c is number => c !== undefined && c >= 0 && (!hardware || c < this.capacity) && !taken.has(c);
      let at = [previous.get(mine), mine].find(fits);
      for (let c = hardware ? 0 : this.capacity; at === undefined && (!hardware || c < this.capacity); c++) if (!taken.has(c)) at = c;
      if (at === undefined) {
        unplaced.push(mine);
        return;
      }
      taken.add(at);
      placed.set(mine, at);
    };
    config.slots.forEach((s, i) => {
      if (s) place(i, true);
    });
    for (const w of config.softWatch ?? []) place(w.slot, false);
    this.owners.set(owner, { config, placed, unplaced });
    return this.merged();
  }

  /** Drops `owner`'s breakpoints and exit filters (its client went away). */
  clear(owner: DebugOwner): void {
    this.owners.delete(owner);
    this.exits.delete(owner);
  }

  /** What every owner asked for, together: what the machine plants and sends to its vCPUs. */
  merged(): DebugConfig {
    const slots: Array<HwSlot | null> = Array.from({ length: this.capacity }, () => null);
    const int3 = new Set<Gpa>();
    const softWatch: SoftWatch[] = [];
    let softwareBreakpoints = false;
    for (const { config, placed } of this.owners.values()) {
      config.slots.forEach((s, i) => {
        const at = placed.get(i);
        if (s && at !== undefined) slots[at] = s;
      });
      for (const w of config.softWatch ?? []) {
        const at = placed.get(w.slot);
        if (at !== undefined) softWatch.push({ ...w, slot: at });
      }
      for (const a of config.int3 ?? []) int3.add(a);
      softwareBreakpoints ||= config.softwareBreakpoints;
    }
    return { slots, softwareBreakpoints, int3: [...int3], softWatch };
  }

  /** `owner`'s slots that found no machine slot at its last set. */
  unplaced(owner: DebugOwner): number[] {
    return [...(this.owners.get(owner)?.unplaced ?? [])];
  }

  /** Machine slot numbers (a watchpoint stop's) as `owner` numbers them; slots of other owners are left out. */
  ownSlots(owner: DebugOwner, machineSlots: readonly number[]): number[] {
    const placed = this.owners.get(owner)?.placed;
    if (!placed) return [];
    const out: number[] = [];
    for (const [mine, at] of placed) if (machineSlots.includes(at)) out.push(mine);
    return out;
  }

  /** The owners of machine slots (a watchpoint or hardware breakpoint stop's). */
  slotOwners(machineSlots: readonly number[]): DebugOwner[] {
    return [...this.owners].filter(([, o]) => [...o.placed.values()].some((at) => machineSlots.includes(at))).map(([owner]) => owner);
  }

  /** The owners that asked for an int3 at `at`. */
  int3Owners(at: Gpa): DebugOwner[] {
    return [...this.owners].filter(([, o]) => o.config.int3?.includes(at)).map(([owner]) => owner);
  }

  /** The owners with a hardware execute breakpoint at linear address `pc`. */
  execOwners(pc: bigint): DebugOwner[] {
    return [...this.owners].filter(([, o]) => o.config.slots.some((s, i) => s && s.kind === 'exec' && s.addr === pc && o.placed.has(i))).map(([owner]) => owner);
  }

  /** Replaces `owner`'s exit filters; returns every owner's, for the vCPUs. */
  setExits(owner: DebugOwner, filters: ExitFilterSpec[], trace: boolean): { filters: ExitFilterSpec[]; trace: boolean } {
    this.exits.set(owner, { filters, trace });
    const all = [...this.exits.values()];
    return { filters: all.flatMap((e) => e.filters), trace: all.some((e) => e.trace) };
  }

  /** The owners with an exit filter of id `filter`. */
  exitOwners(filter: string): DebugOwner[] {
    return [...this.exits].filter(([, e]) => e.filters.some((f) => f.id === filter)).map(([owner]) => owner);
  }
}
