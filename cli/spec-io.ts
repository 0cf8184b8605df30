// Loads a spec for a CLI command, printing its diagnostics compiler-style.

import { formatDiagnostic, loadSpecFile } from '../vmspec/load';
import type { VmSpec } from '../vmspec/types';

export function loadSpecOrReport(file: string): VmSpec | undefined {
  const result = loadSpecFile(file);
  for (const d of result.diagnostics) process.stderr.write(formatDiagnostic(file, d) + '\n');
  return result.spec;
}
