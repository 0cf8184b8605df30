// GVA -> GPA -> HPA through DAP: `translate <expr>` in the Debug Console, the
// Translation scope and the `translate` request, against the backend's own
// walk (KVM_TRANSLATE, or QEMU's MMU in Unicorn), on page tables the test
// edits in the guest with writeMemory.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ROOT, vmTest } from './kvm';

const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');

interface Walk {
  gva: string;
  mode: string;
  levels: Array<{ name: string; index: number; tableGpa: string; entry: string; pageSize?: number; leaf: boolean }>;
  gpa?: string;
  pageSize?: number;
  fault?: { kind: string; level: number; name: string; text: string };
  host?: { hva: string; present: boolean; hpa?: string; pageSize: number; note?: string };
  kvmTranslate?: { valid: boolean; gpa: string; by?: string };
}

function u64le(v: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.toString('base64');
}

vmTest('translate: identity, 4 KiB non-identity and high-half mappings match the backend\'s own walk (KVM_TRANSLATE, or QEMU\'s MMU in Unicorn); unmapped names the level', async (_t, backend) => {
  // vmscope's walk, checked against the backend's own walker of the same address.
  const checked = (w: Walk, gpa: string) => assert.deepEqual(w.kvmTranslate, { valid: true, gpa, by: backend === 'kvm' ? 'KVM_TRANSLATE' : "Unicorn's MMU" });
  const dc = new DebugClient('node', ADAPTER, 'vmscope');
  await dc.start();
  try {
    await dc.initializeRequest();
    const stopped = dc.waitForEvent('stopped', 20_000);
    await dc.launch({ spec: path.join(ROOT, 'examples/hello/hello.vmspec'), stopOnEntry: true });
    await dc.configurationDoneRequest();
    await stopped;
    const translate = async (address: string): Promise<Walk> => (await dc.customRequest('translate', { address })).body as Walk;
    const write = (gpa: bigint, value: bigint) => dc.customRequest('writeMemory', { memoryReference: `gpa:0x${gpa.toString(16)}`, data: u64le(value) });

    // vmscope's boot tables: 4-level, the low 4 GiB identity-mapped with 2 MiB pages.
    const id = await translate('0x100000');
    assert.equal(id.mode, 'long4');
    assert.deepEqual(id.levels.map((l) => l.name), ['PML4', 'PDPT', 'PD']);
    assert.equal(id.levels[0]!.tableGpa, '0x1000');
    assert.equal(id.levels[2]!.pageSize, 2 * 1024 * 1024);
    assert.equal(id.gpa, '0x100000');
    checked(id, '0x100000');
    // The guest page lives in a host page; as root, its physical address is known.
    assert.equal(id.host?.present, true);
    assert.match(id.host?.hpa ?? id.host?.note ?? '', /^0x[0-9a-f]+$|CAP_SYS_ADMIN/);

    // A 4 KiB non-identity mapping: PD[1] -> a page table at 0x202000, PT[5] -> GPA 0x300000.
    const P = 1n, RW = 2n, PS = 0x80n;
    await write(0x202000n + 5n * 8n, 0x300000n | P | RW);
    await write(0x3000n + 1n * 8n, 0x202000n | P | RW);
    const small = await translate('0x205123');
    assert.deepEqual(small.levels.map((l) => l.name), ['PML4', 'PDPT', 'PD', 'PT']);
    assert.equal(small.levels[3]!.index, 5);
    assert.equal(small.gpa, '0x300123');
    checked(small, '0x300123');

    // A high-half mapping, 0xffffffff80000000 -> GPA 0: PML4[511] -> PDPT at 0x204000,
    // PDPT[510] -> PD at 0x205000, PD[0] -> the 2 MiB page at 0.
    await write(0x205000n, 0n | P | RW | PS);
    await write(0x204000n + 510n * 8n, 0x205000n | P | RW);
    await write(0x1000n + 511n * 8n, 0x204000n | P | RW);
    const high = await translate('0xffffffff80100abc');
    assert.deepEqual(high.levels.map((l) => [l.name, l.index]), [['PML4', 511], ['PDPT', 510], ['PD', 0]]);
    assert.equal(high.gpa, '0x100abc');
    checked(high, '0x100abc');
    // Expressions work too: the same address through a symbol.
    assert.equal((await translate('_start + 0xffffffff80000000')).gpa, '0x100000');

    // Unmapped: above 4 GiB the PDPT entry is not present.
    const none = await translate('0x100000000');
    assert.equal(none.gpa, undefined);
    assert.deepEqual([none.fault?.kind, none.fault?.name, none.fault?.level], ['not-present', 'PDPT', 3]);
    assert.equal(none.kvmTranslate?.valid, false, "the backend's own walker agrees: not mapped");

    // In the Debug Console, and as the Translation scope.
    const repl = await dc.evaluateRequest({ expression: 'translate 0xffffffff80100abc', context: 'repl' });
    assert.match(repl.body.result, /PML4 +table 0x1000 \[511\]/);
    assert.match(repl.body.result, /GPA 0x100abc/);
    const frame = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!;
    const scope = (await dc.scopesRequest({ frameId: frame.id })).body.scopes.find((s) => s.name === 'Translation')!;
    const vars = (await dc.variablesRequest({ variablesReference: scope.variablesReference })).body.variables as DebugProtocol.Variable[];
    assert.match(vars.find((v) => v.name === 'rip')!.value, /^0x100000 -> GPA 0x100000/);
    assert.match(vars.find((v) => v.name === 'rsp')!.value, /^0x80000 -> GPA 0x80000/);
  } finally {
    await dc.stop();
  }
});
