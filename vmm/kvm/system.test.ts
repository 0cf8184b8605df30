// The rule `accel: auto` follows (autoBackend), which both the runner
// (chooseBackend) and `vmscope info` use: pure, so every combination of what
// a host offers can be checked here, where this host offers only one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoBackend, autoAvoidsKvm, type KvmBackend } from './system';

test('auto runs KVM where it is usable, the emulator where only it is, and nothing where neither is', () => {
  for (const backend of ['vmx', 'svm'] as KvmBackend[]) {
    assert.deepEqual(autoBackend(true, backend, () => true), { name: 'kvm' });
    assert.deepEqual(autoBackend(true, backend, () => false), { name: 'kvm' });
  }
  assert.deepEqual(autoBackend(false, 'vmx', () => true), { name: 'emu' });
  assert.deepEqual(autoBackend(false, 'unknown', () => false), { name: null });
});

test('auto passes over PVM for the emulator, with the reason, but runs PVM when the emulator cannot run', () => {
  const why = autoAvoidsKvm('pvm');
  assert.ok(why && /PVM/.test(why) && !/\(/.test(why), `a reason without parentheses (info wraps it in some): ${why}`);
  assert.deepEqual(autoBackend(true, 'pvm', () => true), { name: 'emu', avoidsKvm: why });
  assert.deepEqual(autoBackend(true, 'pvm', () => false), { name: 'kvm' });
});

test('auto asks whether the emulator can run only when the answer depends on it', () => {
  let asked = 0;
  const emu = () => (asked++, true);
  autoBackend(true, 'vmx', emu);
  assert.equal(asked, 0);
  autoBackend(true, 'pvm', emu);
  autoBackend(false, 'vmx', emu);
  assert.equal(asked, 2);
});
