// The UI test's walkthrough flow, still in the trusted workspace: vmscope's walkthrough lists its steps, and its first
// step's button (Check KVM) says which backend runs guests here and ticks the step.

import { INFO, check, page, step, until } from '../harness.mjs';
import { clearNotifications, escapeRe, notificationTexts, onScreen, quickPick, runCommand } from '../page.mjs';

const WALKTHROUGH = 'Debug a guest with vmscope';
const WALKTHROUGH_STEPS = ['Check KVM', 'Open the hello example', 'Set a breakpoint and press F5', 'Break on an I/O exit', 'Follow an address to a host page'];

/** The step walkthrough. */
export async function walkthrough() {
  await step('walkthrough', { timeout: 90_000, needs: ['trust-folder'], vm: true }, async ({ shot }) => {
    await page.keyboard.press('Escape');
    // Room for the walkthrough in the editor area (layout only): the debug steps left the panel and the secondary
    // side bar open.
    for (const c of ['View: Hide Panel', 'View: Hide Secondary Side Bar']) await runCommand(c).catch(() => page.keyboard.press('Escape'));
    await clearNotifications();
    await runCommand('Welcome: Open Walkthrough...');
    await quickPick('Select a walkthrough to open', WALKTHROUGH);
    const welcome = page.locator('.gettingStartedContainer');
    await welcome.waitFor({ state: 'visible', timeout: 15_000 });
    const steps = welcome.locator('button.getting-started-step');
    const titles = await until(`the walkthrough "${WALKTHROUGH}" to list its steps`, async () => {
      const heading = await welcome.locator('.gettingStartedSlideDetails .getting-started-category h2, .gettingStartedSlideDetails h2').first().innerText().catch(() => '');
      const t = (await steps.locator('.step-title').allInnerTexts()).map((x) => x.trim());
      return heading.includes(WALKTHROUGH) && t.length ? t : false;
    }, { timeout: 15_000 });
    check(JSON.stringify(titles) === JSON.stringify(WALKTHROUGH_STEPS), `the walkthrough's steps are ${JSON.stringify(titles)}, not ${JSON.stringify(WALKTHROUGH_STEPS)}`);
    for (const t of WALKTHROUGH_STEPS) {
      check(await onScreen(steps.locator('.step-title', { hasText: new RegExp(`^${escapeRe(t)}$`) })), `the walkthrough's step "${t}" is not on screen`);
    }
    // "Check KVM" (the first step, open at the start): its description's only link, [Check KVM](command:vmscope.checkKvm),
    // is rendered as a button.
    const kvm = steps.filter({ has: page.locator('.step-title', { hasText: /^Check KVM$/ }) });
    if ((await kvm.getAttribute('aria-expanded')) !== 'true') await kvm.locator('.step-title').click();
    await until('the "Check KVM" step to open', async () => (await kvm.getAttribute('aria-expanded')) === 'true', { timeout: 5000 });
    const done = kvm.locator('.codicon[data-done-step-id]');
    check((await done.getAttribute('aria-checked')) === 'false', 'the "Check KVM" step is ticked before its button was clicked');
    const button = kvm.locator('.step-description-container').getByRole('button', { name: /^Check KVM$/ }).first();
    await button.waitFor({ state: 'visible', timeout: 5000 });
    await shot('steps');
    await button.click();
    // extension/commands.ts vmscope.checkKvm: "vmscope: /dev/kvm is usable (backend …)." where KVM runs guests,
    // "vmscope: guests run under emulation (Unicorn …): …" where the emulator does.
    const expected = INFO?.auto === 'emu' ? /guests run under emulation \(Unicorn 2\.\d+\.\d+\): / : /\/dev\/kvm is usable/;
    const note = await until(`a notification matching ${expected}`, async () => (await notificationTexts()).find((t) => expected.test(t)), { timeout: 30_000 });
    // The step's completion event is onCommand:vmscope.checkKvm: the walkthrough ticks it.
    await until('the walkthrough to tick "Check KVM"', async () => (await done.getAttribute('aria-checked')) === 'true', { timeout: 10_000 });
    return `steps ${titles.join(' | ')}; notification ${JSON.stringify(note)}; "Check KVM" ticked`;
  });
}
