// Errors a user can act on. Each carries one line saying what is wrong and how
// to fix it; the CLI and the debug adapter print `message` and never a stack.

export class VmscopeError extends Error {
  constructor(
    message: string,
    /** What to do about it, appended after the message. */
    readonly fix?: string,
  ) {
    super(fix ? `${message}; ${fix}` : message);
    this.name = 'VmscopeError';
  }
}

/** No backend can run the VM (neither KVM nor the emulator), or the one asked for cannot. */
export class BackendUnavailable extends VmscopeError {}

/** /dev/kvm cannot be used: missing, no permission, wrong API. */
export class KvmUnavailable extends VmscopeError {}

/** The spec is well-formed but cannot be built into a machine (image problems, layout clashes). */
export class BuildError extends VmscopeError {}

/** The native addon is not built (npm install did not finish, or no compiler). */
export class NativeAddonMissing extends Error {}

/**
 * System errors that come from the host or from what the user named (a busy
 * port, a full disk, no memory), not from a bug in vmscope: what each means
 * and what to do. EBADF, EFAULT, EINVAL and the like stay internal errors.
 */
const HOST_ERRNOS: Readonly<Record<string, readonly [what: string, fix: string]>> = {
  ENOMEM: ['the host is out of memory', 'lower memory in the spec, or free memory on the host'],
  EMFILE: ['vmscope has too many open files', 'raise the limit (ulimit -n)'],
  ENFILE: ['the system has too many open files', 'close other programs, or raise fs.file-max'],
  ENOSPC: ['no space left on the device', 'free some space'],
  EROFS: ['the file system is read-only', 'name a file on a writable file system'],
  EADDRINUSE: ['the address is in use', 'pick another port, or stop the program that holds it'],
  EADDRNOTAVAIL: ['no network interface of this host has that address', 'use 127.0.0.1 or an address of this host'],
  EACCES: ['permission denied', 'check the permissions of what it names'],
  EPERM: ['operation not permitted', 'check the permissions of what it names'],
};

/**
 * The one line a user sees for an error they can act on (a VmscopeError, a
 * missing addon, a host errno from HOST_ERRNOS); undefined for a bug, which
 * the front end reports as an internal error.
 */
export function userErrorMessage(e: unknown): string | undefined {
  if (e instanceof VmscopeError || e instanceof NativeAddonMissing) return e.message;
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException & { address?: unknown; port?: unknown };
  const known = typeof err.code === 'string' ? HOST_ERRNOS[err.code] : undefined;
  if (!known) return undefined;
  const on = err.path ? ` (${err.path})` : typeof err.address === 'string' ? ` (${err.address}${typeof err.port === 'number' ? `:${err.port}` : ''})` : '';
  return `${err.syscall ? `${err.syscall}: ` : ''}${known[0]}${on}; ${known[1]}`;
}
