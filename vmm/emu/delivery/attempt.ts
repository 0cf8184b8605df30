// What one delivery attempt works on (copies of the CPU state, committed only if it succeeds) and the memory
// accesses it makes: reads of the IVT, IDT, GDT and TSS and pushes of the frame, each checked against the guest's
// page tables as the CPU would, so that a fault while delivering is raised where the CPU raises it.

import { gva, hex } from '../../../common/address';
import { walk, type PagingContext, type ReadPhys, type WalkFault } from '../../paging/walk';
import type { Regs, Segment, Sregs } from '../../registers';
import { CR4_PAE, CR4_SMEP, EFER_LMA, EFER_NXE } from '../../registers';
import { Fault, GP, PF, SS, Unmodelled } from './events';

export interface DeliveryCpu {
  getRegs(): Regs;
  setRegs(r: Regs): void;
  getSregs(): Sregs;
  /** Writes segment registers with their hidden parts; the CPL becomes cs.dpl (ss.dpl in real mode 0). The backend makes this so. */
  setSregs(s: Sregs): void;
  /** Reads `len` bytes at a linear address through the guest's current page tables (supervisor access), or undefined if not mapped. */
  readLinear(addr: bigint, len: number): Uint8Array | undefined;
  /** Writes bytes at a linear address (supervisor, ignoring WP); false if not mapped/writable. */
  writeLinear(addr: bigint, bytes: Uint8Array): boolean;
  /**
   * Reads guest-physical memory, for walks of the guest's page tables: they
   * decide whether an access made during delivery faults (and the #PF error
   * code it gets), and serve pageFaultErrorCode.
   */
  readPhys: ReadPhys;
}

export const MASK16 = 0xffffn;
export const MASK32 = 0xffff_ffffn;
export const MASK64 = (1n << 64n) - 1n;

/** What one delivery attempt works on: copies of the CPU state, committed only if the attempt succeeds. */
export interface Attempt {
  cpu: DeliveryCpu;
  regs: Regs;
  sregs: Sregs;
  /** IA-32e mode (64-bit IDT gates, 64-bit TSS) whether in 64-bit or compatibility mode. */
  long: boolean;
  paging: boolean;
  /** The EXT bit of error codes: 1 unless the event is a software interrupt (SDM 6.13). */
  ext: number;
  /** Pages already walked for an access kind (`page:write:user`): a frame's pushes share one or two pages. */
  allowed: Set<string>;
}

/** CS.base + RIP; in 64-bit mode CS has no base, elsewhere linear addresses are 32 bits wide. */
export function linearRip(regs: Regs, sregs: Sregs): bigint {
  return (sregs.efer & EFER_LMA) !== 0n && sregs.cs.l ? regs.rip : (sregs.cs.base + regs.rip) & MASK32;
}

/** What the walker needs beyond the control registers (CPUID-derived; the walker's defaults otherwise). */
export type PagingFeatures = Pick<PagingContext, 'maxPhysAddr' | 'gbPages'>;

export function pagingContext(sregs: Sregs, features: PagingFeatures = {}): PagingContext {
  return { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer, ...features };
}

export type AccessKind = 'fetch' | 'read' | 'write';

/** The #PF error code's P, W/R, U/S, RSVD and I/D bits (SDM Vol. 3A 4.7) for a walk's outcome. */
export function errorCodeOf(fault: WalkFault | undefined, kind: AccessKind, user: boolean, sregs: Sregs): number {
  // P: the translation existed (a permission or reserved-bit fault, or a walk that passes now, as after a stale TLB entry).
  let err = fault === undefined || fault.kind === 'permission' || fault.kind === 'reserved-bit' ? 1 : 0;
  if (kind === 'write') err |= 2;
  if (user) err |= 4;
  if (fault?.kind === 'reserved-bit') err |= 8;
  // I/D is reported only with PAE-style paging and EFER.NXE, or with CR4.SMEP; otherwise it reads 0.
  const idReported = ((sregs.cr4 & CR4_PAE) !== 0n && (sregs.efer & EFER_NXE) !== 0n) || (sregs.cr4 & CR4_SMEP) !== 0n;
  if (kind === 'fetch' && idReported) err |= 0x10;
  return err;
}

/**
 * Checks an access the CPU makes while delivering, page by page, against the
 * guest's tables: #PF with CR2 at the first byte that faults. Accesses to the
 * IDT, GDT and TSS are implicit supervisor accesses; pushes are user accesses
 * when the handler runs at CPL 3.
 */
function checkPaging(a: Attempt, addr: bigint, len: number, what: string, write: boolean, user: boolean): void {
  if (!a.paging) return;
  const end = addr + BigInt(len);
  for (let at = addr; at < end; at = (at | 0xfffn) + 1n) {
    const key = `${at >> 12n}:${write}:${user}`;
    if (a.allowed.has(key)) continue;
    const w = walk(gva(at), pagingContext(a.sregs), a.cpu.readPhys, { write, user });
    if (w.fault === undefined) {
      a.allowed.add(key);
      continue;
    }
    if (w.fault.kind === 'non-canonical') throw new Fault(GP, a.ext, `${what} at ${hex(at)} is not canonical`);
    throw new Fault(PF, errorCodeOf(w.fault, write ? 'write' : 'read', user, a.sregs), `${what} at ${hex(at)}: ${w.fault.kind}`, at);
  }
}

/** Outside IA-32e mode linear addresses are 32 bits wide. */
export function linear(a: Attempt, addr: bigint): bigint {
  return a.long ? BigInt.asUintN(64, addr) : addr & MASK32;
}

/** A supervisor read of `len` bytes; memory the tables allow but that is not guest RAM cannot be modelled. */
export function read(a: Attempt, addr: bigint, len: number, what: string): DataView {
  const at = linear(a, addr);
  checkPaging(a, at, len, what, false, false);
  const bytes = a.cpu.readLinear(at, len);
  if (bytes === undefined || bytes.length < len) throw new Unmodelled(`${what} at ${hex(at)} is not in guest memory`);
  return new DataView(bytes.buffer, bytes.byteOffset, len);
}

export function write(a: Attempt, addr: bigint, bytes: Uint8Array, what: string, user: boolean): void {
  checkPaging(a, addr, bytes.length, what, true, user);
  if (!a.cpu.writeLinear(addr, bytes)) throw new Unmodelled(`${what} at ${hex(addr)} is not in guest memory`);
}

export interface Slot {
  value: bigint;
  size: 2 | 4 | 8;
}

/**
 * Pushes `slots` in order (the first at the highest address) below `sp` on
 * `ss`, after checking every slot against the segment limit (#SS(ssErr)).
 * Returns the new stack pointer within `mask`.
 */
export function pushFrame(a: Attempt, ss: Segment, sp: bigint, mask: bigint, slots: Slot[], ssErr: number, user: boolean): bigint {
  const offsets: bigint[] = [];
  let at = sp;
  for (const s of slots) {
    at = (at - BigInt(s.size)) & mask;
    offsets.push(at);
    if (a.long) continue;
    const last = at + BigInt(s.size) - 1n;
    const expandDown = ss.s === 1 && (ss.type & 0xc) === 0x4;
    const fits = expandDown ? at > BigInt(ss.limit) && last <= (ss.db ? MASK32 : MASK16) : last <= BigInt(ss.limit);
    if (!fits) throw new Fault(SS, ssErr, `the stack ${hex(ss.selector)}:${hex(at)} is outside its segment limit ${hex(ss.limit)}`);
  }
  slots.forEach((s, i) => {
    const addr = linear(a, (a.long ? 0n : ss.base) + offsets[i]!);
    // Little-endian, truncated to the slot (a selector or EFLAGS in a 16-bit frame keeps its low bits).
    const bytes = new Uint8Array(s.size);
    let v = BigInt.asUintN(64, s.value);
    for (let b = 0; b < s.size; b++, v >>= 8n) bytes[b] = Number(v & 0xffn);
    write(a, addr, bytes, 'the stack', user);
  });
  return at;
}
