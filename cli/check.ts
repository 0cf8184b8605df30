// `vmscope check`: the spec's own diagnostics, then what only the image can
// tell (format, placement, entry symbol), without touching KVM.

import { planMachine } from '../vmm/builder';
import { VmscopeError } from '../vmm/errors';
import { checkImage } from '../vmspec/image-checks';
import { checkHost } from '../vmspec/host-checks';
import { formatDiagnostic, loadSpecFile } from '../vmspec/load';
import { safeMessage } from '../vmspec/message-text';
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
      // What only assembling the machine finds (the boot area vmscope writes, a protocol loader's limits).
      const plan = planMachine(spec);
      process.stdout.write(`${safeMessage(file)}: ok (${plan.image.format}${plan.image.bits ? ` ${plan.image.bits}-bit` : ''}, entry 0x${plan.entry.toString(16)}, ${plan.image.segments.length} segment${plan.image.segments.length > 1 ? 's' : ''})\n`);
    } catch (e) {
      if (!(e instanceof VmscopeError)) throw e;
      // Reported at the image, which is what the machine could not be built around, so it reads like every other problem.
      const range = result.ranges.locate(['boot', 'image']);
      process.stderr.write(formatDiagnostic(file, { severity: 'error', code: 'image-load', message: e.message, range }) + '\n');
      failed = true;
    }
  }
  return failed ? ExitCode.checkFailed : ExitCode.ok;
}
