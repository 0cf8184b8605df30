// What a VMCS field encoding says about its field (SDM Vol. 3C, Appendix B:
// access type bit 0, index 9:1, type 11:10, width 14:13), the display groups
// of the SDM's VMCS layout, and lookups over the generated table in fields.ts.

import { VMCS_FIELDS } from './fields';

export type { VmcsFieldDef, VmcsGroup, VmcsType, VmcsWidth } from './table-types';
import type { VmcsFieldDef, VmcsGroup, VmcsType, VmcsWidth } from './table-types';

/** The SDM's order of the VMCS areas (Vol. 3C, 25.3-25.9). */
export const GROUP_ORDER: readonly VmcsGroup[] = [
  'guest-registers',
  'guest-segments',
  'guest-descriptor-tables',
  'guest-msrs',
  'guest-non-register',
  'host-state',
  'execution-controls',
  'exit-controls',
  'entry-controls',
  'exit-information',
];

export const GROUP_TITLES: Readonly<Record<VmcsGroup, string>> = {
  'guest-registers': 'Guest-state area: registers',
  'guest-segments': 'Guest-state area: segment registers',
  'guest-descriptor-tables': 'Guest-state area: descriptor-table registers',
  'guest-msrs': 'Guest-state area: MSRs',
  'guest-non-register': 'Guest-state area: non-register state',
  'host-state': 'Host-state area',
  'execution-controls': 'VM-execution control fields',
  'exit-controls': 'VM-exit control fields',
  'entry-controls': 'VM-entry control fields',
  'exit-information': 'VM-exit information fields',
};

const WIDTHS: readonly VmcsWidth[] = [16, 64, 32, 'natural'];
const TYPES: readonly VmcsType[] = ['control', 'exit-information', 'guest-state', 'host-state'];

export function encodingWidth(encoding: number): VmcsWidth {
  return WIDTHS[(encoding >>> 13) & 3]!;
}

export function encodingType(encoding: number): VmcsType {
  return TYPES[(encoding >>> 10) & 3]!;
}

export function encodingIsHigh(encoding: number): boolean {
  return (encoding & 1) === 1;
}

/** Bytes a field occupies in memory (natural-width fields as 64 bits, as KVM stores them). */
export function widthBytes(width: VmcsWidth): 2 | 4 | 8 {
  return width === 16 ? 2 : width === 32 ? 4 : 8;
}

const byName = new Map(VMCS_FIELDS.map((f) => [f.name, f]));
const byEncoding = new Map(VMCS_FIELDS.map((f) => [f.encoding, f]));

export function fieldByName(name: string): VmcsFieldDef | undefined {
  return byName.get(name);
}

export function fieldByEncoding(encoding: number): VmcsFieldDef | undefined {
  return byEncoding.get(encoding);
}

/** Like fieldByName, for names the code itself spells: a typo throws at once rather than hiding a field. */
export function field(name: string): VmcsFieldDef {
  const f = byName.get(name);
  if (!f) throw new Error(`no VMCS field named ${name}`);
  return f;
}

const groupRank = new Map(GROUP_ORDER.map((g, i) => [g, i]));
const tableRank = new Map(VMCS_FIELDS.map((f, i) => [f.name, i]));

/** Orders by SDM area, then by the table's (encoding) order. */
export function compareDisplay(a: { group: string; name: string }, b: { group: string; name: string }): number {
  const g = (groupRank.get(a.group as VmcsGroup) ?? 99) - (groupRank.get(b.group as VmcsGroup) ?? 99);
  return g !== 0 ? g : (tableRank.get(a.name) ?? 0) - (tableRank.get(b.name) ?? 0);
}

/** The fields a VMCS view shows: full accesses only (a _HIGH half is part of its 64-bit field), in SDM order. */
export function displayFields(): VmcsFieldDef[] {
  return VMCS_FIELDS.filter((f) => f.access === 'full').sort(compareDisplay);
}
