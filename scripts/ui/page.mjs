// The UI test's page helpers: how it reads and drives the VS Code workbench in Chromium (the editor and its hovers,
// the Command Palette and quick picks, view panes and trees, the debug views, webviews, the terminal, notifications).
// They work on the page the harness holds, whichever workspace it shows. docs/ui-tests.md says how each is read.

import { check, page, sleep, until } from './harness.mjs';

// ------------------------------------------------------------------ the editor

export const editorLines = () => page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line');

/** The active editor's text as Monaco renders it (visible lines), spaces normalised. */
export async function editorText() {
  const lines = await editorLines().allInnerTexts();
  return lines.map((l) => l.replace(/\u00a0/g, ' ')).join('\n');
}

/** The first rendered token of the active editor whose text is exactly `word`, on a line matching `line`. */
export function token(line, word) {
  return editorLines().filter({ hasText: line }).locator('span > span', { hasText: new RegExp(`^${word}$`) }).first();
}

/** Hovers `target` until the editor's hover shows text matching every pattern, or the deadline passes. */
export async function hoverText(target, patterns, timeout) {
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

/**
 * Opens hello.vmspec by Quick Open (Ctrl+P) and waits for it in the editor in the vmspec language mode; returns the
 * mode's name.
 */
export async function openSpec() {
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
}

// ------------------------------------- commands, quick picks and notifications

export const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs a command from the Command Palette by its exact title. */
export async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input[type="text"]');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  // The row whose label is the title itself ("View: Move View", not "View: Move View Left").
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(title)}$`) }) }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click();
}

/** Waits for the quick pick titled (or with the placeholder) `title`, types `choice` and picks the row that shows it. */
export async function quickPick(title, choice) {
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('.quick-input-box input[type="text"]');
  await until(`the quick pick "${title}"`, async () =>
    (await widget.isVisible()) && ((await widget.innerText()).includes(title) || ((await input.getAttribute('placeholder')) ?? '').includes(title)), { timeout: 10_000 });
  await input.fill(choice);
  const row = widget.locator('.monaco-list-row', { hasText: choice }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await row.click();
}

/** The labels of the Command Palette's rows for `query` (the palette is left open). */
export async function paletteRows(query) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input[type="text"]');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${query}`);
  await sleep(800); // the palette filters as it is typed into
  return page.locator('.quick-input-widget .monaco-list-row .label-name').allInnerTexts().then((t) => t.map((x) => x.trim()));
}

/** The messages of the notifications on screen (toasts, and the notification center when it is open). */
export async function notificationTexts() {
  return page.locator('.notification-toast .notification-list-item-message, .notifications-center .notification-list-item-message')
    .allInnerTexts().then((t) => t.map((x) => x.replace(/\s+/g, ' ').trim()), () => []);
}

/** Closes every notification ("Notifications: Clear All Notifications"), so that a later one is known to be new. */
export async function clearNotifications() {
  await runCommand('Notifications: Clear All Notifications');
  await until('the notifications to go', async () => (await notificationTexts()).length === 0, { timeout: 10_000 });
}

// ----------------------------------------------------- views, trees and layout

/** A view pane (side bar, secondary side bar or panel) by its title, e.g. "VM", "Breakpoints". */
export function pane(title) {
  const header = page.locator('.pane-header .title', { hasText: new RegExp(`^${escapeRe(title)}$`, 'i') });
  return page.locator('.pane').filter({ has: header }).first();
}

/** Expands (or collapses) a view pane by clicking its header, and waits for it to be so. */
export async function setPaneExpanded(title, expanded) {
  const header = pane(title).locator('.pane-header').first();
  await header.waitFor({ state: 'visible', timeout: 15_000 });
  await until(`the "${title}" view to be ${expanded ? 'expanded' : 'collapsed'}`, async () => {
    const now = (await header.getAttribute('aria-expanded')) === 'true';
    if (now === expanded) return true;
    await header.click();
    await sleep(300);
    return (await header.getAttribute('aria-expanded')) === 'true' ? expanded : !expanded;
  }, { timeout: 10_000, interval: 500 });
}

/** Drags the sash under a side-bar view so that the view is `height` px tall; returns its new height. */
export async function resizePane(title, height) {
  const box = await pane(title).boundingBox();
  if (!box) throw new Error(`the "${title}" view is not shown`);
  const x = box.x + box.width / 2;
  await page.mouse.move(x, box.y + box.height - 1);
  await sleep(100);
  await page.mouse.down();
  await page.mouse.move(x, box.y + height, { steps: 8 });
  await page.mouse.up();
  await sleep(300);
  return (await pane(title).boundingBox())?.height;
}

/** Drags the sash over a side-bar view up (its bottom stays) so that the view is `height` px tall. */
export async function growPaneUp(title, height) {
  const box = await pane(title).boundingBox();
  if (!box) throw new Error(`the "${title}" view is not shown`);
  const x = box.x + box.width / 2;
  await page.mouse.move(x, box.y);
  await sleep(100);
  await page.mouse.down();
  await page.mouse.move(x, box.y + box.height - height, { steps: 8 });
  await page.mouse.up();
  await sleep(300);
  return (await pane(title).boundingBox())?.height;
}

/** Drags a vertical sash at x = `from` (anywhere along y = `y`) to x = `to`. */
export async function dragSash(from, y, to) {
  await page.mouse.move(from, y);
  await sleep(100);
  await page.mouse.down();
  await page.mouse.move(to, y, { steps: 8 });
  await page.mouse.up();
  await sleep(300);
}

/** Whether `locator` is visible and wholly inside the viewport (and inside `within`, a bounding box, if given). */
export async function onScreen(locator, within) {
  if (!(await locator.count()) || !(await locator.first().isVisible())) return false;
  const b = await locator.first().boundingBox();
  const v = page.viewportSize();
  const box = within ?? { x: 0, y: 0, width: v.width, height: v.height };
  return !!b && b.x >= box.x - 1 && b.y >= box.y - 1 && b.x + b.width <= box.x + box.width + 1 && b.y + b.height <= box.y + box.height + 1;
}

/** The focused row of a list or tree in `container` (a selector or locator): its text, label, description, level. */
export async function focusedRow(container) {
  const c = typeof container === 'string' ? page.locator(container) : container;
  const row = c.locator('.monaco-list-row.focused').first();
  if (!(await row.count())) return undefined;
  return row.evaluate((r) => ({
    text: (r.innerText ?? '').replace(/\s+/g, ' ').trim(),
    label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
    description: r.querySelector('.label-description')?.textContent?.trim() ?? '',
    level: Number(r.getAttribute('aria-level') ?? 0),
    expanded: r.getAttribute('aria-expanded'),
  })).catch(() => undefined);
}

/** Gives `row` the keyboard focus without changing whether it is expanded (a click toggles a collapsible row). */
export async function focusRow(row) {
  const before = await row.getAttribute('aria-expanded');
  await row.click();
  await sleep(200);
  const after = await row.getAttribute('aria-expanded');
  if (before !== after) await page.keyboard.press(before === 'true' ? 'ArrowRight' : 'ArrowLeft');
}

/** Gives the first row of a list or tree the keyboard focus: a row wholly in view is clicked, then Home. */
export async function focusFirstRow(container) {
  const index = await container.locator('.monaco-list').first().evaluate((list) => {
    const box = list.getBoundingClientRect();
    const row = [...list.querySelectorAll('.monaco-list-row')].find((r) => {
      const b = r.getBoundingClientRect();
      return b.top >= box.top && b.bottom <= box.bottom && b.height > 0;
    });
    return row?.dataset.index;
  });
  check(index !== undefined, 'no row of the list is in view');
  await focusRow(container.locator(`.monaco-list-row[data-index="${index}"]`));
  await page.keyboard.press('Home');
  await sleep(150);
}

/**
 * Moves the keyboard focus down a tree (the list renders only the rows in view, but always the focused one, so this
 * reads rows a small view cannot show at once) until a row's text matches `re`; returns the rows passed, the match
 * last, or throws at the end of the tree.
 */
export async function focusDownTo(container, re, max = 80) {
  const seen = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('ArrowDown');
    await sleep(80);
    const r = await focusedRow(container);
    if (!r || (seen.length && JSON.stringify(seen[seen.length - 1]) === JSON.stringify(r))) break;
    seen.push(r);
    if (re.test(r.text)) return seen;
  }
  throw new Error(`no row matching ${re} below the focus; passed ${JSON.stringify(seen.map((r) => r.text.slice(0, 60)))}`);
}

/** Every row of a custom tree view, read by moving the keyboard focus from its first row to its last. */
export async function treeRows(title) {
  const view = pane(title);
  await focusFirstRow(view);
  const rows = [await focusedRow(view)];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('ArrowDown');
    await sleep(60);
    const r = await focusedRow(view);
    if (!r || JSON.stringify(r) === JSON.stringify(rows[rows.length - 1])) break;
    rows.push(r);
  }
  return rows.filter(Boolean);
}

// ------------------------------------------------------------- the debug views

export const debugToolbar = () => page.locator('.debug-toolbar');
/** The Call Stack pane, header included: with one thread, its state ("Paused on entry") shows in the header. */
export const callStackText = () => page.locator('.pane', { has: page.locator('.debug-call-stack') }).innerText();
export const variablesText = () => page.locator('.debug-variables').innerText();

/** A row of the Variables view whose text matches `re`. */
export const variableRow = (re) => page.locator('.debug-variables .monaco-list-row').filter({ hasText: re }).first();

/** Expands the focused row of the Variables view, and waits for its children to be there. */
export async function expandFocusedVariable(what) {
  const r = await focusedRow('.debug-variables');
  if (r?.expanded === 'true') return;
  // The children come with a variables request: the list's content (all rows, in view or not) grows when they come.
  const rows = page.locator('.debug-variables .monaco-list-rows').first();
  const height = async () => parseFloat(await rows.evaluate((e) => e.style.height || String(e.scrollHeight)));
  const before = await height();
  await page.keyboard.press('ArrowRight');
  await until(`${what} to expand`, async () => (await focusedRow('.debug-variables'))?.expanded === 'true' && (await height()) > before, { timeout: 10_000 });
}

/** The Breakpoints view's row for an exception (VM-exit) filter. */
export const filterRow = (label) => page.locator('.debug-breakpoints .monaco-list-row', { hasText: label }).first();

// ----------------------------------- webviews, the terminal and the status bar

/** The text of every webview's content (webviews are `iframe.webview` → `iframe#active-frame` in the workbench). */
export async function webviewTexts() {
  const n = await page.locator('iframe.webview').count();
  const out = [];
  for (let i = 0; i < n; i++) {
    const body = page.frameLocator('iframe.webview').nth(i).frameLocator('iframe#active-frame').locator('body');
    out.push(await body.innerText({ timeout: 2000 }).catch(() => ''));
  }
  return out;
}

/** The terminal panel's text, where xterm renders it into the DOM (its rows), else ''. */
export async function terminalText() {
  return page.locator('.part.panel .terminal-wrapper.active .xterm-rows, .part.panel .xterm-rows').first().innerText({ timeout: 2000 }).catch(() => '');
}

/** Whether a terminal whose name contains `name` is shown: a tab of the terminal panel, or its title. */
export async function terminalShown(name) {
  const t = page.locator('.part.panel').getByText(name, { exact: false });
  return (await t.count()) > 0;
}

export const statusText = () => page.locator('.part.statusbar').innerText();
