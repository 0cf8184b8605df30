// Debian's Linux kernel under the debugger, through the bundled adapter: an
// instruction breakpoint at the bzImage's 64-bit entry, then the boot to the
// busybox shell on the serial console, typed input, and a pause that shows
// where the kernel is (its stack and the translation of rip). The kernel and
// initramfs are fetched by scripts/guests/fetch-linux.sh, never committed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { withClient } from './dap-client';
import { BACKENDS, ROOT, backendProblem, pvmProblem } from './kvm';
import { ENTRY64_OFFSET, parseSetupHeader } from '../formats/bzimage';

const SPEC = path.join(ROOT, 'examples/linux/linux.vmspec');
const VMLINUZ = path.join(ROOT, 'guests-cache/linux/vmlinuz');
const INITRD = path.join(ROOT, 'guests-cache/linux/initramfs.cpio.gz');
const MISSING = [VMLINUZ, INITRD].filter((f) => !fs.existsSync(f));
const NO_KERNEL = MISSING.length ? `needs ${MISSING.map((f) => path.relative(ROOT, f)).join(' and ')}: run scripts/guests/fetch-linux.sh` : undefined;

/** Resolves once `have()` holds, polling; fails with `what` and the tail of `text()` after `ms`. */
async function until(have: () => boolean, ms: number, what: string, text: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!have()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; serial output ends:\n${text().slice(-800)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Translation {
  gva: string;
  mode: string;
  levels: Array<{ name: string; leaf: boolean }>;
  gpa?: string;
  kvmTranslate?: { valid: boolean; gpa: string };
}

for (const backend of BACKENDS) {
  const skip = backendProblem(backend) ?? NO_KERNEL ?? pvmProblem(backend, 'ends Linux\'s early boot in a KVM internal error (an instruction it cannot emulate)');
  // Linux takes ~8 s to its prompt on an idle 2-CPU machine under emulation; the rest of the suite shares the CPUs.
  test(`[${backend}] DAP: Linux from its 64-bit entry breakpoint to the shell prompt, typed input, pause with stack and translation`, { skip, timeout: 300_000 }, async () => {
    const before = process.env.VMSCOPE_ACCEL;
    process.env.VMSCOPE_ACCEL = backend;
    try {
      await withClient(async ({ dc, stdout }) => {
        // The 64-bit entry, by the boot protocol: the protected-mode kernel's load address (pref_address for this
        // relocatable kernel, which fits in the spec's RAM) + 0x200.
        const header = parseSetupHeader(fs.readFileSync(VMLINUZ));
        const entry = header.prefAddress + BigInt(ENTRY64_OFFSET);

        await dc.initializeRequest();
        const initialized = dc.waitForEvent('initialized');
        await dc.launch({ spec: SPEC, stopOnEntry: false } as DebugProtocol.LaunchRequestArguments);
        await initialized;
        const info = (await dc.customRequest('vmInfo')).body as { entry?: string };
        assert.equal(BigInt(info.entry ?? '-1'), entry, `vmInfo's entry ${info.entry}`);
        const set = (await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: info.entry! }] })) as DebugProtocol.SetInstructionBreakpointsResponse;
        const bp = set.body.breakpoints[0]!;
        assert.ok(bp.verified, bp.message);
        const hit = dc.waitForEvent('stopped', 60_000);
        await dc.configurationDoneRequest();
        const stop = (await hit) as DebugProtocol.StoppedEvent;
        assert.equal(stop.body.reason, 'instruction breakpoint');
        assert.deepEqual(stop.body.hitBreakpointIds, [bp.id]);
        const top = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames[0]!;
        assert.equal(BigInt(top.instructionPointerReference!), entry);
        const regs = (await dc.scopesRequest({ frameId: top.id })).body.scopes.find((s) => s.name === 'General registers')!;
        const vars = (await dc.variablesRequest({ variablesReference: regs.variablesReference })).body.variables;
        assert.equal(BigInt(vars.find((v) => v.name === 'rip')!.value), entry);
        // boot_params in rsi, as the 64-bit boot protocol has it.
        assert.notEqual(BigInt(vars.find((v) => v.name === 'rsi')!.value), 0n);
        assert.equal(stdout(), '', 'nothing printed before the entry');

        // The decompressor moves itself: take the breakpoint out before it runs on.
        await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
        await dc.continueRequest({ threadId: 0 });
        await until(() => stdout().includes('/ # '), 180_000, 'the shell prompt "/ # "', stdout);

        const accepted = (await dc.customRequest('serialInput', { text: 'echo vmscope-$((6*7))\n' })).body as { accepted: number };
        assert.equal(accepted.accepted, 'echo vmscope-$((6*7))\n'.length);
        // The shell echoes the command as typed; only the shell's arithmetic makes 42.
        await until(() => stdout().includes('vmscope-42'), 60_000, 'vmscope-42', stdout);

        const paused = dc.waitForEvent('stopped', 30_000);
        await dc.pauseRequest({ threadId: 0 });
        assert.equal(((await paused) as DebugProtocol.StoppedEvent).body.reason, 'pause');
        const frames = (await dc.stackTraceRequest({ threadId: 0 })).body.stackFrames;
        assert.ok(frames.length >= 1);
        const rip = BigInt(frames[0]!.instructionPointerReference!);
        // Idle in the kernel (or in busybox waiting for input): either way a paged address.
        const t = (await dc.customRequest('translate', { address: frames[0]!.instructionPointerReference! })).body as Translation;
        assert.equal(t.mode, 'long4', JSON.stringify(t));
        assert.equal(t.levels[0]!.name, 'PML4');
        assert.ok(t.levels.at(-1)!.leaf);
        assert.ok(t.gpa !== undefined, JSON.stringify(t));
        // The page offset survives translation, whatever the page size.
        assert.equal(BigInt(t.gpa) & 0xfffn, rip & 0xfffn);
        if (t.kvmTranslate) assert.deepEqual([t.kvmTranslate.valid, t.kvmTranslate.gpa], [true, t.gpa], "the backend's own walk agrees");
        await dc.terminateRequest();
      });
    } finally {
      if (before === undefined) delete process.env.VMSCOPE_ACCEL;
      else process.env.VMSCOPE_ACCEL = before;
    }
  });
}
