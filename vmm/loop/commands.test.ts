import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_DEBUG, type DebugConfig, type VcpuCommand } from '../debug';
import { EXIT_CODES, traceBytes } from '../exit-trace';
import { CommandChannel, type LoopOrders } from './commands';
import { ExitHooks } from './exit-hooks';
import { Ctl } from './control';

function channel(posted: VcpuCommand[]) {
  const ctl = new Int32Array(new SharedArrayBuffer(Ctl.WORDS * 4));
  const orders: LoopOrders = { how: { kind: 'continue' }, debug: NO_DEBUG, debugChanged: false, irqs: [] };
  const logs: string[] = [];
  const hooks = new ExitHooks(new SharedArrayBuffer(traceBytes(4)), 0, (_f, text) => logs.push(text));
  const tracing: boolean[] = [];
  const commands = new CommandChannel(ctl, () => posted.shift(), orders, hooks, (on) => tracing.push(on));
  return { ctl, orders, hooks, tracing, logs, commands };
}

test('drain carries out every posted command in order and clears PENDING', () => {
  const config: DebugConfig = { ...NO_DEBUG, softwareBreakpoints: true };
  const posted: VcpuCommand[] = [
    { kind: 'interrupt', vector: 0x20 },
    { kind: 'resume', how: { kind: 'step-instruction' } },
    { kind: 'debug-config', config },
    { kind: 'interrupt', vector: 0x21 },
  ];
  const { ctl, orders, commands } = channel(posted);
  Atomics.store(ctl, Ctl.PENDING, 1);
  assert.equal(commands.pending, true);
  commands.drain();
  assert.equal(commands.pending, false);
  assert.equal(posted.length, 0);
  assert.deepEqual(orders.irqs, [0x20, 0x21]);
  assert.deepEqual(orders.how, { kind: 'step-instruction' });
  assert.equal(orders.debug, config);
  assert.equal(orders.debugChanged, true);
});

test('an exit config reaches the exit hooks and the backend', () => {
  const { hooks, tracing, commands, logs } = channel([{ kind: 'exit-config', filters: [{ id: 'f', codes: [EXIT_CODES.hlt], condition: '(' }], trace: true }]);
  commands.drain();
  assert.deepEqual(tracing, [true]);
  assert.equal(hooks.active, true);
  assert.equal(logs.length, 1, 'the broken filter was reported');
});
