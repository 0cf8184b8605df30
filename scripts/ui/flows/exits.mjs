// The UI test's VM-exit flow, in the session debugging.mjs started: break on an I/O exit, read it in the VMCS scope, the
// VM view, the walk of rip and the serial terminal, stop again on a condition, and lay the workbench out for the
// README's picture of that stop.

import path from 'node:path';
import { RESULTS, check, page, rel, sleep, step, until } from '../harness.mjs';
import { callStackText, debugToolbar, dragSash, expandFocusedVariable, filterRow, focusDownTo, focusFirstRow, focusRow, focusedRow, growPaneUp, onScreen, pane, quickPick, resizePane, runCommand, setPaneExpanded, statusText, terminalText, treeRows, variableRow, webviewTexts } from '../page.mjs';

/**
 * Shows the VMCS scope's "VM-exit information fields" in the Variables view, by keyboard: General registers
 * collapsed, VMCS and the group expanded, the view scrolled to show VMCS down to EXIT_QUALIFICATION, which is left
 * focused. Returns the group's rows' texts. debug-adapter/vmcs-view.ts makes one node per SDM area
 * (vmm/vmx/encoding.ts GROUP_TITLES), then vmcs12; each field is named "NAME (0xENCODING)".
 */
async function exitInformationFields() {
  const V = '.debug-variables';
  await focusFirstRow(page.locator(V));
  const top = await focusedRow(V);
  check(top?.text === 'General registers', `the first scope is ${JSON.stringify(top)}, not General registers`);
  if (top.expanded === 'true') await page.keyboard.press('ArrowLeft');
  await focusDownTo(V, /^VMCS$/);
  await expandFocusedVariable('the VMCS scope');
  const passed = await focusDownTo(V, /^VM-exit information fields\b/);
  const group = passed[passed.length - 1];
  check(group.level === 2, `"VM-exit information fields" is not a child of the VMCS scope: ${JSON.stringify(passed)}`);
  await expandFocusedVariable('"VM-exit information fields"');
  const fields = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('ArrowDown');
    await sleep(80);
    const r = await focusedRow(V);
    if (!r || r.level !== 3) break;
    fields.push(r.text);
  }
  check(fields.length, 'the VM-exit information fields group is empty');
  // Up to VMCS (the list scrolls it to the top if it was above), then down to EXIT_QUALIFICATION.
  for (let i = 0; i < 40 && (await focusedRow(V))?.text !== 'VMCS'; i++) await page.keyboard.press('ArrowUp');
  for (let i = 0; i < 40 && !/^EXIT_QUALIFICATION/.test((await focusedRow(V))?.text ?? ''); i++) await page.keyboard.press('ArrowDown');
  return fields;
}

/**
 * The steps io-exit-breakpoint, vmcs-scope, vm-view, translate-address, serial-terminal, io-exit-condition and
 * readme-screenshot; they need only io-exit-breakpoint, so one failing does not hide the others.
 */
export async function ioExits() {
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

  await step('vmcs-scope', { timeout: 60_000, needs: ['io-exit-breakpoint'] }, async () => {
    // Make room in the side bar: Watch is not used, Breakpoints comes back for run-to-end, General registers opens
    // expanded.
    await setPaneExpanded('Watch', false);
    await setPaneExpanded('Breakpoints', false);
    await resizePane('Variables', 520);
    const fields = await exitInformationFields();
    const reason = fields.find((t) => /^VM_EXIT_REASON \(0x4402\)/.test(t));
    const qual = fields.find((t) => /^EXIT_QUALIFICATION \(0x6400\)/.test(t));
    check(reason && qual, `the VM-exit information fields have no VM_EXIT_REASON or EXIT_QUALIFICATION: ${JSON.stringify(fields)}`);
    // The stop is `out 0x3f9, 1 byte` (io-exit-breakpoint): reason 30 (I/O instruction); qualification port 0x3f9 in
    // bits 31:16, size 1 (bits 2:0 = 0), OUT (bit 3 = 0), DX operand (bit 6 = 0).
    check(/\(0x4402\)\s*[=:]?\s*0x1e\b/.test(reason), `VM_EXIT_REASON is not 30 (0x1e): ${reason}`);
    check(/\(0x6400\)\s*[=:]?\s*0x3f90000\b/.test(qual), `EXIT_QUALIFICATION is not 0x3f90000 (out to port 0x3f9, 1 byte, DX): ${qual}`);
    await page.mouse.move(800, 980);
    return `${reason.slice(0, 70)} | ${qual.slice(0, 70)} (${fields.length} exit-information fields)`;
  });

  await step('vm-view', { timeout: 60_000, needs: ['io-exit-breakpoint'] }, async () => {
    await setPaneExpanded('VM', true);
    await growPaneUp('VM', 260); // room for the whole tree
    await pane('VM').locator('.monaco-list-row').first().waitFor({ state: 'visible', timeout: 15_000 });
    const rows = await until('the VM view to show vCPU 0, the memory map and the exits', async () => {
      const r = await treeRows('VM');
      const cpu = r.find((x) => /^vCPU 0\b/.test(x.label));
      const ram = r.find((x) => x.label === 'ram');
      const io = r.find((x) => x.label === 'io');
      return cpu && ram && io && r.some((x) => x.label === 'Memory map') && r.some((x) => x.label === 'Exits') ? r : false;
    }, { timeout: 20_000, interval: 1000 });
    await page.mouse.move(800, 980); // no tooltip in the screenshot
    const cpu = rows.find((x) => /^vCPU 0\b/.test(x.label));
    check(/\bstopped\b/.test(cpu.description) && /\blong mode\b/.test(cpu.description) && /\bCPL 0\b/.test(cpu.description),
      `vCPU 0 reads "${cpu.description}", not stopped · long mode · CPL 0`);
    const ram = rows.find((x) => x.label === 'ram');
    check(ram.description === 'RAM 0x0..0xffffff (16 MiB)', `the memory map's ram reads "${ram.description}", not "RAM 0x0..0xffffff (16 MiB)"`);
    // Children sit one level below their node: ram under "Memory map", io under "Exits".
    const under = (label, parent) => {
      const i = rows.findIndex((x) => x.label === label);
      for (let j = i - 1; j >= 0; j--) if (rows[j].level < rows[i].level) return rows[j].label === parent;
      return false;
    };
    check(under('ram', 'Memory map'), `"ram" is not under "Memory map": ${JSON.stringify(rows)}`);
    check(under('io', 'Exits'), `"io" is not under "Exits": ${JSON.stringify(rows)}`);
    const io = rows.find((x) => x.label === 'io');
    check(/^[1-9]\d*\b/.test(io.description), `the io exit count reads "${io.description}"`);
    return rows.map((x) => `${'  '.repeat(Math.max(0, x.level - 1))}${x.label}${x.description ? ` = ${x.description}` : ''}`).join(' | ');
  });

  await step('translate-address', { timeout: 60_000, needs: ['io-exit-breakpoint'] }, async () => {
    await page.keyboard.press('Escape');
    await setPaneExpanded('VM', false); // room for the walk
    await runCommand('vmscope: Translate Address…');
    const input = page.locator('.quick-input-widget .quick-input-box input[type="text"]');
    await until('the input box to offer "rip"', async () => (await input.inputValue()) === 'rip' && /Translate an address on vCPU 0/.test(await page.locator('.quick-input-widget').innerText()), { timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    // TranslationView (extension/webview-html.ts translationBody): GVA, one box per level (vmm/paging/walk.ts names
    // them PML4, PDPT, PD, PT in long mode), GPA, then HVA → HPA.
    const text = await until('the Address Translation view to show the walk of rip', async () => {
      const t = (await webviewTexts()).find((x) => /\bGVA\b/.test(x));
      return t && /\bGPA\b/.test(t) && /\bHVA\b/.test(t) ? t : false;
    }, { timeout: 20_000 });
    check(/vCPU 0 · rip · long4 paging/.test(text), `the walk's heading is not "vCPU 0 · rip · long4 paging": ${text.slice(0, 200)}`);
    const levels = [...text.matchAll(/\b(PML5|PML4|PDPT|PD|PT) \(level (\d)\)/g)].map((m) => m[1]);
    check(levels[0] === 'PML4' && levels.includes('PDPT') && levels.includes('PD'), `the walk's levels are ${JSON.stringify(levels)}, not PML4 → PDPT → PD…`);
    check(!/\bfail|not present|not mapped/i.test(text), `the walk of rip failed: ${text.slice(0, 400)}`);
    await growPaneUp('Address Translation', 560); // the whole walk in the screenshot
    const gva = /GVA\s+(0x[0-9a-f]+)/.exec(text)?.[1];
    const gpa = /GPA\s+(0x[0-9a-f]+)/.exec(text)?.[1];
    const hva = /HVA\s+(0x[0-9a-f]+)/.exec(text)?.[1];
    check(gva && gpa && hva, `no GVA, GPA or HVA address in the walk: ${text.slice(0, 400)}`);
    return `GVA ${gva} → ${levels.join(' → ')} → GPA ${gpa} → HVA ${hva}${/HPA\s+0x/.test(text) ? ` → HPA ${/HPA\s+(0x[0-9a-f]+)/.exec(text)[1]}` : ' (HPA unknown)'}`;
  });

  await step('serial-terminal', { timeout: 30_000, needs: ['io-exit-breakpoint'] }, async () => {
    const name = 'vmscope serial: Debug hello.vmspec';
    const panel = page.locator('.part.panel');
    await panel.waitFor({ state: 'visible', timeout: 10_000 });
    const tab = panel.getByText(name, { exact: false }).first();
    await until(`a terminal named "${name}"`, async () => (await tab.count()) > 0 && (await tab.isVisible()), { timeout: 15_000 });
    return `terminal "${(await tab.innerText()).trim()}"`;
  });

  await step('io-exit-condition', { timeout: 90_000, needs: ['io-exit-breakpoint'] }, async () => {
    // The I/O filter's condition (debug-adapter/exit-filters.ts names port, value, ...): stop at the guest's "\n" to
    // COM1's transmit register, after "Hello from the guest" went out.
    const condition = 'port == 0x3f8 && value == 0xa';
    await setPaneExpanded('Breakpoints', true);
    const row = filterRow('VM exit: I/O');
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    // The row's inline action (a pencil), shown while the row is hovered.
    await row.hover();
    const edit = row.locator('.action-label[aria-label^="Edit Condition"], .action-label[title^="Edit Condition"]').first();
    await edit.waitFor({ state: 'visible', timeout: 10_000 });
    await edit.click();
    const input = page.locator('.debug-breakpoints input:not([type="checkbox"])').first();
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(condition);
    await page.keyboard.press('Enter');
    await input.waitFor({ state: 'hidden', timeout: 10_000 });
    const shown = await until('the I/O filter to show its condition', async () => {
      const t = `${await row.innerText()} ${(await row.getAttribute('aria-label')) ?? ''} ${(await row.locator('[title]').evaluateAll((e) => e.map((x) => x.title).join(' ')))}`;
      return t.includes(condition) ? t.replace(/\s+/g, ' ').trim() : false;
    }, { timeout: 10_000 });
    check(await row.locator('input[type="checkbox"]').isChecked(), 'the I/O filter was unticked by editing its condition');
    await page.locator('.editor-group-container.active .monaco-editor').first().click({ position: { x: 200, y: 5 } }).catch(() => {});
    await page.keyboard.press('F5'); // Continue
    const stack = await until('the Call Stack to show the stop on "out 0x3f8, 1 byte, value 0xa" in uart_putc', async () => {
      const t = await callStackText();
      return /out 0x3f8, 1 byte, value 0xa\b/.test(t) && /uart_putc/.test(t) ? t : false;
    }, { timeout: 60_000 });
    const serial = await until('the serial terminal to show "Hello from the guest"', async () => {
      const t = await terminalText();
      return /Hello from the guest/.test(t) ? t : false;
    }, { timeout: 15_000 });
    return `condition ${JSON.stringify(shown.slice(0, 80))}; call stack ${JSON.stringify(stack.replace(/\s+/g, ' ').slice(0, 120))}; serial ${JSON.stringify(serial.trim().slice(0, 60))}`;
  });

  await step('readme-screenshot', { timeout: 120_000, needs: ['io-exit-breakpoint'] }, async () => {
    await page.keyboard.press('Escape');
    const vp = page.viewportSize();
    check(vp.width === 1600 && vp.height === 1000, `the viewport is ${vp.width}x${vp.height}, not 1600x1000`);
    // Address Translation to a secondary side bar of its own, on the right, so that the walk shows whole.
    await runCommand('View: Move View');
    await quickPick('Select a View to Move', 'Address Translation');
    await quickPick('Select a Destination for the View', 'New Secondary Side Bar Entry');
    const aux = page.locator('.part.auxiliarybar');
    await aux.waitFor({ state: 'visible', timeout: 10_000 });
    // Widths: side bar 560 px, secondary side bar 380 px, the editor between them.
    const side = await page.locator('.part.sidebar').boundingBox();
    await dragSash(side.x + side.width, side.y + side.height / 2, 48 + 560);
    const auxBox0 = await aux.boundingBox();
    await dragSash(auxBox0.x, auxBox0.y + auxBox0.height / 2, vp.width - 380);
    // The side bar: Variables (the VMCS exit fields), Call Stack, VM; Watch, Breakpoints and VM Exits closed.
    for (const t of ['Watch', 'Breakpoints', 'VM Exits']) await setPaneExpanded(t, false);
    for (const t of ['Variables', 'Call Stack', 'VM']) await setPaneExpanded(t, true);
    await resizePane('Variables', 470);
    await resizePane('Call Stack', 110);
    // Variables: General registers collapsed, VMCS down to EXIT_QUALIFICATION in view, EXIT_QUALIFICATION selected.
    const fields = await exitInformationFields();
    const qualText = fields.find((t) => /^EXIT_QUALIFICATION \(0x6400\)/.test(t));
    check(qualText, `the VM-exit information fields have no EXIT_QUALIFICATION: ${JSON.stringify(fields)}`);
    const qual = variableRow(/^EXIT_QUALIFICATION \(0x6400\)/);
    // The walk of this stop's rip.
    await runCommand('vmscope: Translate Address…');
    await until('the input box to offer "rip"', async () => (await page.locator('.quick-input-widget .quick-input-box input[type="text"]').inputValue()) === 'rip', { timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
    await focusRow(qual);
    // The terminal panel: 200 px tall.
    const panel = await page.locator('.part.panel').boundingBox();
    if (panel && Math.abs(panel.height - 200) > 10) {
      await page.mouse.move(panel.x + panel.width / 2, panel.y);
      await sleep(100);
      await page.mouse.down();
      await page.mouse.move(panel.x + panel.width / 2, panel.y + panel.height - 200, { steps: 8 });
      await page.mouse.up();
    }
    await page.mouse.move(vp.width / 2, 300); // no hover or tooltip
    // The floating debug toolbar off the editor's tabs, into the title bar's free space on the right. The title bar
    // keeps the mouseup of the drop from the window, where the toolbar's drag listens for it (it would follow the
    // mouse on), so the drop is dispatched to the window as well.
    const grip = await debugToolbar().locator('.drag-area').first().boundingBox();
    if (grip) {
      await page.mouse.move(grip.x + grip.width / 2, grip.y + grip.height / 2);
      await page.mouse.down();
      await sleep(100);
      await page.mouse.move(1190, 16);
      await sleep(300);
      await page.mouse.up();
      await page.evaluate(([x, y]) => {
        for (const type of ['pointerup', 'mouseup']) window.dispatchEvent(new (type === 'pointerup' ? PointerEvent : MouseEvent)(type, { clientX: x, clientY: y, bubbles: true }));
      }, [1190, 16]);
      await page.mouse.move(vp.width / 2, 300);
      await sleep(300);
      const tb = await debugToolbar().boundingBox();
      check(tb && tb.y < 30 && tb.x > 1000, `the debug toolbar did not stay where it was dropped: ${JSON.stringify(tb)}`);
    }
    await sleep(800);

    // Everything the picture is for must be on screen.
    const status = await statusText();
    // The status bar leads with the backend: "KVM: VMX · …" on KVM, "emulated · …" under the emulator.
    check(/(KVM: \w+|emulated) · vCPU0 stopped at exit io/.test(status), `the status bar reads "${status.replace(/\s+/g, ' ')}"`);
    check(await debugToolbar().isVisible(), 'the debug toolbar is not shown');
    check(await onScreen(qual, await page.locator('.debug-variables').boundingBox()), 'EXIT_QUALIFICATION is not in view in Variables');
    const vmBody = await pane('VM').locator('.pane-body').boundingBox();
    for (const label of [/^vCPU 0\b/, /^ram$/, /^io$/]) {
      const r = pane('VM').locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: label }) });
      check(await onScreen(r, vmBody), `the VM view's row ${label} is not in view`);
    }
    const auxBox = await aux.boundingBox();
    const walkFrame = await until('the walk in the secondary side bar', async () => {
      const n = await page.locator('iframe.webview').count();
      for (let i = 0; i < n; i++) {
        const frame = page.locator('iframe.webview').nth(i);
        const text = await page.frameLocator('iframe.webview').nth(i).frameLocator('iframe#active-frame').locator('body').innerText({ timeout: 2000 }).catch(() => '');
        if (/\bGVA\b/.test(text) && /\bHVA\b/.test(text) && (await onScreen(frame, auxBox))) return text;
      }
      return false;
    }, { timeout: 15_000 });
    // The walk is of this stop's rip, as the VM view shows it.
    const cpuDesc = await pane('VM').locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^vCPU 0\b/ }) }).locator('.label-description').first().innerText();
    const rip = /\brip (0x[0-9a-f]+)/.exec(cpuDesc)?.[1];
    const gva = /GVA\s+(0x[0-9a-f]+)/.exec(walkFrame)?.[1];
    check(rip && gva && BigInt(rip) === BigInt(gva), `the walk's GVA ${gva} is not vCPU 0's rip ${rip} ("${cpuDesc}")`);
    const term = page.locator('.part.panel').getByText('vmscope serial: Debug hello.vmspec').first();
    check(await onScreen(term), 'the serial terminal is not in view');
    const serial = await terminalText();
    const file = path.join(RESULTS, 'readme-debug-session.png');
    await page.screenshot({ path: file });
    return `${rel(file)}; status "${/(KVM:|emulated ·)[^\n]*/.exec(status)?.[0]}"; walk of rip ${gva}; ${qualText.slice(0, 40)}; serial ${JSON.stringify(serial.trim().split('\n')[0] ?? '')}`;
  });
}
