// `vmscope run --gdb [host:]port`: where the gdb stub listens (the parsing and
// the loopback rule are common/gdb-address.ts, shared with the debug adapter),
// and starting it beside a machine, with the warning a non-loopback address
// deserves.

import { GdbServer, describeAddress } from '../gdb-stub/server';
import type { Machine } from '../vmm/machine';
import { exposureWarning, GDB_ADDRESS_FORMS, parseGdbAddress as parse, type GdbAddress } from '../common/gdb-address';
import { UsageError } from './common';

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
  const bound = await server.listen();
  log(`gdb stub listening on ${describeAddress(bound)}${wait ? '; the vCPUs wait for a client' : ''}`);
  return server;
}
