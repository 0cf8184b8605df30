// `vmscope check`: the spec's own diagnostics, then what only the image can
// tell (format, placement, entry symbol), without touching KVM.

import { planMachine } from '../vmm/builder';
import { VmscopeError } from '../vmm/errors';
import { ExitCode } from './common';
import { loadSpecOrReport } from './spec-io';

export function checkCommand(files: string[]): number {
  let failed = false;
  for (const file of files) {
    const spec = loadSpecOrReport(file);
    if (!spec) {
      failed = true;
      continue;
    }
    try {
      const plan = planMachine(spec);
      for (const w of plan.warnings) process.stderr.write(`${file}: warning: ${w}\n`);
      process.stdout.write(`${file}: ok (${plan.image.format}${plan.image.bits ? ` ${plan.image.bits}-bit` : ''}, entry 0x${plan.entry.toString(16)}, ${plan.image.segments.length} segment${plan.image.segments.length > 1 ? 's' : ''})\n`);
    } catch (e) {
      if (!(e instanceof VmscopeError)) throw e;
      process.stderr.write(`${file}: error: ${e.message}\n`);
      failed = true;
    }
  }
  return failed ? ExitCode.checkFailed : ExitCode.ok;
}
