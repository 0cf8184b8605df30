// The random guests of the fuzz harness's `guests` part, as pure data: each
// case is a flat image, the mode it starts in and the spec around it. Three
// kinds: random byte blobs, real guests (examples/, test/guests/) with bytes
// flipped, spliced or cut, and instruction streams that hammer I/O ports,
// MMIO, the debug registers and the pc platform's devices (PIC, PIT, UART,
// CMOS, i8042, fw_cfg, PCI configuration, ACPI PM) with random values. The
// streams are encoded here, per mode, from a small table of instruction
// shapes; fuzz/guest-gen.test.ts checks each decodes as intended.

import type { Rng } from './rng';

export type GuestMode = 'real' | 'protected' | 'long';
export type GuestKind = 'blob' | 'mutant' | 'stream';

/** A real guest to mutate: a flat image and how its spec runs it. */
export interface SeedGuest {
  name: string;
  bytes: Uint8Array;
  mode: GuestMode;
  platform: 'pc' | 'minimal';
}

export interface GuestCase {
  kind: GuestKind;
  /** What made it, for the findings and the reproducer (`mutant of hlt: flip x3, splice`). */
  label: string;
  mode: GuestMode;
  platform: 'pc' | 'minimal';
  vcpus: number;
  /** Guest RAM in MiB. */
  memoryMiB: number;
  load: number;
  image: Uint8Array;
  /** `devices.i8042.on-reset: reset` (pc only): the CLI restarts a guest that resets the machine. */
  restartOnReset?: boolean;
}

/** The MMIO window every case's spec declares (mmio0), and the guest's favourite target. */
export const MMIO_BASE = 0xd000_0000;
export const MMIO_SIZE = 0x1000;

/** The spec for a case, as a user would write it (the image path relative to the spec). */
export function caseSpec(c: GuestCase, imageName: string): string {
  return [
    `name: fuzz-${c.kind}`,
    `platform: ${c.platform}`,
    `memory: ${c.memoryMiB}MiB`,
    `vcpus: ${c.vcpus}`,
    'accel: emu',
    'boot:',
    `  image: ${imageName}`,
    '  format: flat',
    `  mode: ${c.mode}`,
    `  load: 0x${c.load.toString(16)}`,
    `  entry: 0x${c.load.toString(16)}`,
    `regions: [{ name: mmio0, gpa: 0x${MMIO_BASE.toString(16)}, size: ${MMIO_SIZE}, kind: mmio }]`,
    'devices:',
    '  serial: { port: 0x3f8 }',
    '  debug-exit: { port: 0xf4 }',
    ...(c.restartOnReset && c.platform === 'pc' ? ['  i8042: { on-reset: reset }'] : []),
    '',
  ].join('\n');
}

const loadFor = (mode: GuestMode): number => (mode === 'real' ? 0x7c00 : 0x10_0000);

export function generateCase(rng: Rng, seeds: readonly SeedGuest[]): GuestCase {
  const roll = rng.below(100);
  const kind: GuestKind = roll < 25 ? 'blob' : roll < 55 && seeds.length > 0 ? 'mutant' : 'stream';
  const vcpus = rng.chance(0.08) ? 2 : 1;
  const memoryMiB = rng.pick([16, 16, 16, 4, 2]);
  switch (kind) {
    case 'blob': {
      const mode = rng.pick<GuestMode>(['real', 'protected', 'long']);
      const size = rng.chance(0.2) ? rng.between(1, 16) : rng.between(16, 4096);
      // Mostly uniform bytes; some blobs are biased towards zeros and 0xff as real memory often is.
      const image = rng.bytes(size);
      if (rng.chance(0.3)) for (let i = 0; i < size; i++) if (rng.chance(0.5)) image[i] = rng.chance(0.5) ? 0 : 0xff;
      return { kind, label: `blob of ${size} bytes`, mode, platform: rng.chance(0.5) ? 'pc' : 'minimal', vcpus, memoryMiB, load: loadFor(mode), image };
    }
    case 'mutant': {
      const seed = rng.pick(seeds);
      const { bytes, ops } = mutate(rng, seed.bytes, seeds);
      // Mostly the guest's own mode; sometimes another, which makes its code mean something else.
      const mode = rng.chance(0.8) ? seed.mode : rng.pick<GuestMode>(['real', 'protected', 'long']);
      const platform = rng.chance(0.7) ? seed.platform : seed.platform === 'pc' ? 'minimal' : 'pc';
      return { kind, label: `mutant of ${seed.name}: ${ops.join(', ')}`, mode, platform, vcpus, memoryMiB, load: loadFor(mode), image: bytes };
    }
    case 'stream': {
      const mode = rng.pick<GuestMode>(['real', 'protected', 'long']);
      const { bytes, ops } = instructionStream(rng, mode, memoryMiB);
      return { kind, label: `stream: ${ops}`, mode, platform: rng.chance(0.85) ? 'pc' : 'minimal', vcpus, memoryMiB, load: loadFor(mode), image: bytes };
    }
  }
}

/** Byte flips, splices (from the same guest or another) and truncation: 1 to 8 of them. */
export function mutate(rng: Rng, original: Uint8Array, seeds: readonly SeedGuest[]): { bytes: Uint8Array; ops: string[] } {
  let b = Uint8Array.from(original);
  const ops: string[] = [];
  const n = rng.between(1, 8);
  for (let i = 0; i < n && b.length > 0; i++) {
    const op = rng.below(10);
    if (op < 5) {
      // Flip a few bits or set a few bytes.
      const count = rng.between(1, 8);
      for (let k = 0; k < count; k++) {
        const at = rng.below(b.length);
        b[at] = rng.chance(0.5) ? b[at]! ^ (1 << rng.below(8)) : rng.below(256);
      }
      ops.push(`flip x${count}`);
    } else if (op < 8) {
      const donor = rng.chance(0.5) || seeds.length === 0 ? b : rng.pick(seeds).bytes;
      if (donor.length === 0) continue;
      const from = rng.below(donor.length);
      const len = rng.between(1, Math.min(256, donor.length - from));
      const at = rng.below(b.length + 1);
      const next = new Uint8Array(b.length + len);
      next.set(b.subarray(0, at));
      next.set(donor.subarray(from, from + len), at);
      next.set(b.subarray(at), at + len);
      b = next;
      ops.push(`splice ${len}`);
    } else {
      const len = rng.between(1, b.length);
      b = b.slice(0, len);
      ops.push(`truncate to ${len}`);
    }
  }
  return { bytes: b, ops };
}

// ---- instruction streams ----------------------------------------------------

/** Port ranges of the pc platform's devices (docs/spec.md, vmm/devices/). */
export const DEVICE_PORTS: ReadonlyArray<{ name: string; base: number; length: number }> = [
  { name: 'pic', base: 0x20, length: 2 },
  { name: 'pic', base: 0xa0, length: 2 },
  { name: 'elcr', base: 0x4d0, length: 2 },
  { name: 'pit', base: 0x40, length: 4 },
  { name: 'port61', base: 0x61, length: 1 },
  { name: 'uart', base: 0x3f8, length: 8 },
  { name: 'cmos', base: 0x70, length: 2 },
  { name: 'i8042', base: 0x60, length: 1 },
  { name: 'i8042', base: 0x64, length: 1 },
  { name: 'port92', base: 0x92, length: 1 },
  { name: 'fw_cfg', base: 0x510, length: 12 },
  { name: 'pci', base: 0xcf8, length: 8 },
  { name: 'acpi-pm', base: 0x600, length: 0x10 },
  { name: 'debugcon', base: 0x402, length: 1 },
];

const R = { eax: 0, ecx: 1, edx: 2, ebx: 3, esi: 6, edi: 7 } as const;

/** Encodes instructions for one CPU mode: `real` is 16-bit code, the others 32-bit operands (long: 64-bit mode). */
export class Asm {
  readonly out: number[] = [];
  constructor(readonly mode: GuestMode) {}

  private get p32(): number[] {
    return this.mode === 'real' ? [0x66] : [];
  }
  private get p16(): number[] {
    return this.mode === 'real' ? [] : [0x66];
  }
  private imm32(v: number): number[] {
    return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  }
  emit(...bytes: number[]): this {
    this.out.push(...bytes.map((b) => b & 0xff));
    return this;
  }
  /** mov r32, imm32 (zero-extends in 64-bit mode). */
  movImm(reg: number, v: number): this {
    return this.emit(...this.p32, 0xb8 + reg, ...this.imm32(v >>> 0));
  }
  movAl(v: number): this {
    return this.emit(0xb0, v);
  }
  outImm(port: number): this {
    return this.emit(0xe6, port);
  }
  inImm(port: number, size: 1 | 4): this {
    return size === 1 ? this.emit(0xe4, port) : this.emit(...this.p32, 0xe5, port);
  }
  /** out dx, al|ax|eax. */
  outDx(size: 1 | 2 | 4): this {
    return size === 1 ? this.emit(0xee) : this.emit(...(size === 2 ? this.p16 : this.p32), 0xef);
  }
  inDx(size: 1 | 2 | 4): this {
    return size === 1 ? this.emit(0xec) : this.emit(...(size === 2 ? this.p16 : this.p32), 0xed);
  }
  /** rep outs / rep ins (ds:rsi / es:rdi, rcx times). */
  repString(dir: 'outs' | 'ins', size: 1 | 2 | 4): this {
    const base = dir === 'outs' ? 0x6e : 0x6c;
    if (size === 1) return this.emit(0xf3, base);
    return this.emit(0xf3, ...(size === 2 ? this.p16 : this.p32), base + 1);
  }
  /** Points the memory operand at a physical address: ebx (protected, long), or ds:bx (real). */
  address(addr: number): this {
    if (this.mode !== 'real') return this.movImm(R.ebx, addr);
    // mov ax, seg; mov ds, ax; mov bx, off: addresses up to 1 MiB.
    const a = addr & 0xfffff;
    return this.emit(0xb8, (a >>> 4) & 0xff, (a >>> 12) & 0xff, 0x8e, 0xd8, 0xbb, a & 0xf, 0x00);
  }
  /** mov [ebx]/[bx], al|ax|eax or the reverse. */
  memAccess(write: boolean, size: 1 | 2 | 4): this {
    const modrm = this.mode === 'real' ? 0x07 : 0x03;
    const op = (write ? 0x88 : 0x8a) + (size === 1 ? 0 : 1);
    return this.emit(...(size === 2 ? this.p16 : size === 4 ? this.p32 : []), op, modrm);
  }
  /** mov [ebx+disp8], eax / mov [bx+disp8], eax (32 bits). */
  storeDisp(disp: number): this {
    return this.emit(...this.p32, 0x89, this.mode === 'real' ? 0x47 : 0x43, disp);
  }
  /** lgdt/lidt/ljmp through [ebx] / [bx]: 0F 01 /2, 0F 01 /3, FF /5. */
  throughMemory(op: 'lgdt' | 'lidt' | 'ljmp'): this {
    const rm = this.mode === 'real' ? 7 : 3;
    if (op === 'ljmp') return this.emit(0xff, (5 << 3) | rm);
    return this.emit(0x0f, 0x01, ((op === 'lgdt' ? 2 : 3) << 3) | rm);
  }
  /** mov crN, eax (rax in 64-bit mode) or mov eax, crN. */
  movCr(n: number, write: boolean): this {
    return this.emit(0x0f, write ? 0x22 : 0x20, 0xc0 | (n << 3));
  }
  /** mov sreg, ax (es 0, ss 2, ds 3, fs 4, gs 5). */
  movSreg(n: number): this {
    return this.emit(0x8e, 0xc0 | (n << 3));
  }
  /** ltr ax / lldt ax. */
  loadSystem(op: 'ltr' | 'lldt'): this {
    return this.emit(0x0f, 0x00, op === 'ltr' ? 0xd8 : 0xd0);
  }
  /** push imm32 (imm16 in real mode, sign-extended to 64 bits in long mode). */
  pushImm(v: number): this {
    return this.mode === 'real' ? this.emit(0x68, v & 0xff, (v >>> 8) & 0xff) : this.emit(0x68, ...this.imm32(v >>> 0));
  }
  /** iret in the mode's operand size (iretq in long mode). */
  iret(): this {
    return this.mode === 'long' ? this.emit(0x48, 0xcf) : this.emit(0xcf);
  }
  /** mov drN, eax (rax in 64-bit mode) or mov eax, drN. */
  movDr(n: number, write: boolean): this {
    return this.emit(0x0f, write ? 0x23 : 0x21, 0xc0 | (n << 3));
  }
}

/** A stream of 4 to 60 pieces, each a few instructions, and an ending. */
export function instructionStream(rng: Rng, mode: GuestMode, memoryMiB: number): { bytes: Uint8Array; ops: string } {
  const a = new Asm(mode);
  const used = new Map<string, number>();
  const note = (s: string) => used.set(s, (used.get(s) ?? 0) + 1);
  const ramTop = memoryMiB * 0x10_0000;
  /** A guest-physical target: the MMIO window, RAM above the image, the ACPI tables, the APIC pages, the boot GDT and page tables, or nothing. */
  const target = (): number => {
    // Now and then the runner's own boot structures: the GDT and TSS at 0x500, long mode's page tables at 0x1000-0x6fff.
    if (rng.chance(0.12)) return rng.chance(0.3) ? 0x500 + rng.below(0x100) : 0x1000 + rng.below(0x6000);
    switch (rng.below(6)) {
      case 0:
      case 1:
        return MMIO_BASE + rng.below(MMIO_SIZE);
      case 2:
        return mode === 'real' ? 0x10000 + rng.below(0x60000) : 0x20_0000 + rng.below(Math.max(1, ramTop - 0x20_0000));
      case 3:
        return 0xf0000 + rng.below(0x10000);
      case 4:
        return rng.pick([0xfee0_0000, 0xfec0_0000, 0xfed0_0000]) + rng.below(0x400);
      default:
        return rng.u32();
    }
  };
  const size = (): 1 | 2 | 4 => rng.pick([1, 1, 2, 4] as const);
  const value = (): number => (rng.chance(0.3) ? rng.pick([0, 0xff, 0xffffffff, 0x80, 1]) : rng.u32());
  const devicePort = (): number => {
    const d = rng.pick(DEVICE_PORTS);
    return d.base + rng.below(d.length);
  };
  const anyPort = (): number => (rng.chance(0.6) ? devicePort() : rng.below(0x10000));

  const pieces = rng.between(4, 60);
  for (let i = 0; i < pieces; i++) {
    const roll = rng.below(100);
    if (roll < 30) {
      // A write to a device port or anywhere in port space.
      const s = size();
      a.movImm(R.edx, anyPort()).movImm(R.eax, value()).outDx(s);
      note('out');
    } else if (roll < 40) {
      a.movImm(R.edx, anyPort()).inDx(size());
      note('in');
    } else if (roll < 44) {
      if (rng.chance(0.5)) a.movAl(rng.below(256)).outImm(rng.below(256));
      else a.inImm(rng.below(256), rng.pick([1, 4] as const));
      note('io-imm');
    } else if (roll < 50) {
      // rep outs from RAM, rep ins into RAM above the image (or anywhere).
      const dir = rng.chance(0.5) ? 'outs' : 'ins';
      const at = rng.chance(0.8) ? (mode === 'real' ? 0x1000 + rng.below(0x6000) : 0x20_0000 + rng.below(0x10_0000)) : rng.u32();
      a.movImm(R.ecx, rng.chance(0.9) ? rng.below(512) : rng.below(0x10000))
        .movImm(R.edx, anyPort())
        .movImm(dir === 'outs' ? R.esi : R.edi, mode === 'real' ? at & 0xffff : at)
        .repString(dir, size());
      note(`rep ${dir}`);
    } else if (roll < 62) {
      const write = rng.chance(0.7);
      a.address(target());
      if (write) a.movImm(R.eax, value());
      a.memAccess(write, size());
      note(write ? 'mmio/mem write' : 'mmio/mem read');
    } else if (roll < 70) {
      const n = rng.pick([0, 1, 2, 3, 6, 7, 7, 4, 5]);
      const write = rng.chance(0.7);
      if (write) a.movImm(R.eax, n === 7 ? (rng.chance(0.5) ? rng.below(0x100) | 0x400 : rng.u32()) : value());
      a.movDr(n, write);
      note('mov dr');
    } else if (roll < 78) {
      deviceSequence(rng, a);
      note('device program');
    } else if (roll < 87) {
      cpuState(rng, a, target);
      note('cpu state');
    } else {
      const misc = rng.below(9);
      if (misc === 0) a.emit(0xfb); // sti
      else if (misc === 1) a.emit(0xfa); // cli
      else if (misc === 2) a.emit(0xf4); // hlt
      else if (misc === 3) a.emit(0xcd, rng.below(256)); // int n
      else if (misc === 4) a.emit(0xcc); // int3
      else if (misc === 5) a.emit(0x0f, 0xa2); // cpuid (eax as it is)
      else if (misc === 6) a.movImm(R.ecx, rng.pick([0x1b, 0xc0000080, 0x10, 0x3a, 0x277, rng.u32()])).emit(0x0f, rng.chance(0.5) ? 0x30 : 0x32); // wrmsr/rdmsr
      else if (misc === 7) a.emit(0xf3, 0x90); // pause
      else a.emit(0x0f, 0x0b); // ud2
      note('misc');
    }
  }
  // How it ends: most end themselves (HLT, debug-exit, a fault); some spin until the deadline; some run on into garbage.
  const end = rng.below(10);
  if (end < 3) a.emit(0xfa, 0xf4);
  else if (end < 5) a.movAl(rng.below(256)).movImm(R.edx, 0xf4).outDx(1);
  else if (end < 6) a.emit(0xfb, 0xf4, 0xeb, 0xfd); // sti; hlt; jmp back to the hlt
  else if (end < 7) a.emit(0xeb, 0xfe); // jmp $
  else if (end < 8) a.emit(0x0f, 0x0b);
  else a.emit(...rng.bytes(rng.between(1, 64)));
  return { bytes: Uint8Array.from(a.out), ops: [...used].map(([k, v]) => `${k} x${v}`).join(', ') };
}

/**
 * Changes what the runner must read back or deliver through: a GDT or IDT
 * made of random bytes, control registers, segment and system selectors,
 * a far jump or an iret through random values.
 */
function cpuState(rng: Rng, a: Asm, target: () => number): void {
  const fill = (at: number, words: number) => {
    a.address(at);
    for (let k = 0; k < words; k++) a.movImm(R.eax, rng.u32()).storeDisp(4 * k);
  };
  switch (rng.below(6)) {
    case 0:
    case 1: {
      // A descriptor table of random bytes, then lgdt/lidt from a pseudo-descriptor that points at it (or anywhere).
      const table = a.mode === 'real' ? 0x8000 + rng.below(0x70000) : 0x20_0000 + rng.below(0x20_0000);
      fill(table, rng.between(2, 24));
      const limit = rng.chance(0.7) ? rng.pick([0x7, 0xf, 0xff, 0x7ff, 0xffff]) : rng.below(0x10000);
      const base = rng.chance(0.8) ? table : target();
      a.address(table + 0x100);
      a.movImm(R.eax, ((base & 0xffff) << 16) | limit).storeDisp(0);
      a.movImm(R.eax, base >>> 16).storeDisp(4);
      a.movImm(R.eax, 0).storeDisp(8);
      a.throughMemory(rng.chance(0.6) ? 'lidt' : 'lgdt');
      if (rng.chance(0.6)) a.emit(0xcd, rng.below(256));
      return;
    }
    case 2: {
      // A control register: CR0 (PE/PG/WP/CD flips), CR3 anywhere, CR4 bits, CR8 in long mode.
      const n = rng.pick(a.mode === 'long' ? [0, 3, 4, 8] : [0, 3, 4]);
      if (n === 8) {
        a.movImm(R.eax, rng.below(16)).emit(0x44, 0x0f, 0x22, 0xc0); // mov cr8, rax
        return;
      }
      a.movCr(n, false);
      const bits = n === 0 ? rng.pick([1, 1 << 31, 1 << 16, 1 << 30, 1 << 29, 1 << 3, 1 << 2]) : n === 4 ? 1 << rng.below(23) : rng.u32() & ~0xfff;
      // eax ^= bits, or eax = bits: xor eax, imm32 / mov eax, imm32.
      if (n === 3 || rng.chance(0.3)) a.movImm(R.eax, bits);
      else a.emit(...(a.mode === 'real' ? [0x66] : []), 0x35, bits & 0xff, (bits >>> 8) & 0xff, (bits >>> 16) & 0xff, bits >>> 24);
      a.movCr(n, true);
      return;
    }
    case 3:
      // A segment register, or the TR/LDTR, from a random selector.
      a.movImm(R.eax, rng.chance(0.5) ? rng.below(0x40) : rng.below(0x10000));
      if (rng.chance(0.7)) a.movSreg(rng.pick([0, 2, 3, 4, 5]));
      else a.loadSystem(rng.chance(0.5) ? 'ltr' : 'lldt');
      return;
    case 4: {
      // A far jump through a random far pointer.
      const at = a.mode === 'real' ? 0x9000 + rng.below(0x1000) : 0x30_0000 + rng.below(0x1000);
      fill(at, 3);
      a.address(at).throughMemory('ljmp');
      return;
    }
    default:
      // iret through three (or five) random words on the stack.
      for (let k = a.mode === 'long' ? 5 : 3; k > 0; k--) a.pushImm(rng.chance(0.5) ? rng.below(0x100) : rng.u32());
      a.iret();
      return;
  }
}

/** Programs one pc device with a sequence that means something to it, with random values where they matter. */
function deviceSequence(rng: Rng, a: Asm): void {
  const out8 = (port: number, v: number) => a.movImm(R.edx, port).movAl(v).outDx(1);
  const out32 = (port: number, v: number) => a.movImm(R.edx, port).movImm(R.eax, v).outDx(4);
  switch (rng.below(9)) {
    case 0: {
      // PIC pair: ICW1-4 with a random vector base, then random masks.
      const base = rng.chance(0.5) ? 0x20 : rng.below(256) & 0xf8;
      for (const [cmd, data] of [
        [0x20, 0x21],
        [0xa0, 0xa1],
      ] as const) {
        out8(cmd, rng.chance(0.8) ? 0x11 : rng.below(256));
        out8(data, base + (cmd === 0xa0 ? 8 : 0));
        out8(data, rng.below(256));
        out8(data, rng.chance(0.8) ? 0x01 : rng.below(256));
      }
      out8(0x21, rng.below(256));
      out8(0xa1, rng.below(256));
      if (rng.chance(0.3)) out8(rng.pick([0x20, 0xa0]), rng.pick([0x0a, 0x0b, 0x20, 0x60 + rng.below(8), 0xc0 + rng.below(8), rng.below(256)]));
      return;
    }
    case 1:
      // PIT: a control word, then a count (LSB, MSB), and port 0x61's gate.
      out8(0x43, rng.below(256));
      out8(0x40 + rng.below(3), rng.below(256));
      out8(0x40 + rng.below(3), rng.below(256));
      if (rng.chance(0.3)) out8(0x61, rng.below(256));
      return;
    case 2:
      // UART: divisor latch, line control, interrupts on, FIFO control, modem control, scratch.
      for (let k = rng.between(2, 8); k > 0; k--) out8(0x3f8 + rng.below(8), rng.below(256));
      return;
    case 3:
      // CMOS: index (NMI bit random), then read or write the data port.
      out8(0x70, rng.below(256));
      if (rng.chance(0.5)) out8(0x71, rng.below(256));
      else a.movImm(R.edx, 0x71).inDx(1);
      return;
    case 4:
      // i8042: a command (0xfe pulses reset, 0xd1 writes the output port, 0x60 the command byte), maybe a data byte.
      out8(0x64, rng.chance(0.7) ? rng.pick([0xd1, 0x60, 0x20, 0xaa, 0xad, 0xae, 0xfe, 0xf0 + rng.below(16)]) : rng.below(256));
      if (rng.chance(0.6)) out8(0x60, rng.below(256));
      return;
    case 5: {
      // fw_cfg: select an item and read it, or point DMA at a random address (big-endian halves at 0x514, 0x518).
      if (rng.chance(0.6)) {
        a.movImm(R.edx, 0x510).movImm(R.eax, rng.chance(0.7) ? rng.pick([0, 1, 0x19, 0x20 + rng.below(8), 0x8000]) : rng.below(0x10000)).outDx(2);
        a.movImm(R.ecx, rng.below(64)).movImm(R.edx, 0x511).movImm(R.edi, 0x20_0000).repString('ins', 1);
      } else {
        const bswap = (v: number) => ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
        out32(0x514, bswap(rng.chance(0.8) ? 0 : rng.u32()));
        out32(0x518, bswap(rng.chance(0.5) ? rng.below(0x100_0000) : rng.u32()));
      }
      return;
    }
    case 6: {
      // PCI configuration: an address at 0xcf8 (enable bit usually set), then a read or write at 0xcfc-0xcff.
      const addr = rng.chance(0.8) ? (0x8000_0000 | (rng.below(2) << 16) | (rng.below(32) << 11) | (rng.below(8) << 8) | (rng.below(64) << 2)) >>> 0 : rng.u32();
      out32(0xcf8, addr);
      const port = 0xcfc + rng.below(4);
      if (rng.chance(0.5)) a.movImm(R.edx, port).movImm(R.eax, rng.u32()).outDx(rng.pick([1, 2, 4] as const));
      else a.movImm(R.edx, port).inDx(rng.pick([1, 2, 4] as const));
      return;
    }
    case 7: {
      // ACPI PM: status/enable, the control register (SLP_EN with a random SLP_TYP now and then), the timer.
      const port = 0x600 + rng.below(0x10);
      if (rng.chance(0.2)) a.movImm(R.edx, 0x604).movImm(R.eax, (1 << 13) | (rng.below(8) << 10)).outDx(2);
      else if (rng.chance(0.5)) a.movImm(R.edx, port).movImm(R.eax, rng.u32()).outDx(rng.pick([1, 2, 4] as const));
      else a.movImm(R.edx, port).inDx(rng.pick([1, 2, 4] as const));
      return;
    }
    default:
      // Reset through port 0x92, or the ELCR.
      if (rng.chance(0.3)) out8(0x92, rng.below(256));
      else out8(0x4d0 + rng.below(2), rng.below(256));
      return;
  }
}
