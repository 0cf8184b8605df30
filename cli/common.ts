// Shared CLI plumbing: exit codes and the single place errors become one line.

import { userErrorMessage } from '../vmm/errors';

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

/** How every command-line mistake ends: one line, with where to look. */
export function usageLine(message: string): string {
  return `vmscope: ${message}; run \`vmscope --help\` for usage\n`;
}

/**
 * Prints an error as one line (a stack only with VMSCOPE_DEBUG=1) and returns
 * the exit code: 2 for a usage error, 125 for anything else. Only an error no
 * one can act on (a bug) is called internal.
 */
export function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(usageLine(e.message));
    return ExitCode.usage;
  }
  const user = userErrorMessage(e);
  if (user !== undefined) {
    process.stderr.write(`vmscope: ${user}\n`);
    return ExitCode.vmscopeError;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`vmscope: internal error: ${msg.split('\n')[0]} (please report it; VMSCOPE_DEBUG=1 shows the stack)\n`);
  if (process.env.VMSCOPE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return ExitCode.vmscopeError;
}
