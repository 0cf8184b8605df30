// A DAP client on the bundled adapter for protocol tests: starts it, collects
// output by category, and always stops it.

import assert from 'node:assert/strict';
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

/**
 * A launched session, configured and running: `launch` is the spec's path (the guest runs from its entry, not stopped)
 * or the whole launch arguments; `filterOptions` are the exit breakpoints to set first, each of which must verify.
 */
export async function withSession(
  launch: string | ({ spec: string } & Record<string, unknown>),
  filterOptions: DebugProtocol.ExceptionFilterOptions[],
  fn: (c: Client) => Promise<void>,
): Promise<void> {
  await withClient(async (c) => {
    const { dc } = c;
    const init = await dc.initializeRequest();
    assert.ok(init.body?.exceptionBreakpointFilters?.some((f) => f.filter === 'io' && f.supportsCondition));
    const initialized = dc.waitForEvent('initialized');
    await dc.launch(typeof launch === 'string' ? { spec: launch, stopOnEntry: false } : launch);
    await initialized;
    if (filterOptions.length) {
      const set = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions });
      assert.ok(set.body?.breakpoints?.every((b) => b.verified));
    }
    await dc.configurationDoneRequest();
    await fn(c);
  });
}
