// End-to-end UI test of the packaged extension (`npm run test:ui`): installs vmscope.vsix into a real VS Code build
// (code-server), drives it with headless Chromium through playwright-core as a user would, and saves a screenshot
// per step in test-results/; then opens a second copy of the example without trusting it and checks Restricted Mode.
// See docs/ui-tests.md.
//
// This file is the list of flows, in the order they run; the steps are in flows/, the waits and the step runner in
// harness.mjs, the setup and teardown in code-server.mjs, and how the workbench is read and driven in page.mjs.
//
// Environment:
//   VMSCOPE_UI_CACHE    where code-server is installed and reused (default ~/.cache/vmscope-ui)
//   VMSCOPE_UI_PACKAGE  auto (default: package when vmscope.vsix is older than its sources), always, never
//   VMSCOPE_UI_KEEP=1   keep the temp dir (code-server's user data, the workspaces) after the run
//   VMSCOPE_UI_CHROMIUM another Chromium binary (default /usr/bin/chromium)

import path from 'node:path';
import { setUp, teardown } from './code-server.mjs';
import { atTheStop, endDebugging, startDebugging } from './flows/debugging.mjs';
import { editing } from './flows/editing.mjs';
import { ioExits } from './flows/exits.mjs';
import { restrictedMode } from './flows/restricted.mjs';
import { walkthrough } from './flows/walkthrough.mjs';
import { RESULTS, resetResults, screenshot, summarize } from './harness.mjs';

const RUN_TIMEOUT_MS = 15 * 60_000;

/**
 * The flows, each a run of steps. A step whose prerequisite failed is skipped, so the order here is also what each
 * flow may rely on: the debugging steps stop where the exits flow left the guest, and Restricted Mode comes last
 * because the page leaves the trusted workspace for good.
 */
async function main() {
  resetResults();
  await setUp(); //          install-code-server, package-vsix, start-code-server, open-workbench
  await editing(); //        trust-folder, open-spec, hover-docs, diagnostic
  await startDebugging(); // debug-start
  await ioExits(); //        io-exit-breakpoint … io-exit-condition, readme-screenshot
  await atTheStop(); //      disassembly-view, memory-reference (same stop, after the README picture)
  await endDebugging(); //   run-to-end, debug-stop
  await walkthrough(); //    walkthrough (still the trusted workspace)
  await restrictedMode(); // restricted-open, restricted-hover, restricted-run-vm, restricted-f5
}

const started = Date.now();
const watchdog = setTimeout(async () => {
  console.log(`✘ the whole run passed ${RUN_TIMEOUT_MS / 60_000} min; tearing down`);
  await screenshot(path.join(RESULTS, 'timeout-FAILED.png'));
  await teardown();
  process.exit(2);
}, RUN_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, async () => { await teardown(); process.exit(130); });

let crashed;
try {
  await main();
} catch (e) {
  crashed = e;
} finally {
  await teardown();
  clearTimeout(watchdog);
}
process.exit(summarize(started, crashed));
