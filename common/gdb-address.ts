// Where a gdb stub listens, for every front end that starts one (the CLI's
// --gdb, the debug adapter's gdbServer launch attribute and its startGdbServer
// request, the extension's command): parsing `[host:]port`, the loopback
// check, and the one warning a non-loopback address deserves. Pure.

import * as net from 'node:net';

export interface GdbAddress {
  host: string;
  port: number;
}

/** Where a stub listens when only a port is given: loopback, so that only this machine's users can reach it. */
export const DEFAULT_GDB_HOST = '127.0.0.1';
export const DEFAULT_GDB_ADDRESS: GdbAddress = { host: DEFAULT_GDB_HOST, port: 1234 };

/** The accepted forms, for error messages. */
export const GDB_ADDRESS_FORMS = '[host:]port (a port alone listens on 127.0.0.1; port 0 picks a free one)';

/**
 * Parses `[host:]port` (an IPv6 host in brackets: `[::1]:1234`) or a port
 * number; a bare port binds to loopback. Undefined when malformed or the port
 * is out of range.
 */
export function parseGdbAddress(value: string | number): GdbAddress | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 65535 ? { host: DEFAULT_GDB_HOST, port: value } : undefined;
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]*):)?(\d+)$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === undefined || host === '' ? DEFAULT_GDB_HOST : host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

/** The warning for a stub that listens beyond loopback, or undefined on loopback. */
export function exposureWarning(at: GdbAddress): string | undefined {
  if (isLoopback(at.host)) return undefined;
  return `the gdb stub listens on ${at.host}, not loopback: anyone who can reach ${formatGdbAddress(at)} controls this VM (its registers, its memory, when it runs)`;
}

/** `host:port`, with an IPv6 host in brackets: what gdb's `target remote` takes. */
export function formatGdbAddress(at: GdbAddress): string {
  return net.isIPv6(at.host) ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
}
