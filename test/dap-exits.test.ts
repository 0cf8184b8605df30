// Breakpoints on VM exits, the exit trace and its export, through DAP against
// the bundled adapter, on each backend the host offers (the real /dev/kvm, the
// emulator).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ROOT, vmTest } from './kvm';
import { withClient, withSession } from './dap-client';
import { scratchDir } from './scratch';

const HELLO = path.join(ROOT, 'examples/hello/hello.vmspec');

vmTest('exit breakpoint: a condition stops on the right port and value, and continue completes the exit', async () => {
  await withSession(HELLO, [{ filterId: 'io', condition: "port == 0x3f8 && write && value == 'l'; ==2" }], async ({ dc, stdout }) => {
    const stop = (await dc.waitForEvent('stopped', 20_000)) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.reason, 'exception');
    assert.equal(stop.body.description, 'I/O instruction (VMX exit 30): out 0x3f8, 1 byte, value 0x6c');
    // Stopped at the exit of the second 'l': "Hel" is out, the exit is not done yet.
    assert.equal(stdout(), 'Hel');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
    assert.equal(stdout(), 'Hello from the guest\n', 'the exit completed as if no breakpoint had been there');
  });
});

vmTest('exit breakpoint: one instruction step from it completes the exit once, and the guest goes on', async (_t, backend) => {
  await withSession(HELLO, [{ filterId: 'io', condition: "port == 0x3f8 && value == 'H'" }], async ({ dc, stdout }) => {
    await dc.waitForEvent('stopped', 20_000);
    assert.equal(stdout(), '', 'stopped before the device saw the H');
    const rip = async () => BigInt((await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!.instructionPointerReference!);
    const before = await rip();
    const stepped = dc.waitForEvent('stopped', 20_000);
    await dc.stepInRequest({ threadId: 0, granularity: 'instruction' });
    assert.equal(((await stepped) as DebugProtocol.StoppedEvent).body.reason, 'step');
    assert.equal(stdout(), 'H', 'the step completed the out');
    // Under emulation rip is on the `out %al, (%dx)` (1 byte) at the exit: the one step is that instruction.
    if (backend === 'emu') assert.equal(await rip(), before + 1n, 'the step ran the out and nothing after it');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
    assert.equal(stdout(), 'Hello from the guest\n', 'no out ran twice');
  });
});

vmTest('exit breakpoint: MMIO with a condition on the guest-physical address', async () => {
  await withSession(path.join(ROOT, 'test/guests/io-probe.vmspec'), [{ filterId: 'mmio', condition: 'gpa >= 0xd0000000 && write' }], async ({ dc }) => {
    const stop = (await dc.waitForEvent('stopped', 20_000)) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.description, 'EPT violation (VMX exit 48) or EPT misconfiguration (VMX exit 49): write 0xd0000000, 4 bytes, value 0xcafef00d');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
  });
});

vmTest('exit logpoint: logs each matching exit and does not stop', async () => {
  await withSession(HELLO, [{ filterId: 'io', condition: 'port == 0xf4', mode: 'log' }], async ({ dc, console, stdout }) => {
    const exited = (await dc.waitForEvent('exited', 20_000)) as DebugProtocol.ExitedEvent;
    assert.equal(exited.body.exitCode, 0);
    assert.match(console(), /\[vCPU 0\] io: io out 0xf4, 1 byte, value 0x0 at rip 0x[0-9a-f]+\n/);
    assert.equal(console().match(/\[vCPU 0\] io:/g)?.length, 1, 'only the matching exit is logged');
    assert.equal(stdout(), 'Hello from the guest\n');
  });
});

vmTest('a condition that does not parse is refused with the reason', async () => {
  await withClient(async ({ dc }) => {
    await dc.initializeRequest();
    await dc.launch({ spec: HELLO });
    const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'io', condition: 'port ==' }] });
    assert.equal(r.body?.breakpoints?.[0]?.verified, false);
    assert.match(r.body?.breakpoints?.[0]?.message ?? '', /column/);
  });
});

vmTest('the spec’s debug.break-on-exit filters are on from the start', async () => {
  const dir = scratchDir('vmscope-exits-');
  const spec = path.join(dir, 'hlt.vmspec');
  fs.writeFileSync(spec, `name: hlt\nboot:\n  image: ${path.join(ROOT, 'test/guests/build/hlt.elf')}\ndebug:\n  break-on-exit: [hlt]\n`);
  await withSession(spec, [], async ({ dc, stdout }) => {
    const stop = (await dc.waitForEvent('stopped', 20_000)) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.description, 'HLT (VMX exit 12)');
    assert.equal(stdout(), 'halting\n');
  });
});

vmTest('Exits scope, exit trace and its Perfetto export', async () => {
  await withSession(HELLO, [{ filterId: 'io', condition: 'port == 0xf4' }], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const frame = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!;
    const exitsScope = (await dc.scopesRequest({ frameId: frame.id })).body.scopes.find((s) => s.name === 'Exits')!;
    const top = (await dc.variablesRequest({ variablesReference: exitsScope.variablesReference })).body.variables;
    const counts = (await dc.variablesRequest({ variablesReference: top.find((v) => v.name === 'counts')!.variablesReference })).body.variables;
    const io = Number(counts.find((c) => c.name === 'KVM_EXIT_IO')!.value);
    assert.ok(io > 21, `every byte and the UART set-up made I/O exits (${io})`);
    const last = (await dc.variablesRequest({ variablesReference: top.find((v) => v.name === 'last exits')!.variablesReference })).body.variables;
    assert.match(last[0]!.value, /^out 0xf4, 1 byte, value 0x0 at rip 0x[0-9a-f]+/);
    assert.match(last[1]!.value, /^out 0x3f8, 1 byte, value 0xa at rip/);

    const trace = await dc.customRequest('exitTrace', { max: 100 });
    const exits = trace.body.exits as Array<{ reason: string; detail: string; rip: string; vcpu: number; time: number }>;
    assert.equal(exits.length, Math.min(io, 100));
    assert.equal(exits[exits.length - 1]!.detail, 'out 0xf4, 1 byte, value 0x0');
    assert.ok(exits.every((e, i) => i === 0 || e.time >= exits[i - 1]!.time), 'oldest first');
    const chars = exits.filter((e) => e.detail.startsWith('out 0x3f8')).map((e) => String.fromCharCode(Number(/value (0x[0-9a-f]+)/.exec(e.detail)![1])));
    // The first `out 0x3f8` is the divisor latch (DLAB set), 1 for 115200 baud.
    assert.equal(chars.join(''), '\x01Hello from the guest\n');

    const exported = await dc.customRequest('exportExitTrace', {});
    const events = exported.body.traceEvents.traceEvents as Array<{ ph: string; name: string; tid: number; ts: number }>;
    assert.ok(events.some((e) => e.ph === 'M' && e.name === 'thread_name'));
    assert.equal(events.filter((e) => e.ph === 'i' && e.name === 'io').length, io);
  });
});

vmTest('VMCS scope: guest state equals the registers; the exit fields follow the SDM for an out', async (_t, backend) => {
  // Under emulation there is no hardware VMCS and no KVM call behind a field: each says it is emulated.
  const from = (kvm: string, emu: string) => (backend === 'emu' ? emu : kvm);
  await withSession(HELLO, [{ filterId: 'io', condition: "port == 0x3f8 && write && value == 'H'" }], async ({ dc }) => {
    await dc.waitForEvent('stopped', 20_000);
    const frame = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!;
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const vmcs = scopes.find((s) => s.name === 'VMCS')!;
    const groups = (await dc.variablesRequest({ variablesReference: vmcs.variablesReference })).body.variables;
    const fields = new Map<string, string>();
    for (const g of groups) {
      if (!g.variablesReference) continue;
      for (const f of (await dc.variablesRequest({ variablesReference: g.variablesReference })).body.variables) fields.set(f.name, f.value);
    }
    const value = (name: string): bigint => {
      const entry = [...fields].find(([k]) => k.startsWith(name + ' ('));
      assert.ok(entry, `${name} is shown`);
      return BigInt(entry[1].split(' ')[0]!);
    };
    const provenance = (name: string) => [...fields].find(([k]) => k.startsWith(name + ' ('))![1].split(' · ')[1];
    const regs = (await dc.variablesRequest({ variablesReference: scopes.find((s) => s.name === 'General registers')!.variablesReference })).body.variables;
    const reg = (n: string) => BigInt(regs.find((r) => r.name === n)!.value);
    assert.equal(value('GUEST_RIP'), reg('rip'));
    assert.equal(value('GUEST_RSP'), reg('rsp'));
    assert.equal(value('GUEST_RFLAGS'), reg('rflags'));
    assert.equal(provenance('GUEST_RIP'), from('KVM_GET_REGS', "emulated: the emulated vCPU's state"));
    assert.equal(value('GUEST_CR3'), 0x1000n);
    assert.equal(provenance('GUEST_CR3'), from('KVM_GET_SREGS', "emulated: the emulated vCPU's state"));
    assert.ok([...fields.keys()].some((k) => k === 'GUEST_CR3 (0x6802)'), 'SDM name with its encoding');
    assert.equal(value('GUEST_CS_AR_BYTES'), 0xa09bn, 'flat 64-bit code: type b, S, P, L, G');
    // out %al, (%dx) to 0x3f8: size-1 = 0, out, not string, not rep, DX, port 0x3f8 in bits 31:16.
    assert.equal(value('VM_EXIT_REASON'), 30n);
    assert.equal(value('EXIT_QUALIFICATION'), 0x3f80000n);
    assert.equal(provenance('EXIT_QUALIFICATION'), from('derived from the last exit', 'emulated: derived from the last exit'));
    assert.equal(value('VM_EXIT_INSTRUCTION_LEN'), 1n);
    const nested = groups.find((g) => g.name === 'vmcs12 (guest hypervisor)')!;
    assert.match(nested.value, backend === 'emu' ? /^not available: the emulator has no VMX/ : /KVM_CAP_NESTED_STATE = 0|fields|VMX operation/);

    // Guest-state fields write through to the vCPU; exit information is read-only.
    const guestGroup = groups.find((g) => g.name === 'Guest-state area: registers')!;
    const guestFields = (await dc.variablesRequest({ variablesReference: guestGroup.variablesReference })).body.variables;
    const rspField = guestFields.find((f) => f.name.startsWith('GUEST_RSP ('))!.name;
    const set = await dc.setVariableRequest({ variablesReference: guestGroup.variablesReference, name: rspField, value: 'rsp - 0x40' });
    assert.match(set.body.value, backend === 'emu' ? /^0x[0-9a-f]+ · emulated: the emulated vCPU's state/ : /^0x[0-9a-f]+ · KVM_GET_REGS/);
    const regsAfter = (await dc.variablesRequest({ variablesReference: scopes.find((s) => s.name === 'General registers')!.variablesReference })).body.variables;
    assert.equal(BigInt(regsAfter.find((r) => r.name === 'rsp')!.value), reg('rsp') - 0x40n);
    const exitGroup = groups.find((g) => g.name === 'VM-exit information fields')!;
    const exitFields = (await dc.variablesRequest({ variablesReference: exitGroup.variablesReference })).body.variables;
    await assert.rejects(
      dc.setVariableRequest({ variablesReference: exitGroup.variablesReference, name: exitFields.find((f) => f.name.startsWith('VM_EXIT_REASON ('))!.name, value: '1' }),
      /exit information is read-only/,
    );
  });
});

vmTest('exit breakpoint on WRMSR (through a KVM MSR filter): stops with the MSR and value, and the write still happens', async () => {
  await withSession(path.join(ROOT, 'test/guests/msr.vmspec'), [{ filterId: 'wrmsr', condition: 'msr == 0x174' }], async ({ dc }) => {
    const stop = (await dc.waitForEvent('stopped', 20_000)) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.description, 'WRMSR (VMX exit 32): MSR 0x174, value 0x1234');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.continueRequest({ threadId: 0 });
    // The guest reads IA32_SYSENTER_CS back and exits 0 only if it holds 0x1234.
    assert.equal((await exited).body.exitCode, 0);
  });
});

vmTest('RDMSR with a register condition: the EFER read is the one that stops', async () => {
  await withSession(path.join(ROOT, 'test/guests/msr.vmspec'), [{ filterId: 'rdmsr', condition: 'msr == 0xc0000080 && rcx == 0xc0000080' }], async ({ dc }) => {
    const stop = (await dc.waitForEvent('stopped', 20_000)) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.description, 'RDMSR (VMX exit 31): MSR 0xc0000080');
    const exited = dc.waitForEvent('exited', 20_000);
    await dc.continueRequest({ threadId: 0 });
    assert.equal((await exited).body.exitCode, 0);
  });
});
