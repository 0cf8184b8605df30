// The REPL, hovers and watches: expressions over registers, symbols and guest
// memory (vmm/expr), `translate <expr>` for a page walk, and completions of
// register and symbol names.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { gva } from '../common/address';
import { GPR_NAMES, SEGMENT_NAMES } from '../vmm/registers';
import { formatMemoryReference } from '../vmm/guest-access';
import { completionPrefix, SUBREGISTERS } from '../vmm/expr/evaluate';
import { formatNumber } from './registers';
import { formatTranslation, translateOn, translationNodes } from './translation';
import { FRAME_STRIDE, type VmContext } from './context';
import type { VariablesView } from './variables';

export function evaluate(ctx: VmContext, variables: VariablesView, args: DebugProtocol.EvaluateArguments): DebugProtocol.EvaluateResponse['body'] {
  const vcpu = args.frameId !== undefined ? Math.floor(args.frameId / FRAME_STRIDE) : ctx.focus;
  const tr = /^\s*translate\s+(.+)$/s.exec(args.expression);
  if (tr) {
    const t = translateOn(ctx.requirePaused(vcpu), vcpu, ctx.evaluateOn(vcpu, tr[1]!));
    const node = translationNodes(`translate ${tr[1]}`, t);
    return { result: formatTranslation(t), variablesReference: variables.handleFor(node.children!) };
  }
  const value = ctx.evaluateOn(vcpu, args.expression);
  return {
    result: formatNumber(value, undefined, args.format?.hex ?? ctx.hexDefault),
    variablesReference: 0,
    memoryReference: formatMemoryReference({ space: 'virtual', addr: gva(BigInt.asUintN(64, value)) }),
  };
}

export function completions(ctx: VmContext, args: DebugProtocol.CompletionsArguments): DebugProtocol.CompletionItem[] {
  const { prefix, start } = completionPrefix(args.text, args.column - 1);
  const bare = prefix.replace(/^\$/, '');
  const regs = [...GPR_NAMES, ...SEGMENT_NAMES, 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', ...Object.keys(SUBREGISTERS)];
  const items: DebugProtocol.CompletionItem[] = [];
  for (const r of regs) if (r.startsWith(bare)) items.push({ label: prefix.startsWith('$') ? `$${r}` : r, type: 'variable' });
  if (!prefix.startsWith('$')) {
    for (const s of ctx.program.allSymbols()) {
      if (s.name.startsWith(bare) && items.length < 200) items.push({ label: s.name, type: s.kind === 'func' ? 'function' : 'reference' });
    }
  }
  for (const i of items) {
    i.start = start;
    i.length = prefix.length;
  }
  return items;
}
