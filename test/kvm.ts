// Test helpers for tests that run a VM. Each such test runs once per backend,
// with the backend in its name ("[kvm] …", "[emu] …"), and skips with the
// reason where the host cannot run that backend. VMSCOPE_REQUIRE_KVM=1 (set
// by .ci/run where /dev/kvm exists) turns an unusable /dev/kvm into a failure;
// on a host with no /dev/kvm at all it has no effect. The backend reaches the
// code under test, the CLI and the debug adapter's child processes included,
// through VMSCOPE_ACCEL (see docs/backends.md).

import { test, type TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gatherHostInfo } from '../vmm/host-info';
import { loadSpecFile } from '../vmspec/load';
import type { VmSpec } from '../vmspec/types';
import { loadUnicorn } from '../vmm/emu/native';
import type { BackendName } from '../vmm/backend';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

const info = gatherHostInfo();
const required = process.env.VMSCOPE_REQUIRE_KVM === '1' && fs.existsSync('/dev/kvm');
export const kvmProblem: string | undefined = info.usable ? undefined : (info.problem ?? 'KVM is not usable');

export const EMU_PROBLEM: string | undefined = (() => {
  try {
    loadUnicorn();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
})();
export const EMU_OK = EMU_PROBLEM === undefined;

/** Why `backend` cannot run here, or undefined. */
export function backendProblem(backend: BackendName): string | undefined {
  return backend === 'kvm' ? (kvmProblem && !required ? `needs /dev/kvm: ${kvmProblem}` : undefined) : EMU_PROBLEM ? `needs the emulator: ${EMU_PROBLEM}` : undefined;
}

export const BACKENDS: readonly BackendName[] = ['kvm', 'emu'];

/**
 * A test that runs a VM: registered once per backend. The body may ask which
 * backend it runs on (for the few facts that differ, such as where rip is at
 * an I/O exit).
 */
export function vmTest(
  name: string,
  fn: (t: TestContext, backend: BackendName) => Promise<void> | void,
  only?: readonly BackendName[],
): void {
  for (const backend of only ?? BACKENDS) {
    const label = `[${backend}] ${name}`;
    const why = backendProblem(backend);
    if (why) {
      test(label, { skip: why }, () => {});
      continue;
    }
    // A guest that hangs must fail the test, not stall the suite.
    test(label, { timeout: 60_000 }, async (t) => {
      if (backend === 'kvm' && kvmProblem) throw new Error(`VMSCOPE_REQUIRE_KVM=1 but ${kvmProblem}`);
      const before = process.env.VMSCOPE_ACCEL;
      process.env.VMSCOPE_ACCEL = backend;
      try {
        await fn(t, backend);
      } finally {
        if (before === undefined) delete process.env.VMSCOPE_ACCEL;
        else process.env.VMSCOPE_ACCEL = before;
      }
    });
  }
}

/**
 * KVM on PVM runs every guest instruction through KVM's instruction emulator:
 * measured 2026-12-06, about 1.7 M instructions/s, and a KVM internal error on
 * some instructions (iret in 32-bit protected mode, an instruction of Linux's
 * early boot, the mode-switch guest after its protected-mode #UD). A test
 * whose guest needs either skips there, saying which; returns true then.
 */
export function skipOnPvm(t: TestContext, backend: BackendName, why: string): boolean {
  const skip = pvmProblem(backend, why);
  if (skip) t.skip(skip);
  return skip !== undefined;
}

/** skipOnPvm's reason, for a test registered with `skip`. */
export function pvmProblem(backend: BackendName, why: string): string | undefined {
  return backend === 'kvm' && info.backend === 'pvm' ? `KVM here is PVM, whose instruction emulator ${why} (the [emu] variant runs it)` : undefined;
}

/** A VM test that only means something on KVM (it checks KVM itself: KVM_TRANSLATE, its capabilities). */
export function kvmTest(name: string, fn: (t: TestContext) => Promise<void> | void): void {
  vmTest(name, (t) => fn(t), ['kvm']);
}

export function specAt(rel: string): VmSpec {
  const file = path.join(ROOT, rel);
  const r = loadSpecFile(file);
  if (!r.spec) throw new Error(`${rel}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.spec;
}

export const hostInfo = info;
