// The UI test's editing flow, in the first workspace: trust it through VS Code's dialog, open hello.vmspec, and check
// what the language server gives a user who edits a spec: the schema's hover and a diagnostic for a misspelt key.

import { check, page, step, until } from '../harness.mjs';
import { editorText, hoverText, openSpec, runCommand, token } from '../page.mjs';

/** The steps trust-folder, open-spec, hover-docs and diagnostic. */
export async function editing() {
  await step('trust-folder', { timeout: 60_000, needs: ['open-workbench'] }, async ({ shot }) => {
    const yes = page.getByRole('button', { name: /Yes, I trust the authors/ });
    await yes.waitFor({ state: 'visible', timeout: 45_000 });
    await shot('dialog');
    await yes.click();
    await yes.waitFor({ state: 'hidden', timeout: 10_000 });
  });

  await step('open-spec', { timeout: 60_000, needs: ['trust-folder'] }, async () => openSpec());

  await step('hover-docs', { timeout: 90_000, needs: ['open-spec'] }, async () => {
    // vmspec/schema.ts describes `memory` as "Guest RAM, one KVM memory slot at guest-physical address 0 ...".
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
}
