// The row types of the generated tables (fields.ts, exit-reason-table.ts,
// vmcs12-layout.ts), beside them rather than in the modules that use them,
// so a generated table imports nothing that imports it back.

export type VmcsWidth = 16 | 32 | 64 | 'natural';
/** Encoding bits 11:10: 0 control, 1 VM-exit information (read-only data), 2 guest state, 3 host state. */
export type VmcsType = 'control' | 'exit-information' | 'guest-state' | 'host-state';
export type VmcsGroup =
  | 'guest-registers'
  | 'guest-segments'
  | 'guest-descriptor-tables'
  | 'guest-msrs'
  | 'guest-non-register'
  | 'host-state'
  | 'execution-controls'
  | 'exit-controls'
  | 'entry-controls'
  | 'exit-information';

export interface VmcsFieldDef {
  name: string;
  encoding: number;
  width: VmcsWidth;
  type: VmcsType;
  group: VmcsGroup;
  /** 'high': VMREAD/VMWRITE of the upper 32 bits of the 64-bit field `full`. Display shows the full field only. */
  access: 'full' | 'high';
  full?: string;
}


export interface VmxExitReasonDef {
  reason: number;
  /** The kernel's name without EXIT_REASON_. */
  name: string;
}

export interface Vmcs12Member {
  member: string;
  offset: number;
  /** Size of one element in bytes. */
  size: number;
  count: number;
}

export interface Vmcs12FieldOffset {
  /** enum vmcs_field name. */
  name: string;
  encoding: number;
  /** struct vmcs12 member that holds it. */
  member: string;
  offset: number;
  size: number;
}
