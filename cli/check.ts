// `vmscope check`: the spec's own diagnostics, then what only the image can
// tell (format, placement, entry symbol), without touching KVM.

import { planMachine } from '../vmm/builder';
import { VmscopeError } from '../vmm/errors';
import { checkImage } from '../vmspec/image-checks';
import { checkHost } from '../vmspec/host-checks';
import { formatDiagnostic, loadSpecFile } from '../vmspec/load';
import { safeMessage } from '../vmspec/message-text';
import type { SpecDiagnostic } from '../vmspec/types';
import { ExitCode } from './common';

export function checkCommand(files: string[]): number {
  let failed = false;
  for (const file of files) {
    const r = checkFile(file);
    for (const line of r.stderr) process.stderr.write(line + '\n');
    for (const line of r.stdout) process.stdout.write(line + '\n');
    failed ||= r.failed;
  }
  return failed ? ExitCode.checkFailed : ExitCode.ok;
}

export interface CheckResult {
  /** Whether there were errors (exit 1). */
  failed: boolean;
  /** Every problem found, spec checks and machine planning alike, as file:line:col lines (with their note lines). */
  stderr: string[];
  /** The `file: ok (…)` line of a spec that passed. */
  stdout: string[];
  diagnostics: SpecDiagnostic[];
}

/** `vmscope check` of one file, without printing: what the command prints, and the diagnostics behind it. */
export function checkFile(file: string): CheckResult {
  const result = loadSpecFile(file);
  const diagnostics = [...result.diagnostics, ...checkImage(result), ...checkHost(result)];
  const out: CheckResult = { failed: false, stderr: [], stdout: [], diagnostics };
  const spec = result.spec;
  if (!spec || diagnostics.some((d) => d.severity === 'error')) out.failed = true;
  else {
    try {
      // What only assembling the machine finds (the boot area vmscope writes, a protocol loader's limits).
      const plan = planMachine(spec);
      out.stdout.push(`${safeMessage(file)}: ok (${plan.image.format}${plan.image.bits ? ` ${plan.image.bits}-bit` : ''}, entry 0x${plan.entry.toString(16)}, ${plan.image.segments.length} segment${plan.image.segments.length > 1 ? 's' : ''})`);
    } catch (e) {
      if (!(e instanceof VmscopeError)) throw e;
      // Reported at the image, which is what the machine could not be built around, so it reads like every other problem.
      diagnostics.push({ severity: 'error', code: 'image-load', message: e.message, range: result.ranges.locate(['boot', 'image']) });
      out.failed = true;
    }
  }
  for (const d of diagnostics) out.stderr.push(...formatDiagnostic(file, d).split('\n'));
  return out;
}
