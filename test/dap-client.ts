// A DAP client on the bundled adapter for protocol tests: starts it, collects
// output by category, and always stops it.

import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ROOT } from './kvm';

export const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');

export interface Client {
  dc: DebugClient;
  /** Serial output (category stdout) so far. */
  stdout: () => string;
  /** Everything else the adapter printed (console). */
  console: () => string;
}

export async function withClient(fn: (c: Client) => Promise<void>): Promise<void> {
  const dc = new DebugClient('node', ADAPTER, 'vmscope');
  await dc.start();
  let out = '';
  let con = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') out += e.body.output;
    else con += e.body.output;
  });
  try {
    await fn({ dc, stdout: () => out, console: () => con });
  } finally {
    await dc.stop();
  }
}
