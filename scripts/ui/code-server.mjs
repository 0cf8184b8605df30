// The UI test's setup: code-server installed (setup.sh), vmscope.vsix packaged and installed into it, code-server
// started on a free port, and Chromium opened on the first workspace; and the teardown that ends them all. The
// flows after the setup find the workspace, the port and the temp dir in `env`.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { REPO, RESULTS, check, page, rel, setPage, sleep, step, until } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VSIX = path.join(REPO, 'vmscope.vsix');
const CHROMIUM = process.env.VMSCOPE_UI_CHROMIUM ?? '/usr/bin/chromium';

/**
 * What the setup made: `tmp`, this run's temp dir (code-server's user data and extensions, the workspaces,
 * Chromium's profile); `workspace`, the trusted copy of examples/hello in it; `port`, code-server's.
 */
export const env = { tmp: undefined, workspace: undefined, port: undefined };

/** The workbench's address with `folder` open. */
export const folderUrl = (folder) => `http://127.0.0.1:${env.port}/?folder=${encodeURIComponent(folder)}`;

let server; // the code-server child process (its own process group)
let context; // Chromium's persistent context

/** Ends the browser and code-server's process group, and removes the temp dir (unless VMSCOPE_UI_KEEP=1). */
export async function teardown() {
  if (context) await context.close().catch(() => {});
  context = undefined;
  setPage(undefined);
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
  if (env.tmp && process.env.VMSCOPE_UI_KEEP !== '1') fs.rmSync(env.tmp, { recursive: true, force: true });
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
  for (const d of ['dist', 'extension', 'language-server', 'debug-adapter', 'vmspec', 'vmm', 'common', 'formats', 'cli', 'syntaxes', 'schemas', 'package.json']) walk(path.join(REPO, d));
  return newest;
}

/** code-server's user settings for the run: quiet, trust left to the dialog, and the DOM the test reads. */
const SETTINGS = {
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
  'terminal.integrated.gpuAcceleration': 'off', // xterm renders rows into the DOM, so the test can read them
  'workbench.tree.enableStickyScroll': false, // no sticky scope rows over the rows the test clicks
};

/** The steps install-code-server, package-vsix, start-code-server and open-workbench. */
export async function setUp() {
  env.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-ui-'));
  let entry; // code-server's out/node/entry.js, as setup.sh prints it

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
    const userData = path.join(env.tmp, 'code-server-user');
    const extensions = path.join(env.tmp, 'code-server-extensions');
    env.workspace = path.join(env.tmp, 'workspace');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
    const config = path.join(env.tmp, 'code-server.yaml'); // so code-server writes no ~/.config/code-server/config.yaml
    fs.writeFileSync(config, '');
    fs.cpSync(path.join(REPO, 'examples/hello'), env.workspace, { recursive: true });
    const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];

    const inst = spawnSync(process.execPath, [entry, ...common, '--install-extension', VSIX], { encoding: 'utf8' });
    const listed = spawnSync(process.execPath, [entry, ...common, '--list-extensions', '--show-versions'], { encoding: 'utf8' });
    check(inst.status === 0 && /vmscope\.vmscope@/.test(listed.stdout), `--install-extension failed:\n${inst.stdout}${inst.stderr}${listed.stdout}`);

    const port = (env.port = await freePort());
    const log = fs.openSync(path.join(RESULTS, 'code-server.log'), 'w');
    server = spawn(
      process.execPath,
      [entry, ...common, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check',
        '--disable-getting-started-override', '--ignore-last-opened'],
      { cwd: env.tmp, stdio: ['ignore', log, log], detached: true, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VSCODE_'))) },
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
    context = await chromium.launchPersistentContext(path.join(env.tmp, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    setPage(context.pages()[0] ?? (await context.newPage()));
    page.setDefaultTimeout(20_000);
    await page.goto(folderUrl(env.workspace));
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    await page.locator('.explorer-folders-view, .part.sidebar').first().waitFor({ state: 'visible', timeout: 60_000 });
  });
}
