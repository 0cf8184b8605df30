// A GVA translated for a person: vmscope's software walk over the vCPU's page
// tables level by level, where the guest page lives on the host, and the
// backend's own walk beside it; shared by the debug adapter and the gdb stub.

import { gva, hex } from '../../common/address';
import type { Machine } from '../machine';
import { walk, type Access, type WalkFault, type WalkResult } from './walk';
import { physReader } from './phys';
import { gpaToHva, hostPageOf, type HostPage } from './host';

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

export function flagText(l: WalkResult['levels'][number]): string {
  const f = l.flags;
  const bits = [f.present ? 'P' : '-', f.write ? 'RW' : 'RO', f.user ? 'US' : 'S', f.accessed ? 'A' : '', f.dirty ? 'D' : '', f.global ? 'G' : '', f.pageSize ? 'PS' : '', f.nx ? 'NX' : '', f.pwt ? 'PWT' : '', f.pcd ? 'PCD' : '', f.pat ? 'PAT' : ''];
  return bits.filter(Boolean).join(' ');
}

export function hostText(h: HostPage): string {
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

