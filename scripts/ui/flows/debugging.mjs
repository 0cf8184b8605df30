// The UI test's debugging flow, around the I/O exits of flows/exits.mjs: F5 on the spec starts a session that stops
// on entry; at the I/O stop the exits flow leaves, the Disassembly view and "View Binary Data"; then the guest runs to
// its end (or the session is stopped).

import fs from 'node:fs';
import path from 'node:path';
import { env } from '../code-server.mjs';
import { check, page, sleep, step, until } from '../harness.mjs';
import { callStackText, clearNotifications, debugToolbar, escapeRe, expandFocusedVariable, filterRow, focusDownTo, focusFirstRow, focusedRow, notificationTexts, runCommand, setPaneExpanded, terminalText, token, variablesText } from '../page.mjs';

// ---------------------------------------------------- the Call Stack's frames and the Disassembly view

/** Scopes only the top frame has (debug-adapter/session.ts scopesRequest); a caller's are Frame, Globals, Exits. */
const TOP_SCOPES = /^(General registers|Segments|Control and debug|MSRs|FPU\/SSE|VMCS|Translation)$/m;

/** The Call Stack's row of frame `i` (0 is the top frame; one thread, so the rows are the frames). */
const frameRow = (i) => page.locator(`.debug-call-stack .monaco-list-row[data-index="${i}"]`);

/** The Call Stack's frames: each row's aria-label, "Stack Frame NAME, line N, FILE". */
async function callStackFrames() {
  return page.locator('.debug-call-stack .monaco-list-row').evaluateAll((rows) => rows
    .map((r) => ({ index: Number(r.dataset.index), label: r.getAttribute('aria-label') ?? '' }))
    .sort((a, b) => a.index - b.index));
}

/**
 * Opens the Disassembly view from a Call Stack row's context menu ("Open Disassembly View", VS Code's item on stack
 * frames when the adapter supports the disassemble request), and waits for its tab to be the active one.
 */
async function openDisassemblyFrom(row) {
  const item = page.locator('.monaco-menu .action-item', { hasText: /^Open Disassembly View$/ }).first();
  await until('the Disassembly view to open from the frame\'s context menu', async () => {
    if (await page.locator('.monaco-menu').count()) await page.keyboard.press('Escape'); // a menu left open
    await row.click({ button: 'right' });
    try {
      await item.waitFor({ state: 'visible', timeout: 5000 });
    } catch {
      const items = await page.locator('.monaco-menu .action-item').allInnerTexts().catch(() => []);
      throw new Error(`the frame's context menu has no "Open Disassembly View": ${JSON.stringify(items.filter(Boolean))}`);
    }
    // A menu takes no click in its first moments (a click at once left it open here).
    await sleep(500);
    await item.click();
    await page.locator('.tabs-container .tab.active', { hasText: /^Disassembly$/ }).waitFor({ state: 'visible', timeout: 5000 });
    return true;
  }, { timeout: 30_000, interval: 500 });
}

/**
 * The Disassembly view's rendered rows: each one's aria-label parsed ("Address: 0x…, Bytes: …, Instruction: …"; a
 * row the adapter could not decode has no bytes), the class of its gutter icon (codicon-debug-stackframe for the top
 * frame's instruction, codicon-debug-stackframe-focused for the focused frame's), its text, and how much of it is in
 * the view.
 */
async function disassemblyRows() {
  return page.locator('.disassembly-view .monaco-list').first().evaluate((list) => {
    const box = list.getBoundingClientRect();
    return [...list.querySelectorAll('.monaco-list-row')].map((r) => {
      const b = r.getBoundingClientRect();
      const label = r.getAttribute('aria-label') ?? '';
      const m = /^Address: (0x[0-9a-f]+)(?:, Bytes: ([0-9a-f ]+))?, Instruction: (.*)$/i.exec(label);
      return {
        index: Number(r.dataset.index),
        label,
        address: m?.[1],
        bytes: m?.[2] ? m[2].trim().split(/\s+/).length : 0,
        instruction: m?.[3] ?? '',
        icon: r.querySelector('.codicon')?.className ?? '',
        text: (r.innerText ?? '').replace(/\s+/g, ' ').trim(),
        inView: b.height > 0 ? Math.max(0, Math.min(b.bottom, box.bottom) - Math.max(b.top, box.top)) / b.height : 0,
      };
    }).sort((a, b) => a.index - b.index);
  });
}

/** Closes the Disassembly view if it is open: "View: Close Editor" with it active (the debug toolbar may cover its tab). */
async function closeDisassemblyView() {
  const tab = page.locator('.tabs-container .tab', { hasText: /^Disassembly$/ }).first();
  if (!(await tab.count())) return;
  if (!(await page.locator('.tabs-container .tab.active', { hasText: /^Disassembly$/ }).count())) {
    await tab.dispatchEvent('mousedown', { button: 0 }); // activates the tab without a hit test
    await sleep(300);
  }
  if (await page.locator('.tabs-container .tab.active', { hasText: /^Disassembly$/ }).count()) await runCommand('View: Close Editor');
  await tab.waitFor({ state: 'detached', timeout: 10_000 });
}

/** The step debug-start: F5 with the spec active, up to the stop on entry. */
export async function startDebugging() {
  await step('debug-start', { timeout: 120_000, needs: ['open-spec'], vm: true }, async () => {
    await page.keyboard.press('Escape');
    await page.mouse.move(5, 5);
    check(!fs.existsSync(path.join(env.workspace, '.vscode', 'launch.json')), 'the workspace has a launch.json');
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
}

/**
 * The steps disassembly-view and memory-reference, at the stop the exits flow left, after the README screenshot (its
 * layout is left as is): each leaves the top frame focused and closes what it opened.
 */
export async function atTheStop() {
  await step('disassembly-view', { timeout: 120_000, needs: ['io-exit-breakpoint'] }, async ({ shot }) => {
    await page.keyboard.press('Escape');
    await clearNotifications();
    await setPaneExpanded('Call Stack', true);
    await setPaneExpanded('Variables', true);
    const frames = await callStackFrames();
    check(frames.length >= 2, `the Call Stack has ${frames.length} frame(s), not a caller to pick: ${JSON.stringify(frames)}`);
    // debug-adapter/session.ts names a frame symbol+offset; the top one at a PVM I/O exit "… (I/O exit; rip 0x…)".
    const frameName = (f) => /^Stack Frame (.*?), line \d+/.exec(f.label)?.[1] ?? f.label;
    const topName = frameName(frames[0]);
    const topFn = /^([A-Za-z_]\w*)\+0x/.exec(topName)?.[1];
    check(topFn, `the top frame's name "${topName}" is not symbol+offset`);
    const callerName = frameName(frames[1]);
    let inView = { decoded: 0, undecoded: 0 };
    const count = (rows) => {
      for (const r of rows.filter((x) => x.inView >= 0.5)) inView[r.bytes ? 'decoded' : 'undecoded']++;
    };
    const notes = [];
    // Room for the instructions' operands: the secondary side bar (the README's walk) hidden for this step.
    const aux = page.locator('.part.auxiliarybar');
    const auxWidth = (await aux.isVisible()) ? (await aux.boundingBox())?.width : undefined;
    if (auxWidth) await runCommand('View: Hide Secondary Side Bar');
    try {
      // The caller (frame 1). The menu item opens the view at the focused frame (debug.action.openDisassemblyView takes
      // no frame), so the frame is clicked first, as a user must; its Frame scope then gives its pc.
      await frameRow(1).click();
      const pcText = await until(`Variables to show the Frame scope of ${callerName}`, async () => /^Frame\b[\s\S]*\bpc =\s*(0x[0-9a-f]+)/.exec(await variablesText())?.[1], { timeout: 10_000 });
      const pc = BigInt(pcText);
      await openDisassemblyFrom(frameRow(1));
      const caller = await until('the Disassembly view to mark the caller\'s instruction (codicon-debug-stackframe-focused)', async () => {
        const rows = await disassemblyRows();
        const m = rows.find((r) => r.icon.split(/\s+/).includes('codicon-debug-stackframe-focused'));
        return m && m.bytes ? { rows, m } : false;
      }, { timeout: 20_000 });
      const { rows, m } = caller;
      check(m.address && BigInt(m.address) === pc, `the marked instruction is at ${m.address}, not at ${callerName}'s pc ${pcText}`);
      check(m.inView >= 0.5, `the caller's marked instruction (${m.address}) is not in view`);
      // A return address: the instruction before it is the call into the top frame's function, and ends where it starts.
      const call = rows.find((r) => r.index === m.index - 1);
      check(call && /^call\b/.test(call.instruction), `the instruction before the caller's return address is not a call: ${JSON.stringify(call?.label)}`);
      check(BigInt(call.address) + BigInt(call.bytes) === pc, `the call at ${call.address} (${call.bytes} bytes) does not end at ${pcText}`);
      check(new RegExp(`<${escapeRe(topFn)}>`).test(call.instruction), `the call before ${callerName}'s return address is not to ${topFn}: "${call.instruction}"`);
      // x86 in Intel syntax with addresses and symbol labels (<symbol+offset> from the adapter's symbolizer).
      const shown = rows.filter((r) => r.inView >= 0.5 && r.bytes);
      check(shown.length >= 5, `only ${shown.length} decoded instructions are in view: ${JSON.stringify(rows.map((r) => r.label))}`);
      check(shown.every((r) => /^0x[0-9a-f]+$/.test(r.address) && r.text.includes(r.address)), 'an instruction in view shows no address');
      const mnemonics = new Set(shown.map((r) => r.instruction.split(/\s+/)[0]));
      check(['mov', 'push'].some((x) => mnemonics.has(x)), `no mov or push in view: ${[...mnemonics].join(' ')}`);
      check(shown.some((r) => /<[A-Za-z_]\w*(\+0x[0-9a-f]+)?>/.test(r.instruction)), 'no instruction in view has a symbol label <symbol+offset>');
      count(rows);
      await shot();
      notes.push(`${callerName}: ${m.address} "${m.instruction}" marked, after ${call.address} "${call.instruction}"`);
      await closeDisassemblyView();

      // The top frame: the I/O instruction it stopped on.
      await frameRow(0).click();
      await until('Variables to show the top frame\'s scopes', async () => TOP_SCOPES.test(await variablesText()) && !/^Frame$/m.test(await variablesText()), { timeout: 10_000 });
      await openDisassemblyFrom(frameRow(0));
      const top = await until('the Disassembly view to mark the top frame\'s instruction (codicon-debug-stackframe)', async () => {
        const r = await disassemblyRows();
        const t = r.find((x) => x.icon.split(/\s+/).includes('codicon-debug-stackframe'));
        return t && t.bytes ? { rows: r, t } : false;
      }, { timeout: 20_000 });
      check(/^out\b/.test(top.t.instruction), `the top frame's instruction is "${top.t.instruction}" at ${top.t.address}, not an out`);
      check(top.t.inView >= 0.5, `the top frame's out (${top.t.address}) is not in view`);
      // Where rip is already past the out (PVM), the frame names rip: the out is the instruction that ends there.
      const rip = /\brip (0x[0-9a-f]+)\)/.exec(topName)?.[1];
      if (rip) check(BigInt(top.t.address) + BigInt(top.t.bytes) === BigInt(rip), `the marked out at ${top.t.address} (${top.t.bytes} bytes) does not end at rip ${rip}`);
      count(top.rows);
      await shot('top');
      notes.push(`${topName}: ${top.t.address} "${top.t.instruction}" marked`);
      const errors = await notificationTexts();
      check(!errors.length, `notifications while the Disassembly view was open: ${JSON.stringify(errors)}`);
    } finally {
      await page.keyboard.press('Escape');
      await closeDisassemblyView().catch(() => {});
      await frameRow(0).click().catch(() => {}); // the stop's frame, as before
      if (auxWidth && !(await aux.isVisible())) {
        await runCommand('View: Toggle Secondary Side Bar Visibility');
        await aux.waitFor({ state: 'visible', timeout: 10_000 });
      }
      await page.mouse.move(800, 300);
    }
    if (auxWidth) {
      const w = (await aux.boundingBox())?.width;
      check(w && Math.abs(w - auxWidth) <= 2, `the secondary side bar came back ${w} px wide, not ${auxWidth}`);
    }
    // The guest's code is all decodable: a placeholder in view would be the adapter failing to decode back across
    // functions.
    check(inView.undecoded === 0, `${inView.undecoded} "??" placeholders among the instructions in view`);
    return `${notes.join('; ')}; in view ${inView.decoded} decoded instructions and ${inView.undecoded} "??"`;
  });

  await step('memory-reference', { timeout: 90_000, needs: ['io-exit-breakpoint'] }, async ({ shot }) => {
    await page.keyboard.press('Escape');
    await clearNotifications();
    await setPaneExpanded('Variables', true);
    await frameRow(0).click();
    await until('Variables to show the top frame\'s scopes', async () => TOP_SCOPES.test(await variablesText()) && !/^Frame$/m.test(await variablesText()), { timeout: 10_000 });
    const V = '.debug-variables';
    const focused = page.locator(`${V} .monaco-list-row.focused`).first();
    const action = (row) => row.locator('.action-label[aria-label="View Binary Data"]');
    await focusFirstRow(page.locator(V));
    check((await focusedRow(V))?.text === 'General registers', 'the first scope is not General registers');
    const wasExpanded = (await focusedRow(V)).expanded === 'true';
    await expandFocusedVariable('General registers');
    const tabsBefore = await page.locator('.tabs-container .tab').allInnerTexts();
    const queries = [];
    const onRequest = (req) => {
      if (/extensionquery|gallery/i.test(req.url())) queries.push(`${req.url()} ${req.postData() ?? ''}`);
    };
    let outcome;
    try {
      // generalRegisters (debug-adapter/registers.ts): every register but rflags has a memoryReference (rflags has its
      // bits as children instead).
      await focusDownTo(V, /^rip = 0x[0-9a-f]+/);
      const ripText = (await focusedRow(V)).text;
      await focused.hover();
      const view = action(focused);
      await view.waitFor({ state: 'visible', timeout: 5000 });
      // Its icon: the codicon debug-inspect-memory, which is file-binary's glyph.
      const glyphs = await view.evaluate((a) => {
        const probe = (cls) => {
          const e = document.createElement('span');
          e.className = `codicon ${cls}`;
          document.body.appendChild(e);
          const c = getComputedStyle(e, '::before').content;
          e.remove();
          return c;
        };
        return { action: getComputedStyle(a, '::before').content, fileBinary: probe('codicon-file-binary'), file: probe('codicon-file') };
      });
      check(glyphs.action === glyphs.fileBinary && glyphs.action !== glyphs.file && !/^(none|normal|"")$/.test(glyphs.action),
        `the action's icon is not file-binary's glyph: ${JSON.stringify(glyphs)}`);
      await page.keyboard.press('ArrowDown');
      await sleep(150);
      const flags = (await focusedRow(V))?.text ?? '';
      check(/^rflags = 0x[0-9a-f]+/.test(flags), `the row after rip is not rflags: "${flags}"`);
      await focused.hover();
      await sleep(300);
      check(await focused.locator('.monaco-action-bar').count(), 'the rflags row has no action bar to look in');
      check(!(await action(focused).count()), 'rflags (no memoryReference) has a "View Binary Data" action');
      await page.keyboard.press('ArrowUp');
      await sleep(150);
      check((await focusedRow(V))?.text === ripText, 'the focus did not go back to rip');
      await focused.hover();
      page.on('request', onRequest);
      await action(focused).click();
      // With the Hex Editor (ms-vscode.hexeditor) VS Code opens a vscode-debug-memory: editor; without it, it installs the
      // Hex Editor first (workbench.debug.viewlet.action.viewMemory).
      outcome = await until('VS Code to open a memory editor, ask about the Hex Editor or report on installing it', async () => {
        const tabs = await page.locator('.tabs-container .tab').allInnerTexts();
        const added = tabs.filter((t) => !tabsBefore.includes(t));
        if (added.length) return { editor: added };
        const dialogs = await page.locator('.monaco-dialog-box').evaluateAll((ds) => ds.map((d) => d.innerText.replace(/\s+/g, ' ').trim()));
        if (dialogs.length) return { dialog: dialogs[0] };
        const texts = await notificationTexts();
        return texts.length ? { notifications: texts } : false;
      }, { timeout: 30_000, interval: 200 });
      await sleep(2000); // what follows the first sign (the install's end, an editor)
      page.off('request', onRequest);
      const tabsAfter = await page.locator('.tabs-container .tab').allInnerTexts();
      const added = tabsAfter.filter((t) => !tabsBefore.includes(t));
      let how;
      if (outcome.editor || added.length) {
        const labels = await page.locator('.tabs-container .tab.active').evaluateAll((ts) => ts.map((t) => `${t.innerText} ${t.getAttribute('aria-label') ?? ''} ${t.title ?? ''}`));
        check(labels.some((l) => /memory|vscode-debug-memory/i.test(l)), `the editor it opened is not a vscode-debug-memory one: ${JSON.stringify(labels)}`);
        how = `opened the editor ${JSON.stringify(added)}`;
      } else if (outcome.dialog) {
        check(/Hex Editor|hexeditor|binary data/i.test(outcome.dialog), `a dialog that is not about the Hex Editor: ${JSON.stringify(outcome.dialog)}`);
        how = `asked ${JSON.stringify(outcome.dialog.slice(0, 160))}`;
      } else {
        // Installing the Hex Editor: the gallery is asked for ms-vscode.hexeditor; here the network refuses it.
        const texts = [...new Set([...outcome.notifications, ...(await notificationTexts())])];
        const asked = queries.some((q) => q.includes('ms-vscode.hexeditor'));
        check(asked || texts.some((t) => /hex ?editor/i.test(t)), `notifications ${JSON.stringify(texts)} with no query for ms-vscode.hexeditor (queries: ${JSON.stringify(queries.map((q) => q.slice(0, 200)))})`);
        how = `no editor, no prompt: ${asked ? 'the extension gallery was asked for ms-vscode.hexeditor; ' : ''}notification ${JSON.stringify(texts)}`;
      }
      await shot();
      return `"View Binary Data" on ${ripText}, none on ${flags}; ${how}`;
    } finally {
      page.off('request', onRequest);
      // Dismiss whatever it showed: a dialog, the notifications, an editor it opened.
      if (await page.locator('.monaco-dialog-box').count()) {
        const cancel = page.locator('.monaco-dialog-box').getByRole('button', { name: /^(Cancel|Close|No)$/ }).first();
        if (await cancel.count()) await cancel.click().catch(() => {});
        else await page.keyboard.press('Escape');
        await page.locator('.monaco-dialog-box').waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => {});
      }
      await clearNotifications().catch(() => {});
      const tabsNow = await page.locator('.tabs-container .tab').allInnerTexts().catch(() => tabsBefore);
      for (const t of tabsNow.filter((x) => !tabsBefore.includes(x))) {
        const tab = page.locator('.tabs-container .tab', { hasText: t }).first();
        await tab.dispatchEvent('mousedown', { button: 0 }).catch(() => {});
        await sleep(300);
        await runCommand('View: Close Editor').catch(() => {});
      }
      // General registers back as it was.
      if (!wasExpanded) {
        await focusFirstRow(page.locator(V)).catch(() => {});
        if ((await focusedRow(V))?.expanded === 'true') await page.keyboard.press('ArrowLeft');
      }
      await page.mouse.move(800, 300);
    }
  });
}

/** The steps run-to-end and debug-stop: the guest runs to its end, or the session is stopped as a user would. */
export async function endDebugging() {
  await step('run-to-end', { timeout: 90_000, needs: ['io-exit-breakpoint'] }, async () => {
    await setPaneExpanded('Breakpoints', true);
    const box = filterRow('VM exit: I/O').locator('input[type="checkbox"]');
    await box.uncheck();
    check(!(await box.isChecked()), 'the "VM exit: I/O" filter did not stay unticked');
    await page.locator('.editor-group-container.active .monaco-editor').first().click({ position: { x: 200, y: 5 } }).catch(() => {});
    await page.keyboard.press('F5'); // Continue
    await until('the session to end (the debug toolbar to go)', async () => !(await debugToolbar().isVisible()), { timeout: 60_000 });
    // extension/serial.ts ends the terminal's output with this line when the adapter reports the exit code.
    const text = await until('the serial terminal to show the guest\'s line and the end of the VM', async () => {
      const t = await terminalText();
      return /Hello from the guest/.test(t) && /\[vmscope: the VM ended with exit code 0\]/.test(t) ? t : false;
    }, { timeout: 15_000 });
    return `serial: ${JSON.stringify(text.replace(/\n+/g, ' | ').trim())}`;
  });

  await step('debug-stop', { timeout: 60_000, needs: ['debug-start'] }, async () => {
    // The session has ended already when run-to-end passed; otherwise stop it as a user would.
    if (!(await debugToolbar().isVisible())) return 'the session had ended';
    await page.keyboard.press('Shift+F5');
    await debugToolbar().waitFor({ state: 'hidden', timeout: 30_000 });
    return 'Shift+F5';
  });
}
