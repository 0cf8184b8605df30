import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { statusText, vmTree, type VmInfo } from './vm-model';

const info: VmInfo = {
  name: 'hello',
  backend: 'pvm',
  state: 'stopped',
  vcpus: [
    { id: 0, state: 'paused', focus: true, mode: 'long', cpl: 0, rip: '0x100000' },
    { id: 1, state: 'running' },
  ],
  memory: [
    { name: 'ram', kind: 'ram', gpa: '0x0', size: 16 * 1024 * 1024 },
    { name: 'uart', kind: 'mmio', gpa: '0xfe000000', size: 4096 },
  ],
  devices: [
    { name: 'serial', kind: 'uart16550', port: '0x3f8' },
    {
      name: 'pit',
      kind: 'pit',
      model: '8254 PIT',
      active: true,
      interrupts: 42,
      fields: [{ name: 'channel 0 (IRQ 0)', value: 'mode 2, count 11931 (100.01 Hz)' }],
    },
    { name: 'cmos', kind: 'cmos', model: 'MC146818 RTC/CMOS', active: false, interrupts: 0, fields: [] },
  ],
  exitCounts: { hlt: 1, io: 120 },
  exitFilters: ['io'],
};

test('the VM tree lists vCPUs with mode and CPL, the memory map with GPA ranges, devices and exits by count', () => {
  const [backend, vcpus, memory, devices, exits] = vmTree(info);
  assert.deepEqual([backend!.label, backend!.description], ['Backend', 'KVM (PVM)']);
  assert.equal(vcpus!.children![0]!.label, 'vCPU 0 (focus)');
  assert.equal(vcpus!.children![0]!.description, 'stopped · long mode · CPL 0 · rip 0x100000');
  assert.equal(vcpus!.children![1]!.description, 'running');
  assert.equal(memory!.children![0]!.description, 'RAM 0x0..0xffffff (16 MiB)');
  assert.equal(memory!.children![1]!.description, 'MMIO 0xfe000000..0xfe000fff (4 KiB)');
  assert.equal(devices!.children![0]!.description, 'uart16550 · port 0x3f8');
  // Live device views: model, active or idle, interrupts, and the registers as children.
  const pit = devices!.children![1]!;
  assert.equal(pit.description, '8254 PIT · active · 42 interrupts');
  assert.deepEqual(pit.children!.map((c) => [c.label, c.description]), [['channel 0 (IRQ 0)', 'mode 2, count 11931 (100.01 Hz)']]);
  assert.equal(devices!.children![2]!.description, 'MC146818 RTC/CMOS · idle');
  assert.equal(devices!.children![2]!.children, undefined);
  assert.equal(exits!.description, '121');
  assert.deepEqual(exits!.children!.map((c) => [c.label, c.description]), [['io', '120 · breaks'], ['hlt', '1']]);
});

test('under emulation the backend node names Unicorn and says what the debugger gets', () => {
  const [backend] = vmTree({
    ...info,
    backend: 'emu',
    accel: { name: 'emu', description: 'emulation (Unicorn 2.1.4)', capabilities: { softwareBreakpoints: true, dataWatchpoints: true, maxHardwareBreakpoints: 64, nestedState: false, exactInstructionCount: true, msrExits: true, hardwareVmcs: false } },
  });
  assert.equal(backend!.description, 'emulation (Unicorn 2.1.4)');
  assert.equal(backend!.tooltip, 'int3 breakpoints; 64 breakpoint/watchpoint slots; exact data watchpoints; no hardware VMCS behind the VMCS view; no nested state (vmcs12); exact instruction counts');
  assert.equal(statusText('emu', { kind: 'stopped', thread: 0, reason: 'step' }), 'emulated · vCPU0 stopped on step');
});

test('the status bar names the backend and why the vCPU stopped', () => {
  assert.equal(
    statusText('pvm', { kind: 'stopped', thread: 0, reason: 'exception', description: 'OUT to port 0x3f8', text: 'OUT to port 0x3f8 (filter io, hit 1)' }),
    'KVM: PVM · vCPU0 stopped at exit io',
  );
  assert.equal(statusText('vmx', { kind: 'stopped', thread: 1, reason: 'breakpoint' }), 'KVM: VMX · vCPU1 stopped on breakpoint');
  assert.equal(statusText(undefined, { kind: 'running' }), 'KVM: … · running');
  assert.equal(statusText('pvm', { kind: 'ended', exitCode: 0 }), 'KVM: PVM · ended (exit 0)');
});
