// The advice for an unusable /dev/kvm matches what the host shows. These
// situations cannot all be staged on one machine (and tests run as root, whom
// mode bits do not stop), so each is a set of facts; test/bad-inputs.test.ts
// provokes the real ones this host can show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainKvmOpenError, type KvmHostFacts } from './kvm-device';

const facts = (over: Omit<Partial<KvmHostFacts>, 'modules'> & { modules?: string[] } = {}): KvmHostFacts => ({ inVm: false, ...over, modules: new Set(over.modules ?? []) });

test('no node, no modules: modprobe the module for this CPU', () => {
  assert.equal(explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ cpuVirt: 'vmx' })), '/dev/kvm does not exist: the KVM modules are not loaded: sudo modprobe kvm_intel (if it fails, enable VT-x in the firmware)');
  assert.match(explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ cpuVirt: 'svm', modules: ['kvm'] })), /kvm is loaded but not its CPU module: sudo modprobe kvm_amd/);
});

test('no node, no virtualization in the CPU: no modprobe advice, the VM host or the firmware', () => {
  assert.match(explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ inVm: true })), /no hardware virtualization \(no vmx or svm flag\): enable nested virtualization on its host, or run under emulation$/);
  assert.match(explainKvmOpenError('/dev/kvm', 'ENOENT', facts()), /enable VT-x or AMD-V in the firmware/);
  assert.doesNotMatch(explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ inVm: true, modules: ['kvm'] })), /modprobe/);
});

test('modules loaded but no node: udev, with the device numbers the kernel registered', () => {
  const m = explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ modules: ['kvm', 'kvm_intel'], cpuVirt: 'vmx', miscDevice: '10:232' }));
  assert.equal(m, '/dev/kvm does not exist: the kernel offers KVM (misc device 10:232) but no node was created; run sudo udevadm trigger, or create it: sudo mknod -m 660 /dev/kvm c 10 232 && sudo chgrp kvm /dev/kvm');
  assert.doesNotMatch(m, /modprobe/);
  assert.match(explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ modules: ['kvm', 'kvm_amd'] })), /kvm_amd is loaded but no node was created; run sudo udevadm trigger/);
});

test('kvm_pvm loaded but not bound (this host): no modprobe, no udev', () => {
  const m = explainKvmOpenError('/dev/kvm', 'ENOENT', facts({ modules: ['kvm', 'kvm_pvm'], inVm: true }));
  assert.equal(m, '/dev/kvm does not exist: kvm_pvm is loaded but did not bind (this host is itself a PVM guest); run on a host or VM with hardware virtualization');
});

test('a --kvm path that does not exist is the path, whatever is loaded', () => {
  assert.equal(explainKvmOpenError('/tmp/kvm', 'ENOENT', facts({ modules: ['kvm'] })), "/tmp/kvm does not exist: fix the path given to --kvm (KVM's device is normally /dev/kvm)");
});

test('no permission: the group the node has, or a udev rule when no group may open it', () => {
  assert.equal(
    explainKvmOpenError('/dev/kvm', 'EACCES', facts({ node: { group: 'kvm', mode: 0o660 } })),
    'no permission to open /dev/kvm (group kvm, mode 0660): add yourself to the group (sudo usermod -aG kvm $USER, then log in again)',
  );
  const root = explainKvmOpenError('/dev/kvm', 'EACCES', facts({ node: { group: 'root', mode: 0o600 } }));
  assert.match(root, /^no permission to open \/dev\/kvm \(group root, mode 0600: no udev rule gives a group access\): give the kvm group access \(sudo chgrp kvm \/dev\/kvm && sudo chmod 660 \/dev\/kvm; to keep it, a udev rule KERNEL=="kvm", GROUP="kvm", MODE="0660"\), then join it/);
  assert.match(explainKvmOpenError('/dev/kvm', 'EPERM', facts({ node: { group: 'kvm', mode: 0o600 } })), /group kvm, mode 0600: no udev rule gives a group access/);
});

test('every errno gives one line that says what to do', () => {
  for (const code of ['ENOENT', 'EACCES', 'EPERM', 'ENXIO', 'ENODEV', 'EBUSY', 'EISDIR', 'ELOOP', 'EIO']) {
    const m = explainKvmOpenError('/dev/kvm', code, facts({ cpuVirt: 'vmx' }));
    assert.doesNotMatch(m, /\n/);
    assert.match(m, /modprobe|udevadm|usermod|chgrp|stop it|--kvm|run on|run under|enable/, `${code}: ${m}`);
  }
});
