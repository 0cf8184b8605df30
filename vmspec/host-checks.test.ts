import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from './parse';
import { checkHost, type HostFacts } from './host-checks';

const host: HostFacts = { memoryBytes: 8 * 2 ** 30, cpus: 2 };
const codes = (yaml: string, h = host) => checkHost(parseSpec(yaml, '/x/vm.vmspec'), h).map((d) => [d.code, d.severity, d.message]);

test('memory: above half the host RAM warns, above all of it is an error', () => {
  assert.deepEqual(codes('name: a\nmemory: 1GiB\nboot: { image: a }\n'), []);
  const [warn] = codes('name: a\nmemory: 5GiB\nboot: { image: a }\n');
  assert.deepEqual(warn!.slice(0, 2), ['host-memory', 'warning']);
  const [err] = codes('name: a\nmemory: 9GiB\nboot: { image: a }\n');
  assert.deepEqual(err!.slice(0, 2), ['host-memory', 'error']);
  assert.match(String(err![2]), /9 GiB is more than this host's RAM \(8 GiB\)/);
});

test('vCPUs beyond host CPUs warn with the overcommit ratio', () => {
  const [w] = codes('name: a\nvcpus: 6\nboot: { image: a }\n');
  assert.equal(w![0], 'host-vcpus');
  assert.match(String(w![2]), /6 vCPUs on 2 host CPUs: an overcommit of 3:1 \(vCPU:pCPU\)/);
});

test('an unusable /dev/kvm: information where the emulator runs the spec, an error where nothing can', () => {
  const noKvm = { ...host, kvmProblem: '/dev/kvm does not exist on this host' };
  assert.deepEqual(codes('name: a\nboot: { image: a }\n', noKvm), [['host-kvm', 'info', 'runs under emulation here: /dev/kvm does not exist on this host']]);
  const [e] = codes('name: a\nboot: { image: a }\n', { ...noKvm, emulatorProblem: 'Unicorn 2.1+ is not installed' });
  assert.deepEqual(e!.slice(0, 2), ['host-kvm', 'error']);
  assert.match(String(e![2]), /cannot run here: \/dev\/kvm does not exist on this host; and the emulator cannot either: Unicorn 2\.1\+ is not installed/);
});

test('accel asks for one backend: an error when that one cannot run here, whatever the other can', () => {
  const noKvm = { ...host, kvmProblem: '/dev/kvm does not exist on this host' };
  const [k] = codes('name: a\naccel: kvm\nboot: { image: a }\n', noKvm);
  assert.deepEqual(k!.slice(0, 2), ['host-kvm', 'error']);
  assert.match(String(k![2]), /^accel: kvm, but this spec cannot run here: .*; accel: auto or emu would run it under emulation$/);
  assert.deepEqual(codes('name: a\naccel: emu\nboot: { image: a }\n', noKvm), []);
  const [u] = codes('name: a\naccel: emu\nboot: { image: a }\n', { ...host, emulatorProblem: 'no Unicorn' });
  assert.deepEqual(u!.slice(0, 3), ['host-kvm', 'error', 'accel: emu, but the emulator cannot run here: no Unicorn']);
});

test('host checks show together with the spec\'s other errors', () => {
  const r = parseSpec('name: a\nmemory: 4096GiB\nmemroy: 1MiB\nboot: { image: a }\n', '/x/vm.vmspec');
  assert.ok(r.diagnostics.some((d) => d.code === 'unknown-key'), 'the misspelled key is an error');
  const host = checkHost(r, { memoryBytes: 8 * 2 ** 30, cpus: 2 });
  assert.deepEqual(host.map((d) => [d.code, d.severity, d.range.start.line]), [['host-memory', 'error', 1]]);
});

test('regions beyond the host\'s physical address width are errors', () => {
  const yaml = 'name: a\nboot: { image: a }\nregions:\n  - { name: far, gpa: 0x1000000000000, size: 4KiB, kind: mmio }\n';
  const [e] = codes(yaml, { ...host, physBits: 48 });
  assert.deepEqual(e!.slice(0, 2), ['beyond-phys-width', 'error']);
  assert.match(String(e![2]), /region far ends at 0x1000000001000, beyond this host's 48-bit/);
  assert.deepEqual(codes(yaml, { ...host, physBits: 52 }), []);
});
