// The breakpoint requests: source, function, instruction and data
// breakpoints (bookkeeping in breakpoints.ts; int3s planted by the machine,
// vmm/sw-breakpoints.ts), and the VM-exit filters shown as exception
// breakpoints, with conditions and a log mode.

import { BreakpointEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { gva, hex, type Gpa, type Gva } from '../common/address';
import type { WatchLength } from '../vmm/debug';
import { EXIT_CODES, splitCondition, type ExitFilterSpec } from '../vmm/exit-trace';
import { parseMemoryReference } from '../vmm/guest-access';
import { compile } from '../vmm/expr/evaluate';
import { parseHitCondition } from '../vmm/expr/hit-condition';
import type { ManagedBreakpoint } from './breakpoints';
import { EXIT_FILTERS } from '../vmm/exit-filters';
import { DAP_OWNER, type VmContext } from './context';

/** One exception filter per VM exit reason user space sees; `defaults` are ticked. */
export function exitFilters(defaults: readonly string[]): DebugProtocol.ExceptionBreakpointsFilter[] {
  const on = new Set<string>(defaults);
  return EXIT_FILTERS.map((f) => ({
    filter: f.id,
    label: f.label,
    description: f.description,
    default: on.has(f.id),
    supportsCondition: true,
    conditionDescription: f.conditionHelp,
  }));
}

/** Sets the exit filters (with conditions, hit counts and log mode) on the machine; one result per filter asked for. */
export function setExitFilters(ctx: VmContext, args: DebugProtocol.SetExceptionBreakpointsArguments): DebugProtocol.Breakpoint[] {
  const options: DebugProtocol.ExceptionFilterOptions[] = [...(args.filterOptions ?? []), ...args.filters.map((filterId) => ({ filterId }))];
  const specs: ExitFilterSpec[] = [];
  const results: DebugProtocol.Breakpoint[] = [];
  /** For each spec, its index in results. */
  const resultOf: number[] = [];
  for (const o of options) {
    const f = EXIT_FILTERS.find((x) => x.id === o.filterId);
    if (!f) {
      results.push({ verified: false, message: `unknown exit filter "${o.filterId}"` });
      continue;
    }
    if (o.condition) {
      try {
        const { expr, hit } = splitCondition(o.condition);
        if (expr) compile(expr);
        if (hit) parseHitCondition(hit);
      } catch (e) {
        results.push({ verified: false, message: e instanceof Error ? e.message : String(e) });
        continue;
      }
    }
    specs.push({ id: f.id, codes: [EXIT_CODES[f.id]], condition: o.condition, logMessage: o.mode === 'log' ? '' : undefined });
    resultOf.push(results.length);
    results.push({ verified: true });
  }
  // RDMSR/WRMSR reach vmscope only through an MSR filter: on while such a filter is set.
  const wantMsrs = specs.some((x) => x.id === 'rdmsr' || x.id === 'wrmsr');
  if (ctx.machine && !ctx.machine.trapMsrs(wantMsrs)) {
    specs.forEach((x, i) => {
      if (x.id === 'rdmsr' || x.id === 'wrmsr') results[resultOf[i]!] = { verified: false, message: 'this KVM cannot route MSR accesses to user space (no KVM_CAP_X86_USER_SPACE_MSR)' };
    });
  }
  ctx.exitSpecs = specs;
  ctx.machine?.configureExits(specs, true, DAP_OWNER);
  return results;
}

/** Pushes the breakpoint plan to the machine: hardware slots and software watchpoints to every vCPU, int3s into memory. */
export function applyBreakpoints(ctx: VmContext): void {
  const m = ctx.machine;
  // A machine that ended has no memory to plant in: the plan is kept, and a restart's machine gets it.
  if (!m || !ctx.access || m.isEnding) return;
  // Breakpoints are set by linear address and planted by physical address, through the focused vCPU's page tables.
  const int3: Gpa[] = [];
  for (const addr of ctx.bps.softwareAddresses()) {
    const phys = ctx.access.translate(ctx.focus, addr);
    if (phys !== undefined) int3.push(phys);
  }
  const softWatch = ctx.bps.softWatches().flatMap((w) => {
    const physical = ctx.access!.translate(ctx.focus, w.addr);
    if (physical === undefined) {
      ctx.console(`watchpoint at ${hex(w.addr)}: not mapped now, not watched\n`);
      return [];
    }
    return [{ slot: w.slot, physical, len: w.len }];
  });
  m.configureDebug({ ...ctx.bps.debugConfig(), int3, softWatch }, DAP_OWNER);
  // A gdb client on the same machine may hold debug registers this session's breakpoints wanted.
  const unplaced = m.debugOwners.unplaced(DAP_OWNER);
  if (unplaced.length) ctx.console(`warning: ${unplaced.length} breakpoint or watchpoint slot(s) not set: gdb holds the other debug registers\n`);
}

export class BreakpointRequests {
  constructor(private readonly ctx: VmContext) {}

  setSource(args: DebugProtocol.SetBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const ctx = this.ctx;
    const file = args.source.path ?? args.source.name ?? '';
    const source: DebugProtocol.SourceBreakpoint[] = args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
    const requests = source.map((b) => ({ line: b.line, condition: b.condition, hitCondition: b.hitCondition, logMessage: b.logMessage }));
    return this.applied(
      ctx.bps.setSource(file, requests, (line) => {
        const at = ctx.program.resolveLine(file, line);
        return at && { line: at.line, addresses: at.addresses.map((a) => gva(a)) };
      }),
    );
  }

  setFunction(args: DebugProtocol.SetFunctionBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const ctx = this.ctx;
    return this.applied(
      ctx.bps.setFunction(args.breakpoints, (name) => {
        const s = ctx.program.symbol(name);
        return s && s.kind === 'func' ? gva(ctx.program.afterPrologue(s)) : undefined;
      }),
    );
  }

  setInstruction(args: DebugProtocol.SetInstructionBreakpointsArguments): DebugProtocol.Breakpoint[] {
    return this.applied(this.ctx.bps.setInstruction(args.breakpoints));
  }

  setData(args: DebugProtocol.SetDataBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const bps = this.ctx.bps.setData(
      args.breakpoints.map((b) => ({
        dataId: b.dataId,
        access: b.accessType === 'write' ? 'write' : 'readWrite',
        condition: b.condition,
        hitCondition: b.hitCondition,
      })),
      (id) => {
        const m = /^0x([0-9a-f]+)\/(1|2|4|8)$/.exec(id);
        return m ? { addr: gva(BigInt('0x' + m[1])), len: Number(m[2]) as WatchLength } : undefined;
      },
    );
    for (const b of args.breakpoints.filter((b) => b.accessType === 'read')) this.ctx.console(`data breakpoint ${b.dataId}: x86 cannot watch reads alone; watching reads and writes\n`);
    return this.applied(bps);
  }

  /** What can be watched for a variable, an expression or an address (the data breakpoint's id and access types). */
  dataBreakpointInfo(args: DebugProtocol.DataBreakpointInfoArguments, shownUnder: (reference: number) => Array<{ name: string; memoryReference?: string; evaluateName?: string }> | undefined): DebugProtocol.DataBreakpointInfoResponse['body'] {
    const ctx = this.ctx;
    const unavailable = (why: string) => ({ dataId: null, description: why });
    let addr: Gva;
    let len: number;
    let label = args.name;
    try {
      if (args.asAddress) {
        const ref = parseMemoryReference(args.name);
        if (ref.space !== 'virtual') return unavailable('x86 debug registers watch linear addresses: use a guest-virtual address');
        addr = ref.addr;
        len = args.bytes ?? 8;
      } else {
        const node = args.variablesReference ? shownUnder(args.variablesReference)?.find((n) => n.name === args.name) : undefined;
        const sym = ctx.program.symbol(args.name);
        if (node && !node.memoryReference?.length) return unavailable(`${args.name} is not in memory`);
        if (node && node.evaluateName?.startsWith('$')) return unavailable('registers cannot be watched: watch the memory they point to (use an address)');
        if (sym && sym.kind === 'object') {
          addr = sym.value;
          len = args.bytes ?? sym.size;
        } else {
          addr = gva(BigInt.asUintN(64, ctx.evaluateOn(ctx.focus, args.name)));
          len = args.bytes ?? 8;
          label = `*(u64*)(${args.name})`;
        }
      }
    } catch (e) {
      return unavailable(e instanceof Error ? e.message : String(e));
    }
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) return unavailable(`x86 debug registers watch 1, 2, 4 or 8 bytes, not ${len}`);
    if (addr % BigInt(len) !== 0n) return unavailable(`a ${len}-byte watchpoint needs a ${len}-byte aligned address (${hex(addr)} is not)`);
    return { dataId: `${hex(addr)}/${len}`, description: `${label} (${len} bytes at ${hex(addr)})`, accessTypes: ['write', 'readWrite'], canPersist: true };
  }

  toDap(bp: ManagedBreakpoint): DebugProtocol.Breakpoint {
    const out: DebugProtocol.Breakpoint = { id: bp.id, verified: bp.verified };
    if (bp.message) out.message = bp.message;
    if (bp.line !== undefined) out.line = bp.line;
    if (bp.file) out.source = this.ctx.source(bp.file);
    if (bp.addresses[0] !== undefined) out.instructionReference = hex(bp.addresses[0]);
    return out;
  }

  /** Applies a changed set and answers for it; hardware slots are shared, so a new breakpoint can change whether others fit. */
  private applied(bps: ManagedBreakpoint[]): DebugProtocol.Breakpoint[] {
    applyBreakpoints(this.ctx);
    const ids = new Set(bps.map((b) => b.id));
    // After the response: the router sends it first, then these.
    queueMicrotask(() => {
      for (const bp of this.ctx.bps.all()) if (!ids.has(bp.id)) this.ctx.send(new BreakpointEvent('changed', this.toDap(bp) as DebugProtocol.Breakpoint));
    });
    return bps.map((b) => this.toDap(b));
  }
}
