// GVA -> GPA -> HVA -> HPA for the debugger: the software walk over the
// vCPU's page tables, level by level, then where the guest page lives on the
// host, with KVM_TRANSLATE's answer beside it. Shapes for the REPL (text),
// the Translation scope (variables) and the `translate` request (JSON).

import { gva, hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import { pagingModeOf, walk, type Access, type WalkFault, type WalkResult } from '../vmm/paging/walk';
import { physReader } from '../vmm/paging/phys';
import { gpaToHva, hostPageOf, type HostPage } from '../vmm/paging/host';
import type { VarNode } from './registers';
import { formatMemoryReference } from '../vmm/guest-access';

export interface Translation {
  walk: WalkResult;
  host?: HostPage;
  /** The backend's own walk of the same address: KVM_TRANSLATE, or QEMU's MMU under emulation. */
  kvm?: { valid: boolean; physical: bigint; writeable: boolean; usermode: boolean };
  /** Which walker `kvm` came from, as shown. */
  checkedBy?: 'KVM_TRANSLATE' | "Unicorn's MMU";
}


export function translateOn(machine: Machine, vcpu: number, addr: bigint, access?: Access): Translation {
  const st = machine.vcpuState(vcpu);
  const s = st.getSregs();
  // MAXPHYADDR and 1 GiB pages as the guest's CPUID has them, so reserved bits are judged as KVM does.
  const result = walk(gva(addr), { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, ...machine.pagingFeatures() }, physReader(machine.memory), access);
  const t: Translation = { walk: result };
  if (result.gpa !== undefined) {
    const hva = gpaToHva(result.gpa, machine.memory.regions);
    if (hva !== undefined) t.host = hostPageOf(hva);
  }
  // The backend's own walk beside vmscope's, as a cross-check: KVM_TRANSLATE, or QEMU's MMU in Unicorn.
  try {
    const k = machine.backendName === 'kvm' ? st.translate(gva(addr)) : machine.mmuTranslate(vcpu, gva(addr));
    t.kvm = { valid: k.valid, physical: k.physical, writeable: k.writeable, usermode: k.usermode };
    t.checkedBy = machine.backendName === 'kvm' ? 'KVM_TRANSLATE' : "Unicorn's MMU";
  } catch {
    // KVM_TRANSLATE can refuse (e.g. non-canonical addresses): the walk still stands.
  }
  return t;
}

export function describeFault(f: WalkFault): string {
  switch (f.kind) {
    case 'not-present':
      return `not mapped: the ${f.name} entry (level ${f.level}) is not present`;
    case 'reserved-bit':
      return `reserved bits ${hex(f.bits)} set in the ${f.name} entry (level ${f.level})`;
    case 'permission':
      return `access denied by the ${f.name} entry (level ${f.level}): ${f.denied}`;
    case 'table-not-in-memory':
      return `the level-${f.level} table at ${hex(f.gpa)} is not in guest memory`;
    case 'non-canonical':
      return 'not a canonical address';
  }
}

function flagText(l: WalkResult['levels'][number]): string {
  const f = l.flags;
  const bits = [f.present ? 'P' : '-', f.write ? 'RW' : 'RO', f.user ? 'US' : 'S', f.accessed ? 'A' : '', f.dirty ? 'D' : '', f.global ? 'G' : '', f.pageSize ? 'PS' : '', f.nx ? 'NX' : '', f.pwt ? 'PWT' : '', f.pcd ? 'PCD' : '', f.pat ? 'PAT' : ''];
  return bits.filter(Boolean).join(' ');
}

function hostText(h: HostPage): string {
  if (!h.present) return `HVA ${hex(h.hva)}: no host page yet (never touched${h.swapped ? ', or swapped out' : ''})`;
  const hpa = h.hpa !== undefined ? `HPA ${hex(h.hpa)}` : `HPA ${h.pfnHidden ?? 'unknown'}`;
  return `HVA ${hex(h.hva)} -> ${hpa} (${h.pageSize / 1024} KiB host page${h.pageSizeNote ? `, ${h.pageSizeNote}` : ''})`;
}

/** The walk as lines of text, for the Debug Console. */
export function formatTranslation(t: Translation): string {
  const w = t.walk;
  const lines = [`GVA ${hex(w.gva)} (${w.mode === 'none' ? 'paging off: linear = physical' : `paging ${w.mode}`})`];
  for (const l of w.levels) {
    lines.push(`  ${l.name.padEnd(5)} table ${hex(l.tableGpa)} [${l.index}] = ${hex(l.entry)}  ${flagText(l)}${l.leaf && l.pageSize ? `  -> ${l.pageSize / 1024} KiB page` : ''}`);
  }
  if (w.gpa !== undefined) lines.push(`  GPA ${hex(w.gpa)}${w.pageSize ? ` in a ${w.pageSize / 1024} KiB page` : ''}; effective ${w.effective.write ? 'RW' : 'RO'} ${w.effective.user ? 'user' : 'supervisor'} ${w.effective.execute ? 'X' : 'NX'}`);
  if (w.fault) lines.push(`  fault: ${describeFault(w.fault)}`);
  if (t.host) lines.push(`  ${hostText(t.host)}`);
  if (t.kvm) lines.push(`  ${t.checkedBy ?? 'KVM_TRANSLATE'}: ${t.kvm.valid ? `GPA ${hex(t.kvm.physical)}` : 'not mapped'}`);
  return lines.join('\n');
}

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
