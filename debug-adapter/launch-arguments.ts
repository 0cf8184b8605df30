// The launch configuration of a vmscope debug session (package.json's
// debuggers.configurationAttributes describes the same attributes to VS Code).

import type { DebugProtocol } from '@vscode/debugprotocol';
import { GDB_ADDRESS_FORMS, parseGdbAddress, type GdbAddress } from '../common/gdb-address';
import { VmscopeError } from '../vmm/errors';

export interface LaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** Path of the .vmspec to run. */
  spec: string;
  /** Stop every vCPU before its first instruction (default true). */
  stopOnEntry?: boolean;
  /** Override the spec's boot image (path relative to the spec, or absolute). */
  image?: string;
  /** Override the spec's memory size (bytes or a size such as "64MiB"). */
  memory?: string | number;
  /** Extra files to load symbols from: ELF files (symbols and line tables) or System.map files (symbols). */
  symbols?: string[];
  /** Extra MSRs to show, by index (e.g. 0x3a or "0x3a"). */
  msrs?: Array<number | string>;
  /** Stop the VM after this many seconds. */
  timeout?: number;
  /** Disassembly syntax: "intel" (default) or "gas" (AT&T). */
  disassemblySyntax?: 'intel' | 'gas';
  /** Exit filters to turn on from the start, in addition to the spec's debug.break-on-exit (e.g. ["io", "hlt"]). */
  breakOnExit?: string[];
  /** Entries in each vCPU's exit trace ring (default 4096). */
  traceBufferSize?: number;
  /** The backend: auto (KVM where usable, else the emulator), kvm or emu; overrides the spec's accel. */
  accel?: 'auto' | 'kvm' | 'emu';
  /**
   * Send guest serial output as `vmscope.serial` events (for a client's terminal) instead of Debug Console output.
   * The Debug Console then keeps vmscope's own messages only.
   */
  serialConsole?: boolean;
  /**
   * Also serve gdb's remote protocol on this session's machine: `[host:]port` or a port number (0 picks a free one).
   * A port alone listens on 127.0.0.1; any other address is reachable by others, who then control the VM.
   */
  gdbServer?: string | number;
}

/** Where the gdbServer attribute (or a startGdbServer request) asks the stub to listen; throws with the accepted forms. */
export function gdbServerAddress(value: unknown, what = 'launch attribute "gdbServer"'): GdbAddress {
  const at = typeof value === 'string' || typeof value === 'number' ? parseGdbAddress(value) : undefined;
  if (!at) throw new VmscopeError(`${what} is ${JSON.stringify(value)}`, `give ${GDB_ADDRESS_FORMS}`);
  return at;
}
