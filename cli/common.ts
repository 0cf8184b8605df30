// Shared CLI plumbing: exit codes and the single place errors become one line.

import { VmscopeError } from '../vmm/errors';
import { NativeAddonMissing } from '../vmm/errors';

export const ExitCode = {
  ok: 0,
  /** `vmscope check` found errors. */
  checkFailed: 1,
  usage: 2,
  halted: 123,
  timeout: 124,
  vmscopeError: 125,
  guestCrash: 126,
} as const;

export class UsageError extends Error {}

/** Prints an error as one line (a stack only with VMSCOPE_DEBUG=1) and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof UsageError || (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`vmscope: ${e.message}\nrun \`vmscope --help\` for usage\n`);
    return ExitCode.usage;
  }
  if (e instanceof VmscopeError || e instanceof NativeAddonMissing) {
    process.stderr.write(`vmscope: ${e.message}\n`);
    return ExitCode.vmscopeError;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`vmscope: internal error: ${msg} (please report it; VMSCOPE_DEBUG=1 shows the stack)\n`);
  if (process.env.VMSCOPE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return ExitCode.vmscopeError;
}
