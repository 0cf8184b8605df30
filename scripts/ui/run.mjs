// End-to-end UI test of the packaged extension: installs vmscope.vsix into a
// real VS Code build (code-server), drives it with headless Chromium through
// playwright-core as a user would, and saves a screenshot per step in
// test-results/. See docs/ui-tests.md.
//
// Environment:
//   VMSCOPE_UI_CACHE    where code-server is installed and reused (default ~/.cache/vmscope-ui)
//   VMSCOPE_UI_PACKAGE  auto (default: package when vmscope.vsix is older than its sources), always, never
//   VMSCOPE_UI_KEEP=1   keep the temp dir (code-server's user data, the workspace) after the run

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const RESULTS = path.join(REPO, 'test-results');
const VSIX = path.join(REPO, 'vmscope.vsix');
const CHROMIUM = process.env.VMSCOPE_UI_CHROMIUM ?? '/usr/bin/chromium';
const RUN_TIMEOUT_MS = 15 * 60_000;
const rel = (p) => path.relative(process.cwd(), p) || '.';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the harness

/** Each step: its number, name, result, time and screenshot; printed as it ends and in the summary. */
const results = [];
let page; // the workbench page, once the browser is up
let stepNo = 0;

async function screenshot(file) {
  if (!page) return undefined;
  try {
    await page.screenshot({ path: file, timeout: 10_000 });
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Runs one step with a time limit. A step whose prerequisite failed is
 * skipped. A step that passes saves `NN-name.png` (if `shot`); one that fails
 * saves `NN-name-FAILED.png` and records where it failed.
 */
async function step(name, { timeout, needs = [], shot = true }, fn) {
  const no = String(++stepNo).padStart(2, '0');
  const r = { no, name, status: 'skipped', ms: 0 };
  results.push(r);
  const missing = needs.filter((n) => results.find((x) => x.name === n)?.status !== 'passed');
  if (missing.length) {
    r.error = `skipped: needs ${missing.join(', ')}`;
    console.log(`- ${no} ${name}: ${r.error}`);
    return false;
  }
  console.log(`… ${no} ${name}`);
  const t0 = Date.now();
  const shots = [];
  /** Saves `NN-name[-suffix].png` now (a step that saves its own main shot gets no automatic one). */
  const shotNow = async (suffix) => {
    const f = await screenshot(path.join(RESULTS, `${no}-${name}${suffix ? `-${suffix}` : ''}.png`));
    if (f) shots.push({ f, main: !suffix });
  };
  let timer;
  try {
    const detail = await Promise.race([
      fn({ shot: shotNow }),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeout / 1000} s`)), timeout))),
    ]);
    r.status = 'passed';
    if (detail) r.detail = detail;
    if (shot && !shots.some((x) => x.main)) await shotNow();
    r.screenshot = shots.find((x) => x.main)?.f ?? shots[0]?.f;
  } catch (e) {
    r.status = 'failed';
    r.error = e instanceof Error ? e.message : String(e);
    r.screenshot = await screenshot(path.join(RESULTS, `${no}-${name}-FAILED.png`));
  } finally {
    clearTimeout(timer);
    r.ms = Date.now() - t0;
  }
  const secs = (r.ms / 1000).toFixed(1);
  if (r.status === 'passed') {
    console.log(`✔ ${no} ${name} (${secs} s)${r.detail ? `: ${r.detail}` : ''}${r.screenshot ? `  [${rel(r.screenshot)}]` : ''}`);
  } else {
    console.log(`✘ ${no} ${name} FAILED after ${secs} s: ${r.error}`);
    if (r.screenshot) console.log(`    screenshot: ${rel(r.screenshot)}`);
  }
  return r.status === 'passed';
}

/** Polls `probe` until it returns a truthy value; throws `what` (with the last value seen) at the deadline. */
async function until(what, probe, { timeout = 30_000, interval = 250 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e instanceof Error ? e.message : e;
    }
    if (Date.now() > end) throw new Error(`${what} (waited ${timeout / 1000} s${last !== undefined && last !== false ? `; last seen: ${JSON.stringify(last).slice(0, 400)}` : ''})`);
    await sleep(interval);
  }
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

// ------------------------------------------------------------- the resources

let tmp; // this run's temp dir: code-server's user data and extensions, the workspace, Chromium's profile
let server; // the code-server child process (its own process group)
let context; // Chromium's persistent context

async function teardown() {
  if (context) await context.close().catch(() => {});
  context = undefined;
  page = undefined;
  if (server && server.exitCode === null && server.signalCode === null) {
    // Its process group holds the extension host, the language server and the debug adapter it started.
    const gone = new Promise((r) => server.once('exit', r));
    try { process.kill(-server.pid, 'SIGTERM'); } catch {}
    const killed = await Promise.race([gone.then(() => true), sleep(5000).then(() => false)]);
    if (!killed) try { process.kill(-server.pid, 'SIGKILL'); } catch {}
  }
  // Stragglers of its group (a debug adapter that outlived its parent).
  if (server) try { process.kill(-server.pid, 'SIGKILL'); } catch {}
  server = undefined;
  if (tmp && process.env.VMSCOPE_UI_KEEP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Newest mtime of the files the vsix is made from. */
function newestSource() {
  let newest = 0;
  const walk = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { return; }
    if (st.isDirectory()) {
      if (/node_modules|^build$|^\./.test(path.basename(p))) return;
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  for (const d of ['dist', 'extension', 'language-server', 'debug-adapter', 'spec', 'vmm', 'syntaxes', 'schemas', 'package.json']) walk(path.join(REPO, d));
  return newest;
}

// ------------------------------------------------------ workbench helpers

const editorLines = () => page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line');

/** The active editor's text as Monaco renders it (visible lines), spaces normalised. */
async function editorText() {
  const lines = await editorLines().allInnerTexts();
  return lines.map((l) => l.replace(/\u00a0/g, ' ')).join('\n');
}

/** The first rendered token of the active editor whose text is exactly `word`, on a line matching `line`. */
function token(line, word) {
  return editorLines().filter({ hasText: line }).locator('span > span', { hasText: new RegExp(`^${word}$`) }).first();
}

/** Hovers `target` until the editor's hover shows text matching every pattern, or the deadline passes. */
async function hoverText(target, patterns, timeout) {
  const hover = page.locator('.monaco-editor .monaco-hover:not(.hidden)').first();
  return until(
    `an editor hover matching ${patterns.join(' and ')}`,
    async () => {
      await page.mouse.move(5, 5);
      await sleep(200);
      await target.hover();
      try {
        await hover.waitFor({ state: 'visible', timeout: 3000 });
      } catch {
        return false;
      }
      await sleep(300); // the hover fills in as providers answer
      const text = await hover.innerText();
      return patterns.every((p) => p.test(text)) ? text : false;
    },
    { timeout, interval: 500 },
  );
}

/** Runs a command from the Command Palette by its exact title. */
async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input[type="text"]');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await page.keyboard.press('Enter');
}

const debugToolbar = () => page.locator('.debug-toolbar');
/** The Call Stack pane, header included: with one thread, its state ("Paused on entry") shows in the header. */
const callStackText = () => page.locator('.pane', { has: page.locator('.debug-call-stack') }).innerText();
const variablesText = () => page.locator('.debug-variables').innerText();

// ------------------------------------------------------------------- the flow

async function main() {
  fs.rmSync(RESULTS, { recursive: true, force: true });
  fs.mkdirSync(RESULTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-ui-'));
  let entry, port, workspace, specUri;

  await step('install-code-server', { timeout: 20 * 60_000, shot: false }, async () => {
    const t0 = Date.now();
    const r = spawnSync('bash', [path.join(HERE, 'setup.sh')], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    fs.writeFileSync(path.join(RESULTS, 'setup.log'), r.stderr);
    check(r.status === 0, `scripts/ui/setup.sh exited ${r.status}; see ${rel(path.join(RESULTS, 'setup.log'))}:\n${r.stderr.split('\n').slice(-15).join('\n')}`);
    entry = r.stdout.trim().split('\n').pop();
    check(fs.existsSync(entry), `setup.sh printed ${entry}, which does not exist`);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    return /cached in/.test(r.stderr) ? `cached, ${secs} s` : `installed (not cached), ${secs} s`;
  });

  await step('package-vsix', { timeout: 10 * 60_000, shot: false }, async () => {
    const mode = process.env.VMSCOPE_UI_PACKAGE ?? 'auto';
    const stale = !fs.existsSync(VSIX) || fs.statSync(VSIX).mtimeMs < newestSource();
    if (mode === 'never' || (mode === 'auto' && !stale)) {
      check(fs.existsSync(VSIX), `${rel(VSIX)} is missing and VMSCOPE_UI_PACKAGE=never`);
      return 'vmscope.vsix is up to date';
    }
    const r = spawnSync('npm', ['run', 'package'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    fs.writeFileSync(path.join(RESULTS, 'package.log'), r.stdout + r.stderr);
    check(r.status === 0, `npm run package exited ${r.status}; see ${rel(path.join(RESULTS, 'package.log'))}`);
    check(fs.existsSync(path.join(REPO, 'examples/hello/build/hello.elf')), 'examples/hello/build/hello.elf is missing after the build');
    return 'npm run package';
  });

  await step('start-code-server', { timeout: 90_000, shot: false, needs: ['install-code-server', 'package-vsix'] }, async () => {
    const userData = path.join(tmp, 'code-server-user');
    const extensions = path.join(tmp, 'code-server-extensions');
    workspace = path.join(tmp, 'workspace');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.writeFileSync(
      path.join(userData, 'User', 'settings.json'),
      JSON.stringify(
        {
          'workbench.startupEditor': 'none',
          'security.workspace.trust.enabled': true, // trusted through the dialog, as a user would
          'telemetry.telemetryLevel': 'off',
          'update.mode': 'none',
          'extensions.autoCheckUpdates': false,
          'extensions.autoUpdate': false,
          'extensions.ignoreRecommendations': true,
          'workbench.tips.enabled': false,
          'workbench.enableExperiments': false,
          'git.enabled': false,
        },
        null,
        2,
      ),
    );
    const config = path.join(tmp, 'code-server.yaml'); // so code-server writes no ~/.config/code-server/config.yaml
    fs.writeFileSync(config, '');
    fs.cpSync(path.join(REPO, 'examples/hello'), workspace, { recursive: true });
    specUri = path.join(workspace, 'hello.vmspec');
    const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];

    const inst = spawnSync(process.execPath, [entry, ...common, '--install-extension', VSIX], { encoding: 'utf8' });
    const listed = spawnSync(process.execPath, [entry, ...common, '--list-extensions', '--show-versions'], { encoding: 'utf8' });
    check(inst.status === 0 && /vmscope\.vmscope@/.test(listed.stdout), `--install-extension failed:\n${inst.stdout}${inst.stderr}${listed.stdout}`);

    port = await freePort();
    const log = fs.openSync(path.join(RESULTS, 'code-server.log'), 'w');
    server = spawn(
      process.execPath,
      [entry, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
        '--disable-getting-started-override', '--ignore-last-opened'],
      { cwd: tmp, stdio: ['ignore', log, log], detached: true, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VSCODE_'))) },
    );
    fs.closeSync(log);
    await until('code-server answering /healthz', async () => {
      if (server.exitCode !== null) throw new Error(`code-server exited ${server.exitCode}; see test-results/code-server.log`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return res?.ok;
    }, { timeout: 60_000 });
    return `port ${port}, ${listed.stdout.trim()}`;
  });

  await step('open-workbench', { timeout: 120_000, needs: ['start-code-server'] }, async () => {
    context = await chromium.launchPersistentContext(path.join(tmp, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    await page.locator('.explorer-folders-view, .part.sidebar').first().waitFor({ state: 'visible', timeout: 60_000 });
  });

  await step('trust-folder', { timeout: 60_000, needs: ['open-workbench'] }, async ({ shot }) => {
    const yes = page.getByRole('button', { name: /Yes, I trust the authors/ });
    await yes.waitFor({ state: 'visible', timeout: 45_000 });
    await shot('dialog');
    await yes.click();
    await yes.waitFor({ state: 'hidden', timeout: 10_000 });
  });

  await step('open-spec', { timeout: 60_000, needs: ['trust-folder'] }, async () => {
    await until('Quick Open to list hello.vmspec', async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget .quick-input-box input[type="text"]');
      await input.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill('hello.vmspec');
      const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'hello.vmspec' }).first();
      await row.waitFor({ state: 'visible', timeout: 5000 });
      await page.keyboard.press('Enter');
      return true;
    }, { timeout: 40_000 });
    await page.locator('.tabs-container .tab.active', { hasText: 'hello.vmspec' }).waitFor({ state: 'visible', timeout: 15_000 });
    await until('the spec in the editor', async () => /boot:/.test(await editorText()), { timeout: 15_000 });
    const language = await page.locator('.statusbar-item[id="status.editor.mode"]').innerText().catch(() => '?');
    check(/vm ?spec/i.test(language), `the editor's language mode is "${language}", not the vmspec language`);
    return `language mode "${language.trim()}"`;
  });

  await step('hover-docs', { timeout: 90_000, needs: ['open-spec'] }, async () => {
    // spec/schema.ts describes `memory` as "Guest RAM, one KVM memory slot at guest-physical address 0 ...".
    const text = await hoverText(token(/^memory:/, 'memory'), [/Guest RAM/, /KVM memory slot/], 75_000);
    return JSON.stringify(text.split('\n')[0].slice(0, 100));
  });

  await step('diagnostic', { timeout: 90_000, needs: ['open-spec'] }, async ({ shot }) => {
    await page.mouse.move(5, 5);
    await token(/^vcpus:/, 'vcpus').click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('memroy: 1MiB', { delay: 30 });
    await page.keyboard.press('Escape'); // any suggestion widget
    await until('the typed line in the editor', async () => /^memroy: 1MiB$/m.test(await editorText()), { timeout: 5000 });
    await page.locator('.editor-group-container.active .monaco-editor .squiggly-error').first().waitFor({ state: 'attached', timeout: 30_000 });
    const text = await hoverText(token(/^memroy:/, 'memroy'), [/unknown key "memroy"/, /did you mean "memory"/, /unknown-key/], 30_000);
    const problems = await page.locator('.statusbar-item[id="status.problems"]').getAttribute('aria-label').catch(() => '');
    check(!problems || /Errors: [1-9]/.test(problems), `the status bar says "${problems}"`);
    await shot(); // the squiggle and its hover; the spec is restored below
    // Undo back to the saved text: the editor is clean again and the squiggle goes.
    await page.keyboard.press('Escape');
    await token(/^vcpus:/, 'vcpus').click();
    await until('undo to remove the typed line', async () => {
      if (!/memroy/.test(await editorText())) return true;
      await page.keyboard.press('Control+Z');
      return false;
    }, { timeout: 15_000, interval: 300 });
    await until('the editor to be clean (not dirty)', async () => (await page.locator('.tabs-container .tab.active.dirty').count()) === 0, { timeout: 5000 })
      .catch(async () => { await runCommand('File: Revert File'); });
    await page.locator('.editor-group-container.active .monaco-editor .squiggly-error').first().waitFor({ state: 'detached', timeout: 30_000 });
    return `${JSON.stringify(text.split('\n').find((l) => /unknown key/.test(l)))}; status bar "${problems}"`;
  });

  await step('debug-start', { timeout: 120_000, needs: ['open-spec'] }, async () => {
    await page.keyboard.press('Escape');
    await page.mouse.move(5, 5);
    check(!fs.existsSync(path.join(workspace, '.vscode', 'launch.json')), 'the workspace has a launch.json');
    await token(/^name:/, 'name').click(); // the spec is the active editor
    await page.keyboard.press('F5');
    await debugToolbar().waitFor({ state: 'visible', timeout: 60_000 });
    const stack = await until('the Call Stack to show the stop on entry', async () => {
      const t = await callStackText();
      return /paused on entry|entry/i.test(t) ? t : false;
    }, { timeout: 60_000 });
    // General registers opens expanded; collapse it so that every scope's row is rendered.
    const general = page.locator('.debug-variables .monaco-list-row', { hasText: /^General registers$/ }).first();
    await general.waitFor({ state: 'visible', timeout: 30_000 });
    if ((await general.getAttribute('aria-expanded')) === 'true') await general.click();
    const vars = await until('the Variables view to list the VMCS scope', async () => {
      const t = await variablesText();
      return /\bVMCS\b/.test(t) ? t : false;
    }, { timeout: 30_000 });
    const scopes = vars.split('\n').map((s) => s.trim()).filter(Boolean);
    return `scopes: ${scopes.join(' | ')}; call stack: ${JSON.stringify(stack.replace(/\s+/g, ' ').slice(0, 120))}`;
  });

  await step('io-exit-breakpoint', { timeout: 120_000, needs: ['debug-start'] }, async () => {
    const bpView = page.locator('.debug-breakpoints');
    await bpView.waitFor({ state: 'visible', timeout: 15_000 });
    const row = bpView.locator('.monaco-list-row', { hasText: 'VM exit: I/O' }).first();
    await until('the Breakpoints view to offer "VM exit: I/O"', async () => (await row.count()) > 0, { timeout: 15_000 });
    const box = row.locator('input[type="checkbox"]');
    await box.check();
    check(await box.isChecked(), 'the "VM exit: I/O" filter did not stay ticked');
    await page.locator('.editor-group-container.active .monaco-editor').first().click({ position: { x: 200, y: 5 } }).catch(() => {});
    await page.keyboard.press('F5'); // Continue
    const stack = await until('the Call Stack to show a stop on an I/O exit', async () => {
      const t = await callStackText();
      return /I\/O/i.test(t) && !/paused on entry/i.test(t) ? t : false;
    }, { timeout: 60_000 });
    const widget = await page.locator('.exception-widget').first().innerText({ timeout: 5000 }).catch(() => undefined);
    return `call stack: ${JSON.stringify(stack.replace(/\s+/g, ' ').slice(0, 160))}${widget ? `; exception widget: ${JSON.stringify(widget.replace(/\s+/g, ' ').slice(0, 160))}` : ''}`;
  });

  await step('debug-stop', { timeout: 60_000, needs: ['debug-start'] }, async () => {
    await page.keyboard.press('Shift+F5');
    await debugToolbar().waitFor({ state: 'hidden', timeout: 30_000 });
  });
}

// --------------------------------------------------------------- entry point

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

const passed = results.filter((r) => r.status === 'passed').length;
const failed = results.filter((r) => r.status === 'failed');
const skipped = results.filter((r) => r.status === 'skipped').length;
fs.writeFileSync(path.join(RESULTS, 'summary.json'), JSON.stringify({ seconds: (Date.now() - started) / 1000, results }, null, 2));
console.log(`\nUI test summary (${((Date.now() - started) / 1000).toFixed(1)} s; screenshots and logs in ${rel(RESULTS)}/)`);
for (const r of results) {
  const mark = r.status === 'passed' ? '✔' : r.status === 'failed' ? '✘' : '-';
  console.log(`  ${mark} ${r.no} ${r.name.padEnd(20)} ${r.status.padEnd(7)} ${(r.ms / 1000).toFixed(1).padStart(6)} s${r.screenshot ? `  ${rel(r.screenshot)}` : ''}`);
  if (r.status === 'failed') console.log(`      ${r.error.split('\n').join('\n      ')}`);
}
if (crashed) console.log(`\nThe runner itself failed: ${crashed.stack ?? crashed}`);
console.log(`\nui: ${passed} passed, ${failed.length} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed.length || crashed || skipped ? 1 : 0);
