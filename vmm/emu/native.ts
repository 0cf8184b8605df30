// The TypeScript face of vmm/native/unicorn-*.c (the emulation backend's calls
// in the vmscope addon), and where libunicorn comes from: VMSCOPE_UNICORN, the
// copy `npm install` put in .unicorn/, or the system's. Unicorn older than 2.1
// is refused: 2.0 maps guest-virtual addresses 1:1 to physical ones (upstream
// issue #1953), so guests with their own page tables fault.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadNative } from '../kvm/native';
import { VmscopeError } from '../errors';
import { HOW_TO_GET_UNICORN, unicornCandidates } from '../../common/emulator-path';

/** Handlers the engine calls synchronously from its hooks, on the thread that runs it. */
export interface UcHandlers {
  /** Port I/O a device or an exit hook wants (dir 0 = in, 1 = out); returns the value an IN reads. */
  io(dir: number, port: number, size: number, value: number): number;
  /** An access to an MMIO range (dir 0 = read, 1 = write); returns the value a read gets. */
  mmio(dir: number, gpa: bigint, size: number, value: bigint): bigint;
  /** An exception or software interrupt (vector). */
  intr(vector: number): void;
  /** An invalid opcode; true when handled (#UD delivered). */
  invalid(): boolean;
  /** CPUID; true when the handler wrote the answer. */
  cpuid(): boolean;
  /** RDMSR (0) or WRMSR (1) about to run (only while the MSR scan hook is on). */
  msr(write: number): void;
  /** SYSCALL: Unicorn leaves the transition to ring 0 to the handler, then adds the instruction's length to rip. */
  syscall(): void;
}

/** [ucErr, stopKind, stopAddr, stopData, kicked, timedOut] */
export type UcStartResult = [number, number, bigint, number, number, number];

export interface UnicornNative {
  ucLoad(lib: string): number;
  ucOpen(mode: number): number;
  ucClose(id: number): void;
  ucCtl(id: number, op: 'flush-tb' | 'no-exits'): void;
  ucCtl(id: number, op: 'cpu-model', model: number): void;
  ucMemMapPtr(id: number, gpa: number, size: number, perms: number, hva: bigint): void;
  ucMmioMap(id: number, gpa: number, size: number): void;
  ucSetHandlers(id: number, handlers: UcHandlers, portsHva: bigint, countsHva: bigint, fastHva: bigint): void;
  ucHookBreakpoint(id: number, addr: bigint): bigint;
  ucHookPrecise(id: number): bigint;
  ucHookWatch(id: number, addr: bigint, len: number, write: boolean, read: boolean): bigint;
  ucHookMsr(id: number): bigint;
  ucHookDel(id: number, hook: bigint): void;
  ucSkipOnce(id: number, addr: bigint): void;
  ucEmuStart(id: number, begin: bigint, timeoutUs: number, count: number): UcStartResult;
  ucEmuStop(id: number): void;
  ucStopNext(id: number): void;
  ucKick(id: number): void;
  /** On the engine's thread: runs stop at a block boundary, as kicked, once CLOCK_MONOTONIC reaches `ns` (0n: never). */
  ucSetDeadline(id: number, ns: bigint): void;
  ucRegRead(id: number, reg: number): bigint;
  ucRegWrite(id: number, reg: number, value: bigint): void;
  ucRegReadBytes(id: number, reg: number, buf: Uint8Array): number;
  ucMmrRead(id: number, reg: number): [number, bigint, number, number];
  ucMmrWrite(id: number, reg: number, selector: number, base: bigint, limit: number, flags: number): void;
  ucMsrRead(id: number, index: number): bigint;
  ucVmemTranslate(id: number, gva: bigint): bigint;
  ucMsrWrite(id: number, index: number, value: bigint): void;
  ucContextSave(id: number): ArrayBuffer;
  /** The state bytes of ucContextSave copied into `into` (as many as fit), allocating nothing. */
  ucContextRead(id: number, into: ArrayBuffer): void;
  ucContextRestore(id: number, state: ArrayBuffer): void;
  readonly ucConstants: Readonly<Record<string, number>>;
  mmapAnonymous(size: number): bigint;
  munmap(addr: bigint, size: number): void;
  externalBuffer(addr: bigint, size: number): ArrayBuffer;
}

export const MIN_VERSION = { major: 2, minor: 1 };

export interface UnicornLibrary {
  native: UnicornNative;
  path: string;
  /** Where the library came from (VMSCOPE_UNICORN, npm install, the system). */
  from: string;
  version: string;
}

/** The emulator cannot run: no Unicorn, or one older than 2.1. */
export class UnicornUnavailable extends VmscopeError {}

let loaded: UnicornLibrary | undefined;
let failure: string | undefined;


/** Loads libunicorn once per process (per thread: the addon keeps it for all); throws UnicornUnavailable with the fix. */
export function loadUnicorn(): UnicornLibrary {
  if (loaded) return loaded;
  if (failure) throw new UnicornUnavailable(failure);
  const native = loadNative() as unknown as UnicornNative;
  if (typeof native.ucOpen !== 'function') {
    try {
      native.ucLoad('');
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
      throw new UnicornUnavailable(failure);
    }
  }
  const tried: string[] = [];
  const tooOld = (version: string, c: { path: string; from: string }) =>
    `Unicorn ${version} (${c.path}, from ${c.from}) is older than 2.1: it maps guest-virtual addresses 1:1 to physical (Unicorn issue #1953), so guests with their own page tables fault; ${HOW_TO_GET_UNICORN}`;
  for (const c of unicornCandidates()) {
    // An explicit VMSCOPE_UNICORN is the one to use: if it cannot be, say why rather than quietly take another.
    const explicit = c.from === 'VMSCOPE_UNICORN';
    if (path.isAbsolute(c.path) && !fs.existsSync(c.path)) {
      if (explicit) {
        failure = `VMSCOPE_UNICORN=${c.path} does not exist; point it at a libunicorn.so.2 of Unicorn 2.1 or newer, or unset it`;
        throw new UnicornUnavailable(failure);
      }
      continue;
    }
    let v: number;
    try {
      v = native.ucLoad(c.path);
    } catch (e) {
      const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      const old = /^UNICORN_TOO_OLD (\d+\.\d+\.\d+)$/.exec(why);
      if (old) {
        failure = tooOld(old[1]!, c);
        throw new UnicornUnavailable(failure);
      }
      if (explicit) {
        failure = `VMSCOPE_UNICORN=${c.path} cannot be loaded (${why}); point it at a libunicorn.so.2 of Unicorn 2.1 or newer, or unset it`;
        throw new UnicornUnavailable(failure);
      }
      tried.push(`${c.path}: ${why}`);
      continue;
    }
    const major = (v >>> 24) & 0xff;
    const minor = (v >>> 16) & 0xff;
    const patch = (v >>> 8) & 0xff;
    const version = `${major}.${minor}.${patch}`;
    if (major < MIN_VERSION.major || (major === MIN_VERSION.major && minor < MIN_VERSION.minor)) {
      failure = tooOld(version, c);
      throw new UnicornUnavailable(failure);
    }
    loaded = { native, path: c.path, from: c.from, version };
    return loaded;
  }
  failure = `Unicorn 2.1+ is not installed${tried.length ? ` (${tried.join('; ')})` : ''}; ${HOW_TO_GET_UNICORN}`;
  throw new UnicornUnavailable(failure);
}
