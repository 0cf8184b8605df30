// x86 instruction decoding (iced-x86) for the debug adapter: the `disassemble` request,
// stepping (is this a call, where does it return, where does it branch) and instruction lengths.

import { Decoder, DecoderOptions, FlowControl, FormatMnemonicOptions, Formatter, FormatterSyntax, Instruction, Mnemonic, OpKind } from 'iced-x86';

export type Bitness = 16 | 32 | 64;

/**
 * How an instruction moves control:
 * - `call`: a CALL (near or far, direct or indirect); it returns to `nextAddress`.
 * - `ret`: RET, IRET, SYSRET, SYSEXIT, RSM...
 * - `jump`: an unconditional JMP (direct or indirect).
 * - `cond-jump`: Jcc, LOOP/LOOPcc, JCXZ/JECXZ/JRCXZ, XBEGIN (which branches to its abort handler).
 * - `interrupt`: a software transfer to another privilege level or to the hypervisor: INT n, INT3, INT1,
 *   INTO, SYSCALL, SYSENTER, VMCALL, VMMCALL, VMLAUNCH, VMRESUME, VMRUN... Most resume at `nextAddress`,
 *   but not all (VMLAUNCH/VMRESUME continue at the host RIP), so a stepper should not assume it.
 * - `other`: everything else, including UD2 and invalid bytes.
 */
export type FlowKind = 'call' | 'ret' | 'jump' | 'cond-jump' | 'interrupt' | 'other';

export interface DecodedInstruction {
  /** Guest-virtual address of the first byte. */
  address: bigint;
  /** A copy of the instruction's bytes. */
  bytes: Uint8Array;
  length: number;
  /** Formatted instruction, plus ` <symbol>` after a direct branch target when `symbolize` names it. */
  text: string;
  /** Mnemonic without prefixes, in the chosen syntax (`mov`/`movabs`), `(bad)` when invalid. */
  mnemonic: string;
  kind: FlowKind;
  /** address + length, wrapped within the bitness window (see `decode`). */
  nextAddress: bigint;
  /**
   * Target of a direct near CALL/JMP/Jcc/LOOP/XBEGIN, with the same high bits as `address` (so linear
   * in real mode, where `text` shows the 16-bit IP target as objdump does).
   */
  branchTarget?: bigint;
  /** The bytes at `address` do not decode (or the buffer ends mid-instruction); length is then 1. */
  invalid: boolean;
}

export interface DisasmOptions {
  /** 'intel' (default) or 'gas' (AT&T). */
  syntax?: 'intel' | 'gas';
  /** Names a direct branch target, e.g. 'uart_putc+0x4'; appended to `text` as ` <uart_putc+0x4>`. */
  symbolize?: (addr: bigint) => string | undefined;
}

const INVALID_TEXT = '(bad)';
/** The architectural maximum length of one instruction. */
const MAX_INSTRUCTION_LENGTH = 15;

// One formatter per syntax and one scratch Instruction for the life of the process. They are wasm
// objects, so creating them per call would cost an allocation each; holding a few forever is bounded.
// Decoding is synchronous, so sharing the scratch Instruction between calls is safe.
const formatters = new Map<'intel' | 'gas', Formatter>();
let scratch: Instruction | undefined;

function formatterFor(syntax: 'intel' | 'gas'): Formatter {
  let f = formatters.get(syntax);
  if (!f) {
    f = new Formatter(syntax === 'gas' ? FormatterSyntax.Gas : FormatterSyntax.Intel);
    // Hex as 0x-prefixed lowercase in both syntaxes, to match the rest of the debugger's addresses.
    f.hexPrefix = '0x';
    f.hexSuffix = '';
    f.uppercaseHex = false;
    f.showBranchSize = false; // no 'short'/'near' noise, as objdump
    if (syntax === 'intel') f.spaceAfterOperandSeparator = true;
    formatters.set(syntax, f);
  }
  return f;
}

function maskFor(bitness: Bitness): bigint {
  return (1n << BigInt(bitness)) - 1n;
}

/**
 * Adds `delta` to `address` modulo 2^bitness, keeping the bits above the window. In 16-bit code the
 * caller passes a linear address (CS.base + IP); keeping the high bits makes IP wrap at 64 KiB within
 * the segment, which is exact whenever CS.base is 64 KiB-aligned (as for CS=0xF000).
 */
function wrapAdd(address: bigint, delta: bigint, bitness: Bitness): bigint {
  const mask = maskFor(bitness);
  return (address & ~mask) | ((address + delta) & mask);
}

function classify(ins: Instruction): FlowKind {
  const fc: FlowControl = ins.flowControl;
  switch (fc) {
    case FlowControl.Next:
    case FlowControl.Exception:
      return 'other';
    case FlowControl.UnconditionalBranch:
    case FlowControl.IndirectBranch:
      return 'jump';
    case FlowControl.ConditionalBranch:
      return 'cond-jump';
    case FlowControl.Return:
      return 'ret';
    case FlowControl.Call:
    case FlowControl.IndirectCall:
      // iced also counts SYSCALL, VMCALL, VMLAUNCH... as calls; only CALL itself is sure to push a
      // return address and come back to the next instruction, which is what step-over relies on.
      return ins.isCallNear || ins.isCallNearIndirect || ins.isCallFar || ins.isCallFarIndirect ? 'call' : 'interrupt';
    case FlowControl.Interrupt:
      return 'interrupt';
    case FlowControl.XbeginXabortXend:
      return ins.mnemonic === Mnemonic.Xbegin ? 'cond-jump' : 'other';
    default: {
      const unreachable: never = fc;
      return unreachable;
    }
  }
}

function hasNearBranchOperand(ins: Instruction): boolean {
  if (ins.opCount < 1) return false;
  const k = ins.op0Kind;
  return k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64;
}

/**
 * Decodes up to `maxCount` instructions (default: as many as `bytes` holds) starting at `address`.
 * Every byte is covered: bytes that do not decode, including an instruction cut short by the end of
 * `bytes`, come out as `invalid` one-byte entries and decoding resumes at the next byte. To avoid a
 * spurious `(bad)` tail, read up to 15 bytes more than you mean to show and drop what you don't need.
 */
export function decode(bytes: Uint8Array, address: bigint, bitness: Bitness, maxCount?: number, opts?: DisasmOptions): DecodedInstruction[] {
  if (bitness !== 16 && bitness !== 32 && bitness !== 64) throw new RangeError(`bitness must be 16, 32 or 64, not ${String(bitness)}`);
  const limit = maxCount === undefined ? Number.POSITIVE_INFINITY : Math.floor(maxCount);
  if (!(limit >= 0)) throw new RangeError(`maxCount must be >= 0, not ${String(maxCount)}`);
  const out: DecodedInstruction[] = [];
  if (bytes.length === 0 || limit === 0) return out;

  const mask = maskFor(bitness);
  const high = ~mask;
  const formatter = formatterFor(opts?.syntax ?? 'intel');
  const symbolize = opts?.symbolize;
  const ins = (scratch ??= new Instruction());
  // The Decoder copies its input into wasm memory; copy only what `limit` instructions can use.
  const window = Number.isFinite(limit) ? bytes.subarray(0, Math.min(bytes.length, limit * MAX_INSTRUCTION_LENGTH)) : bytes;
  const decoder = new Decoder(bitness, window, DecoderOptions.None);
  try {
    let offset = 0;
    let cur = address & ((1n << 64n) - 1n);
    while (offset < window.length && out.length < limit) {
      // Set position and IP every time: after an invalid instruction iced has consumed more than the
      // one byte we report, and we do the IP wrapping ourselves (see wrapAdd).
      decoder.position = offset;
      decoder.ip = cur & mask;
      decoder.decodeOut(ins);
      if (ins.isInvalid) {
        out.push({
          address: cur,
          bytes: window.slice(offset, offset + 1),
          length: 1,
          text: INVALID_TEXT,
          mnemonic: INVALID_TEXT,
          kind: 'other',
          nextAddress: wrapAdd(cur, 1n, bitness),
          invalid: true,
        });
        offset += 1;
        cur = wrapAdd(cur, 1n, bitness);
        continue;
      }
      const length = ins.length;
      const kind = classify(ins);
      let text = formatter.format(ins);
      let branchTarget: bigint | undefined;
      if (hasNearBranchOperand(ins)) {
        branchTarget = (cur & high) | (ins.nearBranchTarget & mask);
        const sym = symbolize?.(branchTarget);
        if (sym) text += ` <${sym}>`;
      }
      const nextAddress = wrapAdd(cur, BigInt(length), bitness);
      const d: DecodedInstruction = {
        address: cur,
        bytes: window.slice(offset, offset + length),
        length,
        text,
        mnemonic: formatter.formatMnemonicOptions(ins, FormatMnemonicOptions.NoPrefixes),
        kind,
        nextAddress,
        invalid: false,
      };
      if (branchTarget !== undefined) d.branchTarget = branchTarget;
      out.push(d);
      offset += length;
      cur = nextAddress;
    }
  } finally {
    decoder.free();
  }
  return out;
}

/** Decodes the one instruction at the start of `bytes` (an invalid one-byte entry if it does not decode). */
export function decodeOne(bytes: Uint8Array, address: bigint, bitness: Bitness, opts?: DisasmOptions): DecodedInstruction {
  if (bytes.length === 0) throw new RangeError('decodeOne needs at least one byte');
  const [first] = decode(bytes, address, bitness, 1, opts);
  // decode() covers every byte it is given, so one byte in means one instruction out.
  return first!;
}

const CR0_PE = 1n << 0n;
const EFER_LMA = 1n << 10n;

/** The bitness of the vCPU's current mode: 64 if EFER.LMA and CS.L, else 32 if CR0.PE and CS.D/B, else 16. */
export function bitnessOf(mode: { cr0: bigint; efer: bigint; csL: number; csDb: number }): Bitness {
  if ((mode.efer & EFER_LMA) !== 0n && mode.csL !== 0) return 64;
  if ((mode.cr0 & CR0_PE) !== 0n && mode.csDb !== 0) return 32;
  return 16;
}

/**
 * The instructions of a DAP disassemble window: indices `offset` .. `offset + count - 1` relative to the instruction
 * at `base` (index 0), so negative offsets reach back before it. x86 cannot be decoded backwards, so the part before
 * `base` is decoded forward from anchors and kept only where the decode ends exactly at the next known instruction:
 * first the start of the function holding the preceding byte (`anchorBefore`), then function by function further
 * back; where no anchor serves, the latest start within reach from which the decode lands exactly. What cannot be
 * decoded at all (memory that cannot be read, the bottom of the address space) is left out: the caller pads with
 * placeholders so that VS Code gets the count it asked for.
 *
 * Returns `before` (ascending, ending at base) and `from` (ascending, starting at the window's first non-negative
 * index), already cut to the window.
 */
export function disassemblyWindow(
  base: bigint,
  offset: number,
  count: number,
  decodeFrom: (start: bigint, maxCount: number, maxBytes?: number) => DecodedInstruction[],
  anchorBefore: (addr: bigint) => bigint | undefined,
): { before: DecodedInstruction[]; from: DecodedInstruction[] } {
  const first = offset;
  const last = offset + count - 1;
  let before: DecodedInstruction[] = [];
  if (first < 0 && count > 0) {
    const need = -first;
    let end = base;
    // At most one anchor per function; 256 functions back is far more than any view asks for.
    for (let guard = 0; before.length < need && guard < 256 && end > 0n; guard++) {
      const chunk = decodeEndingAt(end, need - before.length, decodeFrom, anchorBefore);
      if (chunk.length === 0) break;
      before = [...chunk, ...before];
      end = chunk[0]!.address;
    }
    // Keep indices first .. min(last, -1): the `need` instructions before base, then cut the window's end.
    before = before.slice(-need);
    const wantBefore = Math.min(last, -1) - first + 1;
    const missing = need - before.length;
    before = before.slice(0, Math.max(0, wantBefore - missing));
  }
  let from: DecodedInstruction[] = [];
  if (last >= 0) {
    const start = Math.max(0, first);
    from = decodeFrom(base, last + 1).slice(start, last + 1);
  }
  return { before, from };
}

/** Instructions that end exactly at `end` (ascending), at least one and up to about `need`, or none. */
function decodeEndingAt(
  end: bigint,
  need: number,
  decodeFrom: (start: bigint, maxCount: number, maxBytes?: number) => DecodedInstruction[],
  anchorBefore: (addr: bigint) => bigint | undefined,
): DecodedInstruction[] {
  const landing = (start: bigint, max: number): DecodedInstruction[] | undefined => {
    // Every instruction that starts before `end` lies within end - start + 15 bytes.
    const list = decodeFrom(start, max, Number(end - start) + MAX_INSTRUCTION_LENGTH).filter((i) => i.address < end);
    return list.length > 0 && list[list.length - 1]!.nextAddress === end ? list : undefined;
  };
  const anchor = anchorBefore(end - 1n);
  // A function of up to 64 KiB is decoded from its start: exact wherever the function's bytes are code.
  if (anchor !== undefined && anchor < end && end - anchor <= 0x10000n) {
    const list = landing(anchor, Number(end - anchor));
    if (list) return list;
  }
  // No anchor (or its decode does not land): start as far back as `need` instructions can reach and move forward
  // until a decode lands; decoding re-synchronises within a few instructions, so the first landing is kept. Starts
  // in memory that cannot be read decode to nothing and are passed over.
  const reach = BigInt(Math.min(need, 64) * MAX_INSTRUCTION_LENGTH);
  const lowest = end > reach ? end - reach : 0n;
  for (let start = lowest; start < end; start++) {
    const list = landing(start, Number(end - start));
    if (list) return list;
  }
  return [];
}

/** The longest CALL encoding that can sit right before a return address (a far call with prefixes, an indirect one with SIB and disp32 and REX). */
const MAX_CALL_LENGTH = 9;

/**
 * Whether the bytes that end at `end` (the last `before.length` bytes before it) end with a CALL instruction, i.e.
 * whether `end` can be a return address. A pc found on the stack that no call precedes is where an interrupt or
 * exception struck: the instruction there has not run yet. Decoding backwards is ambiguous, so this tries each
 * length: some CALL of exactly k bytes must end at `end`.
 */
export function endsWithCall(before: Uint8Array, end: bigint, bitness: Bitness): boolean {
  for (let k = 2; k <= Math.min(MAX_CALL_LENGTH, before.length); k++) {
    const insn = decodeOne(before.subarray(before.length - k), end - BigInt(k), bitness);
    if (!insn.invalid && insn.kind === 'call' && insn.length === k) return true;
  }
  return false;
}

/** How many bytes before a candidate return address `endsWithCall` looks at. */
export const CALL_LOOKBEHIND = MAX_CALL_LENGTH;
