// The UI test's Restricted Mode flow: a second copy of examples/hello opened in the same code-server without trusting
// it. Language features work there; running or debugging a VM does not, and says why. It comes last: the page leaves
// the trusted workspace for good.

import fs from 'node:fs';
import path from 'node:path';
import { env, folderUrl } from '../code-server.mjs';
import { REPO, check, page, sleep, step, until } from '../harness.mjs';
import { clearNotifications, debugToolbar, hoverText, notificationTexts, openSpec, paletteRows, terminalShown, token } from '../page.mjs';

/** The steps restricted-open, restricted-hover, restricted-run-vm and restricted-f5. */
export async function restrictedMode() {
  const restrictedWorkspace = path.join(env.tmp, 'workspace-restricted'); // not trusted

  await step('restricted-open', { timeout: 120_000, needs: ['start-code-server', 'open-workbench'] }, async ({ shot }) => {
    fs.cpSync(path.join(REPO, 'examples/hello'), restrictedWorkspace, { recursive: true });
    check(fs.existsSync(path.join(restrictedWorkspace, 'build', 'hello.elf')), 'the second workspace has no build/hello.elf');
    await page.goto(folderUrl(restrictedWorkspace));
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    const no = page.getByRole('button', { name: /No, I don't trust the authors/ });
    await no.waitFor({ state: 'visible', timeout: 45_000 });
    await shot('dialog');
    await no.click();
    await no.waitFor({ state: 'hidden', timeout: 10_000 });
    // The indicators: the status bar's "Restricted Mode" item and the banner over the workbench.
    const status = page.locator('.statusbar-item[id="status.workspaceTrust"]');
    const label = await until('the status bar to show "Restricted Mode"', async () => {
      const t = await status.innerText().catch(() => '');
      return /Restricted Mode/.test(t) ? t.trim() : false;
    }, { timeout: 15_000 });
    const banner = await until('the Restricted Mode banner', async () => {
      const t = await page.locator('.part.banner').innerText().catch(() => '');
      return /Restricted Mode is intended for safe code browsing/.test(t) ? t.replace(/\s+/g, ' ').trim() : false;
    }, { timeout: 15_000 });
    return `status bar "${label}"; banner ${JSON.stringify(banner.slice(0, 100))}`;
  });

  await step('restricted-hover', { timeout: 120_000, needs: ['restricted-open'] }, async ({ shot }) => {
    const mode = await openSpec();
    // Language features work in Restricted Mode (capabilities.untrustedWorkspaces.supported: "limited").
    const text = await hoverText(token(/^memory:/, 'memory'), [/Guest RAM/, /KVM memory slot/], 90_000);
    await shot();
    await page.mouse.move(5, 5);
    return `${mode}; hover ${JSON.stringify(text.split('\n')[0].slice(0, 100))}`;
  });

  await step('restricted-run-vm', { timeout: 60_000, needs: ['restricted-hover'] }, async ({ shot }) => {
    await page.keyboard.press('Escape');
    await clearNotifications();
    // The spec is the active editor (runVm's palette entry wants a vmspec). Not line 1: the code lens over it can scroll
    // the editor so that line 1 shows as a sticky line, which takes the click.
    await token(/^vcpus:/, 'vcpus').click();
    // package.json: vmscope.runVm has "enablement": "isWorkspaceTrusted", and the palette leaves disabled commands
    // out. The control: a vmscope command with neither enablement nor a when clause is listed, so the query works.
    const all = await paletteRows('vmscope:');
    check(all.includes('vmscope: Create the Hello Example…'), `the palette lists no "vmscope: Create the Hello Example…" (the control): ${JSON.stringify(all)}`);
    const rows = await paletteRows('vmscope: Run VM');
    await shot('palette');
    let how;
    if (!rows.includes('vmscope: Run VM')) {
      how = `"vmscope: Run VM" is not in the palette (disabled); the palette lists ${JSON.stringify(all)}`;
      await page.keyboard.press('Escape');
    } else {
      // Listed: running it must say why it runs nothing (extension/debug.ts RESTRICTED).
      await page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^vmscope: Run VM$/ }) }).first().click();
      const note = await until('a notification that vmscope runs nothing in Restricted Mode', async () =>
        (await notificationTexts()).find((t) => /runs nothing in Restricted Mode/.test(t)), { timeout: 10_000 });
      how = `"vmscope: Run VM" ran; notification ${JSON.stringify(note)}`;
    }
    await sleep(2000); // a terminal the command made would be shown by now
    check(!(await terminalShown('vmscope run: hello.vmspec')), 'a terminal "vmscope run: hello.vmspec" was opened in Restricted Mode');
    // The spec's "Run VM" code lens runs the command without the palette's enablement check, so the extension's
    // own guard must answer (extension/commands.ts needTrust: the RESTRICTED message).
    const lens = page.locator('.editor-group-container.active .monaco-editor .codelens-decoration a', { hasText: /Run VM/ }).first();
    if ((await lens.count()) && (await lens.isVisible())) {
      await clearNotifications();
      await lens.click();
      const note = await until('a notification that vmscope runs nothing in Restricted Mode', async () =>
        (await notificationTexts()).find((t) => /runs nothing in Restricted Mode/.test(t)), { timeout: 10_000 });
      await shot('code-lens');
      await sleep(2000);
      check(!(await terminalShown('vmscope run: hello.vmspec')), 'the "Run VM" code lens opened a terminal "vmscope run: hello.vmspec" in Restricted Mode');
      how += `; the "Run VM" code lens: notification ${JSON.stringify(note)}`;
    } else how += '; no "Run VM" code lens';
    return how;
  });

  await step('restricted-f5', { timeout: 60_000, needs: ['restricted-hover'] }, async ({ shot }) => {
    await page.keyboard.press('Escape');
    await clearNotifications();
    await token(/^vcpus:/, 'vcpus').click();
    await page.keyboard.press('F5');
    // VS Code asks for trust before it starts any debug session (its dialog says debugging runs the workspace's
    // code); vmscope's resolveDebugConfiguration says RESTRICTED should it get that far.
    const dialog = page.locator('.monaco-dialog-box');
    const why = await until('a dialog or notification that says debugging needs a trusted workspace', async () => {
      if (await debugToolbar().isVisible()) return { started: true };
      const d = (await dialog.isVisible().catch(() => false)) ? (await dialog.innerText()).replace(/\s+/g, ' ').trim() : '';
      if (/Debugging executes .*program code from your workspace|Restricted Mode/i.test(d)) return { dialog: d };
      const note = (await notificationTexts()).find((t) => /Restricted Mode/.test(t));
      return note ? { notification: note } : false;
    }, { timeout: 15_000 });
    check(!why.started, 'F5 started a debug session in Restricted Mode (the debug toolbar is shown)');
    await shot('why');
    if (why.dialog) {
      // Not trusting: the dialog's Cancel (Escape would do the same).
      const cancel = dialog.getByRole('button', { name: /^Cancel$/ });
      await cancel.click();
      await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
    }
    await sleep(3000); // a session would have started by now (debug-start sees its toolbar in about 2 s)
    check(!(await debugToolbar().isVisible()), 'a debug session started in Restricted Mode (the debug toolbar is shown)');
    check(!(await terminalShown('vmscope serial')), 'a "vmscope serial" terminal was opened in Restricted Mode');
    const status = await page.locator('.statusbar-item[id="status.workspaceTrust"]').innerText().catch(() => '');
    check(/Restricted Mode/.test(status), `the workspace is no longer in Restricted Mode (status bar "${status}")`);
    return why.dialog ? `dialog ${JSON.stringify(why.dialog.slice(0, 200))}, cancelled` : `notification ${JSON.stringify(why.notification)}`;
  });
}
