// `vmscope check`: the spec's own diagnostics, then what only the image can
// tell (format, placement, entry symbol), without touching KVM.

import { planMachine } from '../vmm/builder';
import { VmscopeError } from '../vmm/errors';
import { checkImage } from '../vmspec/image-checks';
import { checkHost } from '../vmspec/host-checks';
import { formatDiagnostic, loadSpecFile } from '../vmspec/load';
import { ExitCode } from './common';

export function checkCommand(files: string[]): number {
  let failed = false;
  for (const file of files) {
    const result = loadSpecFile(file);
    const diagnostics = [...result.diagnostics, ...checkImage(result), ...checkHost(result)];
    for (const d of diagnostics) process.stderr.write(formatDiagnostic(file, d) + '\n');
    const spec = result.spec;
    if (!spec || diagnostics.some((d) => d.severity === 'error')) {
      failed = true;
      continue;
    }
    try {
      // What only assembling the machine finds (the boot area vmscope writes, KVM's reserved pages).
      const plan = planMachine(spec);
      process.stdout.write(`${file}: ok (${plan.image.format}${plan.image.bits ? ` ${plan.image.bits}-bit` : ''}, entry 0x${plan.entry.toString(16)}, ${plan.image.segments.length} segment${plan.image.segments.length > 1 ? 's' : ''})\n`);
    } catch (e) {
      if (!(e instanceof VmscopeError)) throw e;
      process.stderr.write(`${file}: error: ${e.message}\n`);
      failed = true;
    }
  }
  return failed ? ExitCode.checkFailed : ExitCode.ok;
}
