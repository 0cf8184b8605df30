// The TypeScript copies of <linux/kvm.h> constants must equal what the addon
// was compiled with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNative } from './native';
import { KvmCap, KvmExit, KvmGuestDebug, KVM_MEM_READONLY, KvmSystemEvent } from './constants';

test('exit reasons, capabilities and flags match the kernel header', () => {
  const c = loadNative().constants;
  for (const [name, v] of Object.entries(KvmExit)) {
    if (c[`KVM_EXIT_${name}`] !== undefined) assert.equal(v, c[`KVM_EXIT_${name}`], `KVM_EXIT_${name}`);
  }
  let caps = 0;
  for (const [name, v] of Object.entries(KvmCap)) {
    if (c[`KVM_CAP_${name}`] !== undefined) {
      assert.equal(v, c[`KVM_CAP_${name}`], `KVM_CAP_${name}`);
      caps++;
    }
  }
  assert.ok(caps >= 15, 'most capabilities are cross-checked');
  for (const [name, v] of Object.entries(KvmGuestDebug)) assert.equal(v, c[`KVM_GUESTDBG_${name}`], name);
  for (const [name, v] of Object.entries(KvmSystemEvent)) assert.equal(v, c[`KVM_SYSTEM_EVENT_${name}`], name);
  assert.equal(KVM_MEM_READONLY, c.KVM_MEM_READONLY);
});

test('struct layouts the runner relies on', () => {
  const l = loadNative().layout;
  assert.equal(l.sizes.kvm_regs, 18 * 8);
  assert.equal(l.kvm_run.exit_reason, 8);
  assert.equal(l.sizes.kvm_segment, 24);
});
