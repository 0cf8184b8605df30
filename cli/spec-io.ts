// Loads a spec for a CLI command, printing its diagnostics compiler-style.

import { formatDiagnostic, loadSpecFile } from '../vmspec/load';
import { hostErrors } from '../vmspec/host-checks';
import type { VmSpec } from '../vmspec/types';

/** The spec, or undefined after printing why it cannot run: its own errors, or what this host cannot give it (RAM, address width). */
export function loadSpecOrReport(file: string): VmSpec | undefined {
  const result = loadSpecFile(file);
  const diagnostics = [...result.diagnostics, ...(result.spec ? hostErrors(result) : [])];
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(file, d) + '\n');
  return diagnostics.some((d) => d.severity === 'error') ? undefined : result.spec;
}
