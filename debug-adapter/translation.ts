// GVA -> GPA -> HVA -> HPA for the debugger, in the shapes the debug adapter
// shows (the walk itself and its text form live in vmm/paging/translation.ts):
// the Translation scope (variables) and the `translate` request (JSON).

import { hex } from '../common/address';
import { pagingModeOf } from '../vmm/paging/walk';
import { describeFault, flagText, hostText, type Translation } from '../vmm/paging/translation';
import type { VarNode } from './registers';
import { formatMemoryReference } from '../vmm/guest-access';

export { describeFault, formatTranslation, translateOn, type Translation } from '../vmm/paging/translation';

/** The walk as a variable tree, for the Translation scope. */
export function translationNodes(label: string, t: Translation): VarNode {
  const w = t.walk;
  const summary = w.gpa !== undefined ? `${hex(w.gva)} -> GPA ${hex(w.gpa)}${t.host?.hpa !== undefined ? ` -> HPA ${hex(t.host.hpa)}` : ''}` : `${hex(w.gva)}: ${w.fault ? describeFault(w.fault) : 'not mapped'}`;
  return {
    name: label,
    value: summary,
    memoryReference: formatMemoryReference({ space: 'virtual', addr: w.gva }),
    children: () => [
      { name: 'mode', value: w.mode },
      ...w.levels.map(
        (l): VarNode => ({
          name: `${l.name} [${l.index}]`,
          value: `${hex(l.entry)} ${flagText(l)}`,
          memoryReference: formatMemoryReference({ space: 'physical', addr: l.entryGpa }),
          children: () => [
            { name: 'table', value: BigInt(l.tableGpa), bits: 64, memoryReference: formatMemoryReference({ space: 'physical', addr: l.tableGpa }) },
            { name: 'index', value: BigInt(l.index) },
            { name: 'entry', value: l.entry, bits: 64 },
            ...(l.pageSize ? [{ name: 'page size', value: `${l.pageSize / 1024} KiB` }] : []),
          ],
        }),
      ),
      ...(w.gpa !== undefined ? [{ name: 'GPA', value: BigInt(w.gpa), bits: 64, memoryReference: formatMemoryReference({ space: 'physical', addr: w.gpa }) } as VarNode] : []),
      ...(w.fault ? [{ name: 'fault', value: describeFault(w.fault) } as VarNode] : []),
      ...(t.host ? [{ name: 'host', value: hostText(t.host) } as VarNode] : []),
      ...(t.kvm ? [{ name: t.checkedBy ?? 'KVM_TRANSLATE', value: t.kvm.valid ? `GPA ${hex(t.kvm.physical)}` : 'not mapped' } as VarNode] : []),
    ],
  };
}

/** JSON-safe structured form for the `translate` request (bigints as hex strings). */
export function translationJson(t: Translation): object {
  const w = t.walk;
  return {
    gva: hex(w.gva),
    mode: w.mode,
    levels: w.levels.map((l) => ({
      level: l.level,
      name: l.name,
      tableGpa: hex(l.tableGpa),
      index: l.index,
      entryGpa: hex(l.entryGpa),
      entry: hex(l.entry),
      flags: l.flags,
      leaf: l.leaf,
      pageSize: l.pageSize,
    })),
    gpa: w.gpa !== undefined ? hex(w.gpa) : undefined,
    pageSize: w.pageSize,
    effective: w.effective,
    fault: w.fault ? { ...w.fault, ...('bits' in w.fault ? { bits: hex(w.fault.bits) } : {}), ...('gpa' in w.fault ? { gpa: hex(w.fault.gpa) } : {}), text: describeFault(w.fault) } : undefined,
    host: t.host
      ? { hva: hex(t.host.hva), present: t.host.present, hpa: t.host.hpa !== undefined ? hex(t.host.hpa) : undefined, pageSize: t.host.pageSize, note: t.host.pfnHidden ?? t.host.pageSizeNote }
      : undefined,
    kvmTranslate: t.kvm ? { valid: t.kvm.valid, gpa: hex(t.kvm.physical), by: t.checkedBy ?? 'KVM_TRANSLATE' } : undefined,
  };
}

export { pagingModeOf };
