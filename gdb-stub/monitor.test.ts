// The qRcmd framing of monitor commands: hex in, O packets of hex console
// output, then OK or an error reply; commands that need no VM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Monitor } from './monitor';
import { fromHex, toHex } from './packets';
import type { Machine } from '../vmm/machine';
import type { GuestAccess } from '../vmm/guest-access';
import { EXIT_FILTERS } from '../vmm/exit-filters';

/** A monitor whose machine and guest access throw if touched: help and parsing need neither. */
function bareMonitor(): Monitor {
  const untouchable = new Proxy({}, { get: (_t, name) => { throw new Error(`touched ${String(name)}`); } });
  return new Monitor(untouchable as Machine, untouchable as GuestAccess);
}

function call(m: Monitor, command: string): { reply: string; text: string } {
  const out: string[] = [];
  const reply = m.packet(toHex(new TextEncoder().encode(command)), 0, (p) => out.push(p));
  for (const p of out) assert.match(p, /^O([0-9a-f]{2})+$/);
  const text = out.map((p) => Buffer.from(fromHex(p.slice(1))!).toString()).join('');
  return { reply, text };
}

test('monitor help: OK after O packets listing every command and every exit kind', () => {
  const { reply, text } = call(bareMonitor(), 'help');
  assert.equal(reply, 'OK');
  for (const name of ['help', 'translate', 'vmcs', 'exits', 'break-on-exit', 'info']) assert.match(text, new RegExp(`^  ${name}\\b`, 'm'));
  for (const f of EXIT_FILTERS) assert.ok(text.includes(f.id), f.id);
  assert.ok(text.endsWith('\n'));
  // An empty command is help too.
  assert.equal(call(bareMonitor(), '   ').text, text);
});

test('monitor: unknown commands, unknown exit kinds, bad conditions and bad hex are error replies with the reason printed', () => {
  const m = bareMonitor();
  const unknown = call(m, 'frobnicate 1');
  assert.equal(unknown.reply, 'E01');
  assert.match(unknown.text, /^error: unknown monitor command "frobnicate"/);
  const kind = call(m, 'break-on-exit vmcall');
  assert.equal(kind.reply, 'E01');
  assert.match(kind.text, /unknown exit kind "vmcall"; one of io, mmio/);
  const cond = call(m, 'break-on-exit io port ==');
  assert.equal(cond.reply, 'E01');
  assert.match(cond.text, /^error: .*'=='/);
  assert.equal(call(m, 'translate').reply, 'E01');
  assert.equal(m.packet('6x', 0, () => assert.fail('no output for bad hex')), 'E01');
});
