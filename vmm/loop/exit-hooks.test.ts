import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_CODES, TraceRing, traceBytes, type ExitInfo } from '../exit-trace';
import { ExitHooks } from './exit-hooks';

const IO = EXIT_CODES.io;
const out = (port: number, value: number): ExitInfo => ({ reason: 'io', port, size: 1, direction: 'out', count: 1, value });
const registers = (name: string): bigint | undefined => (name === 'rax' ? 0x41n : undefined);
const rip = (): bigint => 0x10_008an;

function hooks() {
  const logs: Array<[string, string]> = [];
  const trace = new SharedArrayBuffer(traceBytes(16));
  return { logs, trace, hooks: new ExitHooks(trace, Date.now(), (filter, text) => logs.push([filter, text])) };
}

test('a break filter stops on the exits its condition matches, counting hits', () => {
  const { hooks: h } = hooks();
  h.configure([{ id: 'b', codes: [IO], condition: 'port == 0x3f8 && value == rax' }], false, () => {});
  assert.equal(h.active, true);
  assert.equal(h.onExit(IO, out(0x80, 0x41), registers, rip), undefined);
  assert.equal(h.onExit(IO, out(0x3f8, 0x42), registers, rip), undefined);
  assert.deepEqual(h.onExit(IO, out(0x3f8, 0x41), registers, rip), { kind: 'exit-break', filter: 'b', code: IO, exit: out(0x3f8, 0x41), hits: 1 });
  assert.equal(h.onExit(EXIT_CODES.hlt, { reason: 'hlt' }, registers, rip), undefined, 'another exit code');
});

test('a hit condition after ";" stops at the Nth match only', () => {
  const { hooks: h } = hooks();
  h.configure([{ id: 'b', codes: [IO], condition: 'out; ==2' }], false, () => {});
  assert.equal(h.onExit(IO, out(1, 0), registers, rip), undefined);
  assert.equal(h.onExit(IO, out(1, 0), registers, rip)?.hits, 2);
  assert.equal(h.onExit(IO, out(1, 0), registers, rip), undefined);
});

test('logpoints log (the exit itself when the message is empty) and never stop', () => {
  const { hooks: h, logs } = hooks();
  h.configure(
    [
      { id: 'quiet', codes: [IO], logMessage: '' },
      { id: 'said', codes: [IO], logMessage: 'port {port} got {value}' },
    ],
    false,
    () => {},
  );
  assert.equal(h.onExit(IO, out(0x3f8, 0x48), registers, rip), undefined);
  assert.deepEqual(logs, [
    ['quiet', 'io out 0x3f8, 1 byte, value 0x48 at rip 0x10008a'],
    ['said', 'port 0x3f8 got 0x48'],
  ]);
});

test('filters that do not compile are reported, and a condition that fails to evaluate is logged and counts as a match', () => {
  const { hooks: h, logs } = hooks();
  h.configure(
    [
      { id: 'bad', codes: [IO], condition: 'port ==' },
      { id: 'odd', codes: [IO], condition: 'nosuchname == 1' },
    ],
    false,
    () => {},
  );
  assert.equal(logs.length, 1);
  assert.equal(logs[0]![0], 'config');
  assert.match(logs[0]![1], /^bad: /);
  assert.equal(h.onExit(IO, out(1, 0), registers, rip)?.filter, 'odd');
  assert.equal(logs.length, 2);
  assert.equal(logs[1]![0], 'odd');
  assert.match(logs[1]![1], /^condition "nosuchname == 1" failed: /);
});

test('the trace records exits only while on; the backend hears of it before `active` changes', () => {
  const { hooks: h, trace } = hooks();
  const ring = new TraceRing(trace);
  h.onExit(IO, out(1, 2), registers, rip);
  assert.equal(ring.written, 0);
  const seen: Array<[boolean, boolean]> = [];
  h.configure([], true, (on) => seen.push([on, h.active]));
  assert.deepEqual(seen, [[true, false]]);
  assert.equal(h.active, true);
  h.onExit(IO, out(1, 2), registers, rip);
  const [entry] = ring.read(0);
  assert.equal(entry?.code, IO);
  assert.equal(entry?.rip, 0x10_008an);
  assert.deepEqual(entry?.exit, out(1, 2));
  h.configure([], false, (on) => seen.push([on, h.active]));
  assert.deepEqual(seen[1], [false, true]);
  assert.equal(h.active, false);
});
