// What hand delivery delivers (an exception, an external interrupt or INT n), the exceptions raised while
// delivering it, and how a second exception combines with the first (SDM Vol. 3A 6.15, Tables 6-4 and 6-5):
// delivered instead, escalated to #DF, or a triple fault.

import { hex } from '../../../common/address';

export type DeliveryEvent = {
  vector: number;
  /** exception: a fault/trap raised by an instruction; interrupt: an external interrupt (device, IF checked by the caller); software: int n / int3 / into (gate DPL checked against CPL, RIP already past the instruction) */
  source: 'exception' | 'interrupt' | 'software';
  /** Pushed when defined (the caller decides per vector: 8, 10-14, 17, 21, 29, 30); never in real mode. */
  errorCode?: number;
  /**
   * Software only: the INT instruction's length. A fault while delivering it is
   * reported at the INT instruction, so RIP goes back by this much. When omitted
   * it is read from the bytes before RIP (CC, CE or CD nn).
   */
  instructionLength?: number;
};

export type DeliveryResult =
  | { kind: 'delivered'; vector: number; /** #DF when a fault during delivery escalated */ escalated?: boolean }
  /** A fault while delivering #DF (shutdown, as KVM_EXIT_SHUTDOWN), or something this module does not model; the CPU state is left as it was. */
  | { kind: 'triple-fault'; why: string };

// Vectors (SDM Vol. 3A, Table 6-1) this module raises or classifies.
export const DF = 8;
export const TS = 10;
export const NP = 11;
export const SS = 12;
export const GP = 13;
export const PF = 14;

const NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', '#CSO', '#TS', '#NP', '#SS', '#GP', '#PF', 'vector 15', '#MF', '#AC', '#MC', '#XM', '#VE', '#CP'];
export const vectorName = (v: number): string => NAMES[v] ?? `vector ${hex(v)}`;

/** Whether the vector pushes an error code when raised as an exception (SDM Vol. 3A, Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21 || vector === 29 || vector === 30;
}

/** An exception raised while delivering an event: what the CPU would deliver next. */
export class Fault extends Error {
  constructor(
    readonly vector: number,
    readonly errorCode: number,
    why: string,
    /** For #PF: the address that goes into CR2. */
    readonly cr2?: bigint,
  ) {
    super(why);
  }
}

/** A condition this module does not model (task gates, memory outside the guest without paging): the run must stop. */
export class Unmodelled extends Error {}

/** The event a delivery attempt is working on: the original one, or the exception that replaced it. */
export interface Pending {
  vector: number;
  source: DeliveryEvent['source'];
  errorCode: number | undefined;
}

type ExceptionClass = 'benign' | 'contributory' | 'page-fault';

/** SDM Vol. 3A, Table 6-4; interrupts and INT n are benign. */
function classOf(vector: number, source: DeliveryEvent['source']): ExceptionClass {
  if (source !== 'exception') return 'benign';
  if (vector === 0 || (vector >= 10 && vector <= 13) || vector === 21) return 'contributory';
  return vector === PF || vector === 20 ? 'page-fault' : 'benign';
}

/** SDM Vol. 3A, Table 6-5. */
export function needsDoubleFault(first: Pending, second: number): boolean {
  const a = classOf(first.vector, first.source);
  const b = classOf(second, 'exception');
  return (a === 'contributory' && b === 'contributory') || (a === 'page-fault' && b !== 'benign');
}
