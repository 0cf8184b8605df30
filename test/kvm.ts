// Test helpers for tests that need the real /dev/kvm. Without KVM they skip
// with the reason. VMSCOPE_REQUIRE_KVM=1 (set by .ci/run where /dev/kvm
// exists) turns an unusable /dev/kvm into a failure instead; on a host with no
// /dev/kvm at all it has no effect.

import { test, type TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gatherHostInfo } from '../vmm/host-info';
import { loadSpecFile } from '../spec/load';
import type { VmSpec } from '../spec/types';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

const info = gatherHostInfo();
const required = process.env.VMSCOPE_REQUIRE_KVM === '1' && fs.existsSync('/dev/kvm');
export const kvmProblem: string | undefined = info.usable ? undefined : (info.problem ?? 'KVM is not usable');

export function kvmTest(name: string, fn: (t: TestContext) => Promise<void> | void): void {
  if (kvmProblem && !required) {
    test(name, { skip: `needs /dev/kvm: ${kvmProblem}` }, () => {});
    return;
  }
  // A guest that hangs must fail the test, not stall the suite.
  test(name, { timeout: 60_000 }, async (t) => {
    if (kvmProblem) assert_fail(`VMSCOPE_REQUIRE_KVM=1 but ${kvmProblem}`);
    await fn(t);
  });
}

function assert_fail(message: string): never {
  throw new Error(message);
}

export function specAt(rel: string): VmSpec {
  const file = path.join(ROOT, rel);
  const r = loadSpecFile(file);
  if (!r.spec) throw new Error(`${rel}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.spec;
}

export const hostInfo = info;
