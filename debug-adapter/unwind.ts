// Stack unwinding along the frame-pointer chain (guests built with -fno-omit-frame-pointer), for the
// debug adapter's `stackTrace`, through interrupt frames whose entry stub links a frame record. Pure
// logic: memory, code ranges, symbols and instruction decoding come in as callbacks.

export interface UnwindInput {
  /** rip, rsp, rbp (eip, esp, ebp in 32-bit code). */
  pc: bigint;
  sp: bigint;
  fp: bigint;
  /** 8 in long mode, 4 in 32-bit code. */
  wordSize: 4 | 8;
  /** Little-endian word at `addr` (any alignment); undefined when unmapped/unreadable. */
  readWord(addr: bigint): bigint | undefined;
  /** True if addr lies in an executable segment/known function. */
  isCode(addr: bigint): boolean;
  /** Start of the function containing pc (from symbols), to handle the prologue. */
  functionStart?(pc: bigint): bigint | undefined;
  /**
   * Whether a CALL instruction ends right before `addr` (undefined when unknown, e.g. unreadable code). A pc on
   * the stack that no call precedes was pushed by an interrupt or exception: its frame is marked `interrupted`.
   */
  followsCall?(addr: bigint): boolean | undefined;
  /** Default 64; frame 0 is returned even when this is 0. */
  maxFrames?: number;
}

/**
 * One frame. `pc` of frame 0 is the input pc; in the frames above it, `pc` is the return address,
 * i.e. the instruction after the call, so look up lines and symbols at `pc - 1`.
 * `sp` and `fp` are that frame's rsp/rbp as they were when its callee was running.
 */
export interface Frame {
  pc: bigint;
  sp: bigint;
  fp: bigint;
  /**
   * How this frame's caller is (or would be) found; set even on the last frame:
   * - 'entry': return address at [sp], caller's fp = fp. Frame 0 at its function's first instruction
   *   (or at its `endbr` and `push rbp`), or stopped on a near `ret` after the epilogue.
   * - 'prologue': frame 0 right after `push rbp`: return address at [sp+word], caller's fp = [sp].
   * - 'frame-pointer': return address at [fp+word], caller's fp = [fp].
   */
  via: 'entry' | 'prologue' | 'frame-pointer';
  /**
   * Set above frame 0 when no call precedes `pc`: an interrupt or exception stopped this frame there (its
   * handler's stub linked the interrupted rbp and rip as a frame record, as a call would have). `pc` is then the
   * instruction to resume, not a return address: look up lines and symbols at `pc` itself.
   */
  interrupted?: true;
}

const DEFAULT_MAX_FRAMES = 64;

const PUSH_BP = 0x55n; // push rbp / push ebp: one byte in both modes
const RET_NEAR = 0xc3n;
const RET_NEAR_IMM = 0xc2n;
const REP_RET = 0xc3f3n; // f3 c3, as the bytes read little-endian
const ENDBR64 = 0xfa1e0ff3n; // f3 0f 1e fa
const ENDBR32 = 0xfb1e0ff3n; // f3 0f 1e fb

/**
 * Walks the frame-pointer chain from (pc, sp, fp). Frame 0 is always returned. The walk stops, without
 * emitting the doubtful caller, at: unreadable memory; a current fp that is 0 (the conventional end of
 * the chain, as set by `xor ebp, ebp` in an entry stub) or misaligned (sp, for the entry and prologue
 * rules); a caller fp that is misaligned or not strictly above the current frame (exactly: below the
 * caller's own sp, fp + 2 words in the chain case); a return address that is 0 or not in code; address
 * overflow; or maxFrames. A caller whose saved fp is 0 is the outermost frame: it is emitted, and the
 * walk ends there. No frame can repeat (see the loop), so a cyclic chain ends at the caller-fp check.
 *
 * Code bytes are read through `readWord` to refine frame 0 (an `endbr64` before `push rbp`, a function
 * that does not start with `push rbp`, a stop on `ret`); when they are unreadable the rules assume
 * `push rbp` at the function start.
 */
export function unwind(input: UnwindInput): Frame[] {
  const w = BigInt(input.wordSize);
  const addrMask = input.wordSize === 8 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  const maxFrames = input.maxFrames ?? DEFAULT_MAX_FRAMES;

  // Address arithmetic that reports overflow instead of wrapping into unrelated memory.
  const add = (a: bigint, b: bigint): bigint | undefined => (a + b > addrMask ? undefined : a + b);
  const read = (addr: bigint | undefined): bigint | undefined => {
    if (addr === undefined) return undefined;
    const v = input.readWord(addr);
    return v === undefined ? undefined : v & addrMask;
  };
  const aligned = (a: bigint): boolean => a % w === 0n;
  // A call to a noreturn function may be the last instruction of a code region, leaving the return
  // address just past its end; the call's own last byte is then still in code.
  const isReturnAddress = (a: bigint): boolean => a !== 0n && (input.isCode(a) || input.isCode(a - 1n));

  const pc0 = input.pc & addrMask;
  const sp0 = input.sp & addrMask;
  const fp0 = input.fp & addrMask;
  const frames: Frame[] = [{ pc: pc0, sp: sp0, fp: fp0, via: frame0Rule(pc0, input, read) }];

  // No frame can repeat, so a cyclic chain cannot loop: above frame 0 each frame's fp is at or above
  // its sp (checked before it is emitted) and each caller's sp lies above its callee's fp (or, from
  // frame 0's entry/prologue rule, its sp), so sp and fp only grow, and `add` refuses to wrap.
  while (frames.length < maxFrames) {
    const cur = frames[frames.length - 1]!;
    let retSlot: bigint | undefined;
    let callerFp: bigint | undefined;
    let callerSp: bigint | undefined;
    switch (cur.via) {
      case 'entry':
        if (!aligned(cur.sp)) return frames;
        retSlot = cur.sp;
        callerFp = cur.fp;
        callerSp = add(cur.sp, w);
        break;
      case 'prologue':
        if (!aligned(cur.sp)) return frames;
        retSlot = add(cur.sp, w);
        callerFp = read(cur.sp);
        callerSp = add(cur.sp, 2n * w);
        break;
      case 'frame-pointer':
        if (cur.fp === 0n || !aligned(cur.fp)) return frames;
        retSlot = add(cur.fp, w);
        callerFp = read(cur.fp);
        callerSp = add(cur.fp, 2n * w);
        break;
      default: {
        const unreachable: never = cur.via;
        return unreachable;
      }
    }
    const ret = read(retSlot);
    if (ret === undefined || callerFp === undefined || callerSp === undefined) return frames;
    if (!isReturnAddress(ret)) return frames;
    // The caller's own frame record lies at or above its sp; anything else is not a chain link.
    // In the chain case this also means callerFp > cur.fp, so every step moves up the stack.
    if (callerFp !== 0n && (!aligned(callerFp) || callerFp < callerSp)) return frames;
    const interrupted = input.followsCall?.(ret) === false;
    frames.push({ pc: ret, sp: callerSp, fp: callerFp, via: 'frame-pointer', ...(interrupted ? { interrupted: true as const } : {}) });
  }
  return frames;
}

/** Which rule finds frame 0's caller, from where pc sits in its function. */
function frame0Rule(pc: bigint, input: UnwindInput, read: (addr: bigint) => bigint | undefined): Frame['via'] {
  const atPc = read(pc);
  // A near `ret` pops the return address from [sp], and by then the epilogue has restored rbp.
  if (atPc !== undefined && ((atPc & 0xffn) === RET_NEAR || (atPc & 0xffn) === RET_NEAR_IMM || (atPc & 0xffffn) === REP_RET)) return 'entry';

  const start = input.functionStart?.(pc);
  if (start === undefined || pc < start) return 'frame-pointer';
  const head = read(start);
  // With -fcf-protection, `endbr64`/`endbr32` (4 bytes) comes before `push rbp`.
  const pushAt = head !== undefined && ((head & 0xffffffffn) === ENDBR64 || (head & 0xffffffffn) === ENDBR32) ? start + 4n : start;
  if (pc <= pushAt) return 'entry';
  const op = pushAt === start ? head : read(pushAt);
  if (pc === pushAt + 1n) {
    // Unreadable code: trust the convention. Readable and not `push rbp`: the function keeps no
    // frame of its own here, so rbp is still the caller's chain.
    if (op === undefined || (op & 0xffn) === PUSH_BP) return 'prologue';
  }
  // A function that keeps no frame at all (a leaf built with -momit-leaf-frame-pointer, the default
  // of many gcc builds): rbp is its caller's, and the return address is still at [sp] if nothing was
  // pushed. Accept that only when [sp] holds an address right after a direct call to this function.
  if (op !== undefined && (op & 0xffn) !== PUSH_BP && calledFrom(read(input.sp), start, input, read)) return 'entry';
  return 'frame-pointer';
}

/** True when `ret` follows a direct near call (e8 rel32) whose target is `target`. */
function calledFrom(ret: bigint | undefined, target: bigint, input: UnwindInput, read: (addr: bigint) => bigint | undefined): boolean {
  if (ret === undefined || ret < 5n || !input.isCode(ret - 5n)) return false;
  const insn = read(ret - 5n);
  if (insn === undefined || (insn & 0xffn) !== 0xe8n) return false;
  const rel = BigInt.asIntN(32, (insn >> 8n) & 0xffffffffn);
  const mask = input.wordSize === 8 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  return ((ret + rel) & mask) === target;
}
