// The UI test's harness: runs the steps (time limit, prerequisites, screenshots), waits and checks, and prints the
// summary. It also holds the workbench page once the browser is up, and what `vmscope info` says about this host,
// since a step that runs a VM needs to know whether one can run here.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS = path.join(REPO, 'test-results');
export const rel = (p) => path.relative(process.cwd(), p) || '.';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ the host

// The .vsix does not ship Unicorn (GPL): like a user, the test points vmscope at a copy (here the one
// `npm install` fetched), which code-server's processes inherit.
if (!process.env.VMSCOPE_UNICORN && fs.existsSync(path.join(REPO, '.unicorn', 'lib', 'libunicorn.so.2'))) {
  process.env.VMSCOPE_UNICORN = path.join(REPO, '.unicorn', 'lib', 'libunicorn.so.2');
}

/** `vmscope info --json` of the built CLI: which backends can run a VM here (the walkthrough's check reads it too). */
export const INFO = (() => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), 'info', '--json'], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout);
  } catch {
    return { error: `vmscope info failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}` };
  }
})();

/**
 * Why no VM can run on this host (`vmscope info` says), or undefined where one
 * can: steps marked `vm` skip with it instead of failing.
 */
const VM_PROBLEM = INFO.error ?? (INFO.auto ? undefined : `KVM: ${INFO.kvm?.problem}; emulation: ${INFO.emulator?.problem}`);

// ------------------------------------------------------------------ the page

/** The workbench page, once the browser is up (code-server.mjs sets it; every page helper reads it). */
export let page;
export function setPage(p) {
  page = p;
}

export async function screenshot(file) {
  if (!page) return undefined;
  try {
    await page.screenshot({ path: file, timeout: 10_000 });
    return file;
  } catch {
    return undefined;
  }
}

// ----------------------------------------------------------------- the steps

/** Each step: its number, name, result, time and screenshot; printed as it ends and in the summary. */
const results = [];
let stepNo = 0;

/** Empties test-results/ for this run's screenshots and logs. */
export function resetResults() {
  fs.rmSync(RESULTS, { recursive: true, force: true });
  fs.mkdirSync(RESULTS, { recursive: true });
}

/**
 * Runs one step with a time limit. A step whose prerequisite failed is
 * skipped. A step that passes saves `NN-name.png` (if `shot`); one that fails
 * saves `NN-name-FAILED.png` and records where it failed.
 */
export async function step(name, { timeout, needs = [], shot = true, vm = false }, fn) {
  const no = String(++stepNo).padStart(2, '0');
  const r = { no, name, status: 'skipped', ms: 0 };
  results.push(r);
  // A step that runs a VM on a host where no backend can: skipped with the
  // reason, and so are the steps that need it; the run does not fail for it.
  const noVm = needs.some((n) => results.find((x) => x.name === n)?.noVm);
  if ((vm && VM_PROBLEM) || noVm) {
    r.noVm = true;
    r.error = `skipped: no VM can run on this host (${VM_PROBLEM})`;
    console.log(`- ${no} ${name}: ${r.error}`);
    return false;
  }
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
export async function until(what, probe, { timeout = 30_000, interval = 250 } = {}) {
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

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

// --------------------------------------------------------------- the summary

/**
 * Writes summary.json and prints the summary; returns the exit status: non-zero if a step failed or was skipped
 * (other than for want of a VM), or the runner itself failed (`crashed`).
 */
export function summarize(started, crashed) {
  const passed = results.filter((r) => r.status === 'passed').length;
  const failed = results.filter((r) => r.status === 'failed');
  const skipped = results.filter((r) => r.status === 'skipped' && !r.noVm).length;
  const noVm = results.filter((r) => r.noVm).length;
  fs.writeFileSync(path.join(RESULTS, 'summary.json'), JSON.stringify({ seconds: (Date.now() - started) / 1000, results }, null, 2));
  console.log(`\nUI test summary (${((Date.now() - started) / 1000).toFixed(1)} s; screenshots and logs in ${rel(RESULTS)}/)`);
  for (const r of results) {
    const mark = r.status === 'passed' ? '✔' : r.status === 'failed' ? '✘' : '-';
    console.log(`  ${mark} ${r.no} ${r.name.padEnd(20)} ${r.status.padEnd(7)} ${(r.ms / 1000).toFixed(1).padStart(6)} s${r.screenshot ? `  ${rel(r.screenshot)}` : ''}`);
    if (r.status === 'failed') console.log(`      ${r.error.split('\n').join('\n      ')}`);
  }
  if (crashed) console.log(`\nThe runner itself failed: ${crashed.stack ?? crashed}`);
  console.log(`\nui: ${passed} passed, ${failed.length} failed${skipped ? `, ${skipped} skipped` : ''}${noVm ? `, ${noVm} skipped because no VM can run here` : ''}`);
  return failed.length || crashed || skipped ? 1 : 0;
}
