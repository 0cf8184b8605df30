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
