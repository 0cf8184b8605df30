// The Variables view: scopes per frame (registers by group, the VMCS, the
// translation of rip and rsp, globals, exits), their variables, and
// setVariable. Every node is a VarNode (registers.ts); handles live until the
// guest runs again.

import { Handles, InvalidatedEvent, Scope } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import { describeExitInfo } from '../vmm/exit-trace';
import { VmscopeError } from '../vmm/errors';
import { formatMemoryReference, type MemRef } from '../vmm/guest-access';
import { compile } from '../vmm/expr/evaluate';
import { controlRegisters, formatNumber, fpuRegisters, generalRegisters, msrRegisters, segmentRegisters, type VarNode } from './registers';
import { translateOn, translationNodes } from './translation';
import { vmcsNodes } from './vmcs-view';
import { FRAME_STRIDE, type VmContext } from './context';

/** How many recent exits the Exits scope lists. */
const EXITS_SHOWN = 32;

export class VariablesView {
  private handles = new Handles<() => VarNode[]>();
  /** Nodes by variablesReference, for setVariable and dataBreakpointInfo. */
  private readonly shown = new Map<number, VarNode[]>();

  constructor(private readonly ctx: VmContext) {}

  /** Forgets every handle: the guest ran. */
  reset(): void {
    this.handles.reset();
    this.shown.clear();
  }

  /** A handle for nodes shown elsewhere (the REPL's translate). */
  handleFor(nodes: () => VarNode[]): number {
    return this.handles.create(nodes);
  }

  /** The nodes last shown under a variablesReference. */
  shownUnder(reference: number): VarNode[] | undefined {
    return this.shown.get(reference);
  }

  scopes(frameId: number): DebugProtocol.Scope[] {
    const ctx = this.ctx;
    const vcpu = Math.floor(frameId / FRAME_STRIDE);
    const index = frameId % FRAME_STRIDE;
    const m = ctx.machine;
    if (!m || !Number.isInteger(vcpu) || vcpu < 0 || vcpu >= m.vcpuCount || m.vcpuRunState(vcpu) !== 'paused') return [];
    const st = () => m.vcpuState(vcpu);
    const scope = (name: string, nodes: () => VarNode[], expensive = false, hint?: string) => {
      const s = new Scope(name, this.handles.create(nodes), expensive) as DebugProtocol.Scope;
      if (hint) s.presentationHint = hint;
      return s;
    };
    const scopes: DebugProtocol.Scope[] = [];
    if (index === 0) {
      scopes.push(
        scope('General registers', () => generalRegisters(st()), false, 'registers'),
        scope('Segments', () => segmentRegisters(st()), false, 'registers'),
        scope('Control and debug', () => controlRegisters(st()), false, 'registers'),
        scope('MSRs', () => msrRegisters(st(), ctx.extraMsrs), true, 'registers'),
        scope('FPU/SSE', () => fpuRegisters(st()), true, 'registers'),
        scope('VMCS', () => vmcsNodes(m, vcpu, ctx.memory, ctx.backend), true, 'registers'),
        scope('Translation', () => {
          const r = st().getRegs();
          const sr = st().getSregs();
          return [
            translationNodes('rip', translateOn(m, vcpu, sr.cs.base + r.rip, { execute: true, user: sr.cs.dpl === 3 })),
            translationNodes('rsp', translateOn(m, vcpu, sr.ss.base + r.rsp, { write: true, user: sr.cs.dpl === 3 })),
          ];
        }, true),
      );
    } else {
      const f = ctx.unwind(vcpu)[index];
      if (f) {
        scopes.push(
          scope('Frame', () => [
            { name: 'pc', value: f.pc, bits: 64, memoryReference: hex(f.pc) },
            { name: 'sp', value: f.sp, bits: 64, memoryReference: hex(f.sp) },
            { name: 'fp', value: f.fp, bits: 64, memoryReference: hex(f.fp) },
          ]),
        );
      }
    }
    scopes.push(scope('Globals', () => this.globals(vcpu), true));
    scopes.push(scope('Exits', () => exitsView(m, vcpu), true));
    return scopes;
  }

  variables(reference: number, hexFormat: boolean | undefined): DebugProtocol.Variable[] {
    const nodes = this.handles.get(reference)?.();
    if (!nodes) return [];
    this.shown.set(reference, nodes);
    return nodes.map((n) => this.toVariable(n, hexFormat ?? this.ctx.hexDefault));
  }

  setVariable(args: DebugProtocol.SetVariableArguments): DebugProtocol.SetVariableResponse['body'] {
    const ctx = this.ctx;
    const nodes = this.shown.get(args.variablesReference) ?? this.handles.get(args.variablesReference)?.();
    const node = nodes?.find((n) => n.name === args.name);
    if (!node) throw new VmscopeError(`no variable "${args.name}" here`);
    if (!node.set) throw new VmscopeError(node.readOnlyReason ?? `${args.name} is read-only`);
    node.set(compile(args.value).evaluate(ctx.evalContext(ctx.focus)));
    ctx.guestStateChanged();
    // Re-read so the UI shows what the vCPU now holds.
    const fresh = this.handles.get(args.variablesReference)?.().find((n) => n.name === args.name) ?? node;
    const v = this.toVariable(fresh, args.format?.hex ?? ctx.hexDefault);
    ctx.send(new InvalidatedEvent(['variables', 'stacks']));
    return { value: v.value, variablesReference: v.variablesReference, ...(v.memoryReference ? { memoryReference: v.memoryReference } : {}) };
  }

  private toVariable(node: VarNode, hexFormat: boolean): DebugProtocol.Variable {
    const v: DebugProtocol.Variable = {
      name: node.name,
      value: typeof node.value === 'bigint' ? formatNumber(node.value, node.bits, hexFormat) : node.value,
      variablesReference: node.children ? this.handles.create(node.children) : 0,
    };
    if (node.memoryReference) v.memoryReference = node.memoryReference;
    if (node.evaluateName) v.evaluateName = node.evaluateName;
    if (!node.set) v.presentationHint = { attributes: ['readOnly'] };
    return v;
  }

  /** Object symbols of up to 8 bytes with their current values. */
  private globals(vcpu: number): VarNode[] {
    const ctx = this.ctx;
    return ctx.program
      .allSymbols()
      .filter((s) => s.kind === 'object' && s.size > 0)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((s): VarNode => {
        const ref: MemRef = { space: 'virtual', addr: s.value };
        const width = ([1, 2, 4, 8] as const).find((w) => w === s.size);
        if (!width) return { name: s.name, value: `${s.size} bytes at ${hex(s.value)}`, memoryReference: formatMemoryReference(ref) };
        let value: bigint | string;
        try {
          value = ctx.memory.readUint(vcpu, ref, width);
        } catch (e) {
          value = `<${e instanceof Error ? e.message : String(e)}>`;
        }
        return {
          name: s.name,
          value,
          bits: width * 8,
          memoryReference: formatMemoryReference(ref),
          evaluateName: `u${width * 8}[${s.name}]`,
          set: (v) => {
            const bytes = new Uint8Array(width);
            for (let i = 0; i < width; i++) bytes[i] = Number((v >> BigInt(8 * i)) & 0xffn);
            if (ctx.memory.write(vcpu, ref, bytes) !== width) throw new VmscopeError(`${s.name} is not writable`);
          },
        };
      });
  }
}

/** Exit counts per reason since launch, and this vCPU's last exits. */
function exitsView(m: Machine, vcpu: number): VarNode[] {
  const counts = Object.entries(m.exitCounts()).sort((a, b) => b[1] - a[1]);
  const recent = m.exitTrace().filter((e) => e.vcpu === vcpu).slice(-EXITS_SHOWN).reverse();
  return [
    {
      name: 'counts',
      value: `${counts.reduce((a, [, n]) => a + n, 0)} exits`,
      children: () => counts.map(([name, n]): VarNode => ({ name, value: String(n) })),
    },
    {
      name: 'last exits',
      value: `${recent.length} (newest first)`,
      children: () =>
        recent.map((e, i): VarNode => ({
          name: `[${i}] ${e.exit.reason}`,
          value: `${describeExitInfo(e.exit)}${e.rip !== undefined ? ` at rip ${hex(e.rip)}` : ''} (+${e.time.toFixed(3)} ms)`,
          ...(e.rip !== undefined ? { memoryReference: hex(e.rip) } : {}),
        })),
    },
  ];
}
