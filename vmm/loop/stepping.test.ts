import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpa, gva, type Gva } from '../../common/address';
import { NO_DEBUG, type DebugConfig, type HwSlot, type SoftWatch } from '../debug';
import { breakpointsAt, Stepper, type RunEvent, type StepGuest } from './stepping';
import { WatchedBytes } from './soft-watch';

/** One point of a scripted run: where the vCPU is after each instruction, and what a watched byte holds then. */
interface Point {
  pc: bigint;
  rsp: bigint;
  byte?: number;
}

const BS = 1n << 14n;

/**
 * A guest that follows a script: each instruction moves it to the next
 * point. Instruction breakpoints of the config in force fire when the run
 * reaches their address, as DR0-3 do; a single step reports BS.
 */
class ScriptedGuest implements StepGuest {
  at = 0;
  readonly runs: Array<{ singleStep: boolean; mask?: bigint; slots: ReadonlyArray<HwSlot | null> }> = [];
  kickAfter = Infinity;

  constructor(
    private readonly points: readonly Point[],
    private readonly orders: { debug: DebugConfig },
  ) {}

  run(singleStep: boolean, mask?: bigint): RunEvent | 'kicked' {
    this.runs.push({ singleStep, ...(mask === undefined ? {} : { mask }), slots: this.orders.debug.slots });
    if (this.runs.length > this.kickAfter) return 'kicked';
    for (;;) {
      this.at++;
      const p = this.points[this.at];
      if (!p) throw new Error('the guest ran off its script');
      if (singleStep) return { kind: 'debug', exception: 1, pc: gva(p.pc), dr6: BS };
      const hit = breakpointsAt(this.orders.debug.slots, p.pc);
      if (hit.length) return { kind: 'debug', exception: 1, pc: gva(p.pc), dr6: hit.reduce((d, i) => d | (1n << BigInt(i)), 0n) };
    }
  }

  pc(): Gva {
    return gva(this.points[this.at]!.pc);
  }

  rsp(): bigint {
    return this.points[this.at]!.rsp;
  }

  byte(): number {
    return this.points[this.at]!.byte ?? 0;
  }
}

function setup(points: Point[], slots: Array<HwSlot | null> = [null, null, null, null], extra: Partial<DebugConfig> = {}) {
  const orders = { debug: { ...NO_DEBUG, slots, ...extra } as DebugConfig };
  const guest = new ScriptedGuest(points, orders);
  const stepper = new Stepper(orders, guest, () => BigInt(guest.byte()));
  return { orders, guest, stepper };
}

const exec = (addr: bigint): HwSlot => ({ addr: gva(addr), kind: 'exec', len: 1 });
const line = (pcs: bigint[], rsp = 0x8000n): Point[] => pcs.map((pc) => ({ pc, rsp }));

test('an instruction step is one single step, passing over a breakpoint at pc', () => {
  const { guest, stepper } = setup(line([0x100n, 0x102n]), [exec(0x100n), null, null, null]);
  assert.deepEqual(stepper.carryOut({ kind: 'step-instruction' }), { kind: 'step' });
  assert.deepEqual(guest.runs.map((r) => [r.singleStep, r.mask]), [[true, 0x100n]]);
});

test('an instruction step the vCPU finished inside an exit runs nothing more', () => {
  const { guest, stepper } = setup(line([0x100n]));
  assert.deepEqual(stepper.carryOut({ kind: 'step-instruction' }, true), { kind: 'step' });
  assert.equal(guest.runs.length, 0);
});

test('continue steps off the breakpoint it stands on, then runs to the next', () => {
  const { guest, stepper } = setup(line([0x100n, 0x101n, 0x110n, 0x120n]), [null, exec(0x100n), exec(0x120n), null]);
  assert.deepEqual(stepper.carryOut({ kind: 'continue' }), { kind: 'breakpoint', slots: [2], pc: 0x120n });
  assert.deepEqual(guest.runs.map((r) => [r.singleStep, r.mask]), [[true, 0x100n], [false, undefined]]);
  assert.equal(stepper.stepOff(0x999n), undefined, 'no breakpoint there');
  assert.equal(guest.runs.length, 2, 'and nothing ran');
});

test('step over runs a call at full speed to its return address, then steps on to the end of the range', () => {
  // 0x103 calls 0x200, which returns to 0x108; the range is [0x100, 0x110).
  const points: Point[] = [
    { pc: 0x100n, rsp: 0x8000n },
    { pc: 0x103n, rsp: 0x8000n },
    { pc: 0x200n, rsp: 0x7ff8n },
    { pc: 0x201n, rsp: 0x7ff8n },
    { pc: 0x108n, rsp: 0x8000n },
    { pc: 0x110n, rsp: 0x8000n },
  ];
  const { orders, guest, stepper } = setup(points);
  const before = orders.debug;
  assert.deepEqual(stepper.carryOut({ kind: 'step-range', start: gva(0x100n), end: gva(0x110n), calls: [{ at: gva(0x103n), ret: gva(0x108n) }] }), { kind: 'step' });
  assert.equal(guest.pc(), 0x110n);
  assert.deepEqual(
    guest.runs.map((r) => [r.singleStep, r.mask, r.slots[0]?.addr]),
    [
      [true, 0x100n, undefined],
      [false, undefined, 0x108n], // the lent slot holds the return address
      [true, 0x108n, undefined],
    ],
  );
  assert.equal(orders.debug, before, 'the lent slot is given back');
});

test('step into (no calls) single-steps into the callee and stops outside the range', () => {
  const { guest, stepper } = setup([
    { pc: 0x100n, rsp: 0x8000n },
    { pc: 0x103n, rsp: 0x8000n },
    { pc: 0x200n, rsp: 0x7ff8n },
  ]);
  assert.deepEqual(stepper.carryOut({ kind: 'step-range', start: gva(0x100n), end: gva(0x110n), calls: [] }), { kind: 'step' });
  assert.equal(guest.pc(), 0x200n);
  assert.ok(guest.runs.every((r) => r.singleStep));
});

test('a line step stops at a breakpoint inside its range, and at one inside a call it steps over', () => {
  const inRange = setup(line([0x100n, 0x102n, 0x104n]), [null, null, exec(0x104n), null]);
  assert.deepEqual(inRange.stepper.carryOut({ kind: 'step-range', start: gva(0x100n), end: gva(0x110n), calls: [] }), { kind: 'breakpoint', slots: [2], pc: 0x104n });

  const inCallee = setup(
    [
      { pc: 0x103n, rsp: 0x8000n },
      { pc: 0x200n, rsp: 0x7ff8n },
      { pc: 0x201n, rsp: 0x7ff8n },
    ],
    [null, exec(0x201n), null, null],
  );
  const before = inCallee.orders.debug;
  assert.deepEqual(inCallee.stepper.carryOut({ kind: 'step-range', start: gva(0x100n), end: gva(0x110n), calls: [{ at: gva(0x103n), ret: gva(0x108n) }] }), { kind: 'breakpoint', slots: [1], pc: 0x201n });
  assert.equal(inCallee.guest.runs[0]!.slots[0]?.addr, 0x108n, 'the first free slot is lent');
  assert.equal(inCallee.orders.debug, before);
});

test('step out passes the return address while a recursive call reaches it with rsp not above aboveSp', () => {
  const points: Point[] = [
    { pc: 0x300n, rsp: 0x7fe8n },
    { pc: 0x301n, rsp: 0x7fe8n },
    { pc: 0x108n, rsp: 0x7ff0n }, // the inner frame returns to the same address
    { pc: 0x109n, rsp: 0x7ff0n },
    { pc: 0x108n, rsp: 0x8000n },
  ];
  const { guest, stepper } = setup(points);
  assert.deepEqual(stepper.carryOut({ kind: 'run-to', addr: gva(0x108n), aboveSp: 0x7ff8n }), { kind: 'step' });
  assert.equal(guest.at, 4);
  assert.deepEqual(guest.runs.map((r) => [r.singleStep, r.mask]), [[false, undefined], [true, 0x108n], [false, undefined]]);
});

test('step out with every slot taken single-steps until the return address with rsp above aboveSp', () => {
  const points: Point[] = [
    { pc: 0x300n, rsp: 0x7ff0n },
    { pc: 0x108n, rsp: 0x7ff0n },
    { pc: 0x109n, rsp: 0x7ff0n },
    { pc: 0x108n, rsp: 0x8000n },
  ];
  const full = [exec(0x900n), exec(0x901n), exec(0x902n), exec(0x903n)];
  const { guest, stepper } = setup(points, full);
  assert.deepEqual(stepper.carryOut({ kind: 'run-to', addr: gva(0x108n), aboveSp: 0x7ff8n }), { kind: 'step' });
  assert.equal(guest.at, 3);
  assert.ok(guest.runs.every((r) => r.singleStep && r.slots === full));
});

test('a kick ends a step out and gives the lent slot back', () => {
  const { orders, guest, stepper } = setup(line([0x300n, 0x301n]));
  const before = orders.debug;
  guest.kickAfter = 0;
  assert.equal(stepper.carryOut({ kind: 'run-to', addr: gva(0x108n), aboveSp: 0n }), 'kicked');
  assert.equal(orders.debug, before);
});

test('continue with a software watchpoint steps until the watched bytes change', () => {
  const soft: SoftWatch[] = [{ slot: 4, physical: gpa(0x5000), len: 1 }];
  const points: Point[] = [
    { pc: 0x100n, rsp: 0x8000n, byte: 7 },
    { pc: 0x101n, rsp: 0x8000n, byte: 7 },
    { pc: 0x102n, rsp: 0x8000n, byte: 9 },
  ];
  const { guest, stepper } = setup(points, [null, null, null, null], { softWatch: soft });
  assert.deepEqual(stepper.carryOut({ kind: 'continue' }), { kind: 'watchpoint', slots: [4], pc: 0x102n });
  assert.ok(guest.runs.every((r) => r.singleStep));

  const bp = setup(points, [exec(0x101n), null, null, null], { softWatch: soft });
  assert.deepEqual(bp.stepper.carryOut({ kind: 'continue' }), { kind: 'breakpoint', slots: [0], pc: 0x101n }, 'instruction breakpoints still stop it');
});

test('WatchedBytes compares with the bytes as they were when watching began', () => {
  const memory = new Map<number, bigint>([[0x10, 1n], [0x20, 2n]]);
  const watched = new WatchedBytes(
    [
      { slot: 4, physical: gpa(0x10), len: 8 },
      { slot: 5, physical: gpa(0x20), len: 2 },
    ],
    (gpa) => memory.get(gpa),
  );
  assert.deepEqual(watched.changed(), []);
  memory.set(0x20, 3n);
  assert.deepEqual(watched.changed(), [5]);
  memory.set(0x20, 2n);
  memory.delete(0x10);
  assert.deepEqual(watched.changed(), [4], 'bytes that became unreadable count as changed');
});

test('the stop a debug event means', () => {
  const { stepper } = setup(line([0n]), [exec(0x100n), { addr: gva(0x5000n), kind: 'write', len: 8 }, null, null], { softwareBreakpoints: true });
  assert.deepEqual(stepper.stopFor({ kind: 'debug', exception: 3, pc: gva(0x100n), dr6: 0n }), { kind: 'sw-breakpoint', pc: 0x100n });
  assert.deepEqual(stepper.stopFor({ kind: 'debug', exception: 1, pc: gva(0x100n), dr6: 0b11n }), { kind: 'breakpoint', slots: [0], pc: 0x100n });
  assert.deepEqual(stepper.stopFor({ kind: 'debug', exception: 1, pc: gva(0x104n), dr6: 0b10n }), { kind: 'watchpoint', slots: [1], pc: 0x104n });
  assert.deepEqual(stepper.stopFor({ kind: 'debug', exception: 1, pc: gva(0x104n), dr6: 0n, slots: [1] }), { kind: 'watchpoint', slots: [1], pc: 0x104n }, 'slots beyond DR6');
  assert.deepEqual(stepper.stopFor({ kind: 'debug', exception: 1, pc: gva(0x104n), dr6: 0b100n }), { kind: 'debug', exception: 1, pc: 0x104n, dr6: 0b100n }, 'a slot nobody set');
  const exit = { kind: 'exit-break', filter: 'f', code: 2, exit: { reason: 'hlt' }, hits: 1 } as const;
  assert.deepEqual(stepper.stopFor(exit), { kind: 'exit', filter: 'f', code: 2, exit: { reason: 'hlt' }, hits: 1 });
});

test('a single step that trips a data watchpoint reports it rather than the step', () => {
  const debug: DebugConfig = { ...NO_DEBUG, slots: [null, { addr: gva(0x5000n), kind: 'write', len: 4 }, null, null] };
  const reporting = (dr6: bigint): StepGuest => ({ run: () => ({ kind: 'debug', exception: 1, pc: gva(0x101n), dr6 }), pc: () => gva(0x100n), rsp: () => 0n });
  assert.deepEqual(new Stepper({ debug }, reporting(BS | 0b10n), () => undefined).singleStep(0x100n), { kind: 'watchpoint', slots: [1], pc: 0x101n });
  assert.deepEqual(new Stepper({ debug }, reporting(BS), () => undefined).singleStep(0x100n), { kind: 'stepped', pc: 0x101n });
});
