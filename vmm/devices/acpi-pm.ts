// The ACPI fixed-hardware power-management registers (ACPI spec, "ACPI
// Hardware Specification": PM1 event and control blocks, the PM timer), at
// the I/O ports QEMU's PIIX4 uses, so a guest's ACPI driver can power the
// machine off (SLP_TYP = S5 with SLP_EN) and use the PM timer as a clock.
// The FADT that points the guest here is built by vmm/boot/acpi.ts from the
// constants below.
//
// There is no SMI firmware: the machine is in ACPI mode from power-on (SCI_EN
// reads 1) and the FADT names no SMI_CMD port. No power or sleep button, no
// RTC alarm and no wake: the only event that can raise the SCI is the PM
// timer's bit-23 carry (TMR_STS with TMR_EN).

import { initOnce } from './init-once';
import type { Device, DeviceContext, DeviceFactory, DeviceView } from './types';

/** I/O ports of the three blocks (PIIX4's PMBA 0x600 as QEMU sets it) and their lengths in bytes, as the FADT reports them. */
export const ACPI_PM = {
  evtBlk: 0x600,
  evtLen: 4,
  cntBlk: 0x604,
  cntLen: 2,
  tmrBlk: 0x608,
  tmrLen: 4,
} as const;
/** The ISA line the SCI is wired to (the FADT's SCI_INT; PIIX4's default). */
export const SCI_IRQ = 9;
/** The SLP_TYP value the DSDT's \_S5 object gives for soft-off; the device powers off when it is written with SLP_EN. */
export const S5_SLP_TYP = 5;
/** The PM timer's rate (ACPI spec: 3.579545 MHz), 24 bits wide (the FADT's TMR_VAL_EXT is clear). */
export const PM_TIMER_HZ = 3_579_545;
const TIMER_MASK = 0xffffff;
/** TMR_STS is set each time bit 23 of the counter changes. */
const TIMER_HALF = 0x800000;

// PM1 status / enable bits (ACPI spec, PM1 Status and Enable Registers).
export const PM1_TMR = 1 << 0;
export const PM1_GBL = 1 << 5;
export const PM1_PWRBTN = 1 << 8;
export const PM1_SLPBTN = 1 << 9;
export const PM1_RTC = 1 << 10;
export const PM1_WAK = 1 << 15;
/** Enable bits that stick: the timer, and GBL_EN so the OS finds a global lock (it lives in the FACS, there is no firmware to contend for it). */
const PM1_EN_MASK = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC;

// PM1 control bits (ACPI spec, PM1 Control Register).
export const CNT_SCI_EN = 1 << 0;
export const CNT_SLP_EN = 1 << 13;
const CNT_SLP_TYP_SHIFT = 10;
const CNT_SLP_TYP = 7 << CNT_SLP_TYP_SHIFT;
/** Bits that read back as written: BM_RLD and SLP_TYP. SCI_EN reads 1; GBL_RLS (bit 2: there is no firmware to release the global lock to) and SLP_EN are write-only. */
const CNT_KEEP = (1 << 1) | CNT_SLP_TYP;

// Shared state: Float64 words, then Int32 words.
const F_START = 0; // ctx.now() when the machine powered on: the timer counts from 0 there
const F_TMR_EPOCH = 1; // carries of bit 23 (ticks / 2^23) the guest has seen TMR_STS for (cleared it after)
const FLOATS = 2;
const W_INIT = 0;
const W_STS = 1; // status bits other than TMR_STS, which is derived from the clock
const W_EN = 2;
const W_CNT = 3;
const W_LINE = 4; // the SCI level last driven
const W_INTS = 5;
const W_ACTIVE = 6;
const W_SLEEP_REQ = 7; // the last SLP_TYP written with SLP_EN, plus 1 (0: none)
const WORDS = 8;
const STATE_BYTES = FLOATS * 8 + WORDS * 4;

type AcpiPmConfig = { kind: 'acpi-pm'; name: string };

class AcpiPm {
  private readonly f: Float64Array;
  private readonly w: Int32Array;

  constructor(
    private readonly name: string,
    state: SharedArrayBuffer,
    private readonly ctx: DeviceContext,
  ) {
    this.f = new Float64Array(state, 0, FLOATS);
    this.w = new Int32Array(state, FLOATS * 8, WORDS);
    initOnce(this.w, W_INIT, () => {
      this.f[F_START] = ctx.now();
    });
  }

  /** PM timer ticks since power-on, unwrapped. */
  private ticks(now: number): number {
    return Math.floor(((now - this.f[F_START]!) * PM_TIMER_HZ) / 1000);
  }

  private status(now: number): number {
    const carried = Math.floor(this.ticks(now) / TIMER_HALF) > this.f[F_TMR_EPOCH]!;
    return this.w[W_STS]! | (carried ? PM1_TMR : 0);
  }

  /** The SCI follows (status & enable): a level-triggered, shareable line (the OS sets IRQ 9 to level in the ELCR). */
  private updateSci(now: number): void {
    const level = (this.status(now) & this.w[W_EN]!) !== 0 ? 1 : 0;
    if (level === this.w[W_LINE]) return;
    this.w[W_LINE] = level;
    if (level) this.w[W_INTS]!++;
    this.ctx.irq(SCI_IRQ, level === 1);
  }

  /** One byte of the register file: offset 0-1 PM1_STS, 2-3 PM1_EN, 4-5 PM1_CNT, 8-11 PM_TMR. */
  private readByte(offset: number, now: number): number {
    let reg: number;
    if (offset < 2) reg = this.status(now);
    else if (offset < 4) reg = this.w[W_EN]!;
    else if (offset < 6) reg = (this.w[W_CNT]! & CNT_KEEP) | CNT_SCI_EN;
    else if (offset >= 8 && offset < 12) return ((this.ticks(now) & TIMER_MASK) >>> ((offset - 8) * 8)) & 0xff;
    else return 0xff;
    return (reg >> ((offset & 1) * 8)) & 0xff;
  }

  read(offset: number, size: number): number {
    const now = this.ctx.now();
    this.w[W_ACTIVE] = 1;
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(offset + i, now) << (i * 8);
    return v >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    const now = this.ctx.now();
    this.w[W_ACTIVE] = 1;
    // Each 16-bit register gets the bytes of this access that fall in it (an access may be 1, 2 or 4 bytes wide, at any offset).
    const bytes = (base: number): { mask: number; bits: number } => {
      let mask = 0;
      let bits = 0;
      for (let i = 0; i < size; i++) {
        const at = offset + i - base;
        if (at < 0 || at > 1) continue;
        mask |= 0xff << (at * 8);
        bits |= ((value >>> (i * 8)) & 0xff) << (at * 8);
      }
      return { mask, bits };
    };
    const sts = bytes(0);
    if (sts.mask) this.clearStatus(sts.bits & sts.mask, now);
    const en = bytes(2);
    if (en.mask) this.w[W_EN] = ((this.w[W_EN]! & ~en.mask) | (en.bits & PM1_EN_MASK)) & 0xffff;
    const cnt = bytes(4);
    if (cnt.mask) this.writeControl((this.w[W_CNT]! & ~cnt.mask) | cnt.bits, cnt.mask);
    // The timer is read-only.
    this.updateSci(now);
  }

  /** Write-1-to-clear. */
  private clearStatus(bits: number, now: number): void {
    if (bits & PM1_TMR) this.f[F_TMR_EPOCH] = Math.floor(this.ticks(now) / TIMER_HALF);
    this.w[W_STS] = this.w[W_STS]! & ~bits;
  }

  private writeControl(value: number, mask: number): void {
    this.w[W_CNT] = value & CNT_KEEP;
    if (!(mask & CNT_SLP_EN) || !(value & CNT_SLP_EN)) return;
    const type = (value & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
    this.w[W_SLEEP_REQ] = type + 1;
    // Sleeping states S1-S4 are not declared in the DSDT, so an OS has no SLP_TYP for them: only S5 does anything.
    if (type === S5_SLP_TYP) this.ctx.emit({ kind: 'poweroff', device: this.name });
  }

  /** Raises the SCI at the timer's next bit-23 carry while TMR_EN is set; the time of that carry. */
  poll(now: number): number {
    this.updateSci(now);
    if (!(this.w[W_EN]! & PM1_TMR) || this.status(now) & PM1_TMR) return Infinity;
    const next = (this.f[F_TMR_EPOCH]! + 1) * TIMER_HALF;
    return this.f[F_START]! + (next * 1000) / PM_TIMER_HZ;
  }

  view(): DeviceView {
    const now = this.ctx.now();
    const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;
    const req = this.w[W_SLEEP_REQ]!;
    return {
      name: this.name,
      model: 'ACPI PM (PIIX4 ports)',
      active: this.w[W_ACTIVE] === 1,
      interrupts: this.w[W_INTS]!,
      fields: [
        { name: 'PM1 status', value: hex4(this.status(now)) },
        { name: 'PM1 enable', value: hex4(this.w[W_EN]!) },
        { name: 'PM1 control', value: hex4((this.w[W_CNT]! & CNT_KEEP) | CNT_SCI_EN) },
        { name: 'PM timer', value: `0x${(this.ticks(now) & TIMER_MASK).toString(16).padStart(6, '0')}` },
        { name: 'sleep request', value: req === 0 ? 'none' : `SLP_TYP ${req - 1}${req - 1 === S5_SLP_TYP ? ' (S5, power off)' : ' (not a declared state: ignored)'}` },
      ],
    };
  }
}

export const acpiPm: DeviceFactory<AcpiPmConfig> = {
  stateBytes: () => STATE_BYTES,
  create: (config, state, ctx): Device => {
    const pm = new AcpiPm(config.name, state, ctx);
    // The three blocks share one register file by offset from PM1a_EVT_BLK (0x606-0x607, between PM1_CNT and PM_TMR, stays unclaimed).
    const at = (base: number, length: number) => {
      const shift = base - ACPI_PM.evtBlk;
      return { base, length, handler: { read: (o: number, size: number) => pm.read(o + shift, size), write: (o: number, size: number, v: number) => pm.write(o + shift, size, v) } };
    };
    return {
      name: config.name,
      pio: [at(ACPI_PM.evtBlk, ACPI_PM.evtLen), at(ACPI_PM.cntBlk, ACPI_PM.cntLen), at(ACPI_PM.tmrBlk, ACPI_PM.tmrLen)],
      poll: (now) => pm.poll(now),
      inspect: () => pm.view(),
    };
  },
};
