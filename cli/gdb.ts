// `vmscope run --gdb [host:]port`: where the gdb stub listens (the parsing and
// the loopback rule are common/gdb-address.ts, shared with the debug adapter),
// and starting it beside a machine, with the warning a non-loopback address
// deserves.

import type * as net from 'node:net';
import { GdbServer, describeAddress } from '../gdb-stub/server';
import type { Machine } from '../vmm/machine';
import { DEFAULT_GDB_ADDRESS, exposureWarning, GDB_ADDRESS_FORMS, parseGdbAddress as parse, type GdbAddress } from '../common/gdb-address';
import { UsageError } from './common';
import { VmscopeError } from '../vmm/errors';

export { DEFAULT_GDB_ADDRESS, type GdbAddress } from '../common/gdb-address';

/** Parses --gdb's `[host:]port`; a usage error when malformed. */
export function parseGdbAddress(text: string): GdbAddress {
  const at = parse(text);
  if (!at) throw new UsageError(`--gdb takes ${GDB_ADDRESS_FORMS}, not "${text}"`);
  return at;
}

/** Starts the stub for `machine` and says where, on stderr. */
export async function startGdbStub(machine: Machine, at: GdbAddress, wait: boolean): Promise<GdbServer> {
  const log = (line: string) => process.stderr.write(`vmscope: ${line}\n`);
  const warning = exposureWarning(at);
  if (warning) log(`warning: ${warning}`);
  const server = new GdbServer(machine, { ...at, log });
  let bound: net.AddressInfo;
  try {
    bound = await server.listen();
  } catch (e) {
    throw gdbListenError(at, e);
  }
  log(`gdb stub listening on ${describeAddress(bound)}${wait ? '; the vCPUs wait for a client' : ''}`);
  return server;
}

/** Why the stub could not listen at `at`, as the user's error with the fix (a busy port is not a bug). */
export function gdbListenError(at: GdbAddress, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const where = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
  const hostPart = at.host === DEFAULT_GDB_ADDRESS.host ? '' : at.host.includes(':') ? `[${at.host}]:` : `${at.host}:`;
  const other = `--gdb ${hostPart}${at.port >= 65535 ? 1234 : at.port + 1}`;
  switch (code) {
    case 'EADDRINUSE':
      return new VmscopeError(`cannot serve gdb on ${where}: the port is in use`, `pick another port (${other}) or stop the program that holds it`);
    case 'EACCES':
    case 'EPERM':
      return new VmscopeError(`cannot serve gdb on ${where}: permission denied`, at.port < 1024 ? 'ports below 1024 need privileges; pick a port from 1024 up (--gdb 1234)' : 'pick another port');
    case 'EADDRNOTAVAIL':
      return new VmscopeError(`cannot serve gdb on ${where}: no network interface of this host has the address ${at.host}`, 'use 127.0.0.1 or an address of this host');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new VmscopeError(`cannot serve gdb on ${where}: the host name ${at.host} does not resolve`, 'use 127.0.0.1 or an address of this host');
    default:
      return e instanceof Error ? e : new Error(String(e));
  }
}
