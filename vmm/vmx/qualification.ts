// Exit qualifications as the SDM lays them out (Vol. 3C, "Exit Qualification
// for ..." tables in 28.2.1): I/O instructions, EPT violations and debug
// exceptions, composed from what KVM reports plus the decoded instruction.
// Bits nobody could observe are returned in `unknownBits` instead of being
// passed off as zeros.

import { hex } from '../../common/address';
import type { IoExit } from './last-exit';

/** The little the qualifications need from the caller's disassembler. */
export interface DecodedInstruction {
  /** e.g. 'out', 'in', 'outsb', 'rep insd' (a leading rep is ignored here; use hasRepPrefix). */
  mnemonic: string;
  hasRepPrefix: boolean;
  /** The port is an imm8 operand (in al, 0x61 / out 0x80, al), not DX. */
  immediatePort: boolean;
  /** Instruction length in bytes (VM-exit instruction length). */
  length: number;
}

/** A composed qualification: `value` with the bits in `unknownBits` shown as 0 because nothing told us them. */
export interface Composed {
  value: bigint;
  unknownBits: bigint;
}

// ---- I/O instructions (Table "Exit Qualification for I/O Instructions") ----

export interface IoQualification {
  size: 1 | 2 | 4;
  in: boolean;
  string: boolean;
  rep: boolean;
  /** Operand encoding: true = immediate port, false = DX. */
  immediate: boolean;
  port: number;
}

const IO_SIZE_CODE: Readonly<Record<1 | 2 | 4, number>> = { 1: 0, 2: 1, 4: 3 };

export function encodeIoQualification(q: IoQualification): bigint {
  const code = IO_SIZE_CODE[q.size];
  if (code === undefined) throw new RangeError(`I/O size must be 1, 2 or 4 bytes, not ${q.size}`);
  if (!Number.isInteger(q.port) || q.port < 0 || q.port > 0xffff) throw new RangeError(`I/O port out of range: ${q.port}`);
  let v = code; // bits 2:0 size - 1
  if (q.in) v |= 1 << 3; // direction: 1 = IN
  if (q.string) v |= 1 << 4;
  if (q.rep) v |= 1 << 5;
  if (q.immediate) v |= 1 << 6; // operand encoding: 1 = immediate
  return BigInt(v) | (BigInt(q.port) << 16n); // bits 31:16 port
}

export function decodeIoQualification(q: bigint | number): IoQualification {
  const v = Number(BigInt(q) & 0xffffffffn);
  const code = v & 7;
  const size = code === 0 ? 1 : code === 1 ? 2 : code === 3 ? 4 : undefined;
  if (size === undefined) throw new RangeError(`I/O qualification ${hex(v)} has reserved size code ${code}`);
  return {
    size,
    in: (v & (1 << 3)) !== 0,
    string: (v & (1 << 4)) !== 0,
    rep: (v & (1 << 5)) !== 0,
    immediate: (v & (1 << 6)) !== 0,
    port: v >>> 16,
  };
}

/** kvm_run.io as the caller read it. */
export interface KvmIo {
  port: number;
  size: number;
  in: boolean;
  count: number;
  value?: number;
}

/**
 * Completes an I/O exit with what only the instruction tells: string or not,
 * REP, and DX versus immediate. Throws when the instruction does not match the
 * exit (a stale or wrong decode), so a mismatched qualification never appears.
 */
export function ioExitFromKvm(io: KvmIo, insn: DecodedInstruction): IoExit {
  const m = insn.mnemonic.trim().toLowerCase().replace(/^rep(e|z|ne|nz)?\s+/, '');
  const string = /^(ins|outs)[bwd]?$/.test(m);
  const plain = m === 'in' || m === 'out';
  if (!string && !plain) throw new Error(`"${insn.mnemonic}" is not an I/O instruction`);
  if (m.startsWith('in') !== io.in) throw new Error(`"${insn.mnemonic}" does not match an ${io.in ? 'IN' : 'OUT'} exit`);
  if (string && insn.immediatePort) throw new Error(`"${insn.mnemonic}" cannot take an immediate port`);
  const out: IoExit = {
    port: io.port,
    size: io.size,
    in: io.in,
    count: io.count,
    string,
    // The SDM's REP bit describes string instructions; a REP prefix on IN/OUT has no effect.
    rep: string && insn.hasRepPrefix,
    immediate: insn.immediatePort,
  };
  if (io.value !== undefined) out.value = io.value;
  return out;
}

/**
 * An I/O exit's detail without its instruction (a stop being described as it
 * happens): a count above one means a string instruction with REP; a single
 * transfer reads as IN/OUT through DX.
 */
export function ioExitEstimate(io: KvmIo): IoExit {
  const many = io.count > 1;
  return { port: io.port, size: io.size, in: io.in, count: io.count, string: many, rep: many, immediate: false, ...(io.value !== undefined ? { value: io.value } : {}) };
}

export function ioQualificationOf(io: IoExit): bigint {
  if (io.size !== 1 && io.size !== 2 && io.size !== 4) throw new RangeError(`I/O size must be 1, 2 or 4 bytes, not ${io.size}`);
  return encodeIoQualification({ size: io.size, in: io.in, string: io.string, rep: io.rep, immediate: io.immediate, port: io.port });
}

// ---- EPT violations (Table "Exit Qualification for EPT Violations") ----

export interface EptViolationQualification {
  /** Bit 0: data read. */
  read: boolean;
  /** Bit 1: data write. */
  write: boolean;
  /** Bit 2: instruction fetch. */
  fetch: boolean;
  /**
   * Bits 3-5 (and 6 with mode-based execute control): the permissions of the
   * EPT paging-structure entries that translated the address, ANDed. Absent
   * when not known, which is the case for anything user space reports.
   */
  entry?: { readable: boolean; writable: boolean; executable: boolean; userExecutable?: boolean };
  /** Bit 7: the guest linear-address field is valid. */
  linearAddressValid: boolean;
  /** Bit 8 (with bit 7): the access was to the translation of a linear address (true), not to a paging-structure entry. */
  translatedAccess: boolean;
  /** Bits 9-11 (advanced VM-exit information, CPU-dependent): absent when not known. */
  advanced?: { userMode: boolean; writablePage: boolean; executeDisable: boolean };
  /** Bit 12: NMI unblocking due to IRET. */
  nmiUnblocking: boolean;
}

const EPT_ENTRY_BITS = 0x38n; // 3-5
const EPT_USER_EXEC_BIT = 0x40n; // 6
const EPT_ADVANCED_BITS = 0xe00n; // 9-11

export function encodeEptViolationQualification(q: EptViolationQualification): Composed {
  let v = 0n;
  let unknown = 0n;
  if (q.read) v |= 1n;
  if (q.write) v |= 2n;
  if (q.fetch) v |= 4n;
  if (q.entry) {
    if (q.entry.readable) v |= 1n << 3n;
    if (q.entry.writable) v |= 1n << 4n;
    if (q.entry.executable) v |= 1n << 5n;
    if (q.entry.userExecutable === undefined) unknown |= EPT_USER_EXEC_BIT;
    else if (q.entry.userExecutable) v |= 1n << 6n;
  } else {
    unknown |= EPT_ENTRY_BITS | EPT_USER_EXEC_BIT;
  }
  if (q.linearAddressValid) {
    v |= 1n << 7n;
    if (q.translatedAccess) v |= 1n << 8n;
  }
  if (q.advanced) {
    if (q.advanced.userMode) v |= 1n << 9n;
    if (q.advanced.writablePage) v |= 1n << 10n;
    if (q.advanced.executeDisable) v |= 1n << 11n;
  } else {
    unknown |= EPT_ADVANCED_BITS;
  }
  if (q.nmiUnblocking) v |= 1n << 12n;
  return { value: v, unknownBits: unknown };
}

/** Decodes a qualification; fields whose bits are in unknownBits come back absent. */
export function decodeEptViolationQualification(q: bigint | number, unknownBits = 0n): EptViolationQualification {
  const v = BigInt(q);
  const bit = (n: bigint) => (v & (1n << n)) !== 0n;
  const out: EptViolationQualification = {
    read: bit(0n),
    write: bit(1n),
    fetch: bit(2n),
    linearAddressValid: bit(7n),
    translatedAccess: bit(7n) && bit(8n),
    nmiUnblocking: bit(12n),
  };
  if ((unknownBits & EPT_ENTRY_BITS) === 0n) {
    out.entry = { readable: bit(3n), writable: bit(4n), executable: bit(5n) };
    if ((unknownBits & EPT_USER_EXEC_BIT) === 0n) out.entry.userExecutable = bit(6n);
  }
  if ((unknownBits & EPT_ADVANCED_BITS) === 0n) {
    out.advanced = { userMode: bit(9n), writablePage: bit(10n), executeDisable: bit(11n) };
  }
  return out;
}

// ---- Debug exceptions (Table "Exit Qualification for Debug Exceptions") ----

/**
 * The #DB qualification from the DR6 KVM reported (kvm_run.debug.arch.dr6).
 * B0-B3 (bits 3:0), BD (13) and BS (14) carry over. Bit 16 (RTM) cannot: KVM
 * reports DR6 with its active-low bits forced to 1, so it is unknown.
 */
export function debugQualificationFromDr6(dr6: bigint): Composed {
  return { value: dr6 & 0x600fn, unknownBits: 1n << 16n };
}
