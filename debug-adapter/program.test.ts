// Unit tests for ProgramInfo's symbol files: System.map text next to the image's own symbols.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgramInfo } from './program';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

const MAP = ['00100000 T _start', '00100040 t irq0_entry', '00100100 T timer_tick', '00100180 T wait_ticks', '00104000 b ticks', ''].join('\n');

test('a System.map given as symbols names functions, sizes them by the gap to the next, and counts as code', () => {
  const p = ProgramInfo.load([{ path: 'System.map', bytes: enc(MAP), role: 'symbols' }]);
  assert.deepEqual(p.warnings, []);
  assert.equal(p.symbol('timer_tick')?.value, 0x100100n);
  assert.equal(p.symbol('timer_tick')?.kind, 'func');
  assert.equal(p.symbolize(0x100105n), 'timer_tick+0x5');
  assert.equal(p.symbolize(0x100045n), 'irq0_entry+0x5');
  assert.equal(p.functionStart(0x100190n), 0x100180n);
  // Text symbols make code for the unwinder (a bzImage has no program headers); data does not.
  assert.equal(p.isCode(0x100110n), true);
  assert.equal(p.isCode(0x104000n), false);
});

test('a non-ELF boot image adds nothing; a placeholder System.map warns unless the builder already did', () => {
  const image = ProgramInfo.load([{ path: 'vmlinuz', bytes: enc(MAP), role: 'image' }]);
  assert.equal(image.symbol('timer_tick'), undefined);
  const placeholder = enc('ffffffffffffffff B The real System.map is in the linux-image-6.1.0-18-cloud-amd64-dbg package\n');
  const asLaunch = ProgramInfo.load([{ path: 'System.map', bytes: placeholder, role: 'symbols' }]);
  assert.equal(asLaunch.warnings.length, 1);
  assert.match(asLaunch.warnings[0]!, /placeholder System\.map .*-dbg package/);
  assert.deepEqual(ProgramInfo.load([{ path: 'System.map', bytes: placeholder, role: 'boot-symbols' }]).warnings, []);
  const junk = ProgramInfo.load([{ path: 'notes.txt', bytes: enc('hello\n'), role: 'symbols' }]);
  assert.match(junk.warnings[0] ?? '', /neither an ELF file nor a System\.map/);
});
