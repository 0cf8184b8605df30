// vmscope inside VS Code: activation, commands, diagnostics, F5 with no launch.json, and a breakpoint hit.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';

const WORKSPACE = process.env.VMSCOPE_TEST_WORKSPACE ?? '';
const SPEC = path.join(WORKSPACE, 'hello.vmspec');

function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = f();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

/** Stops of vmscope sessions, as the adapter sends them. */
const stops: Array<{ reason: string; threadId: number }> = [];
vscode.debug.registerDebugAdapterTrackerFactory('vmscope', {
  createDebugAdapterTracker: () => ({
    onDidSendMessage: (m: { type?: string; event?: string; body?: { reason: string; threadId: number } }) => {
      if (m.type === 'event' && m.event === 'stopped' && m.body) stops.push(m.body);
    },
  }),
});

suite('vmscope in VS Code', () => {
  suiteTeardown(async () => {
    await vscode.debug.stopDebugging();
  });

  test('opening a .vmspec activates the extension', async () => {
    const doc = await vscode.workspace.openTextDocument(SPEC);
    assert.equal(doc.languageId, 'vmspec');
    await vscode.window.showTextDocument(doc);
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'vmscope');
    assert.ok(ext, 'vmscope is installed');
    await until('activation', () => ext.isActive || undefined);
  });

  test('every vmscope command is registered', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const c of ['runVm', 'debugVm', 'translateAddress', 'showExits', 'exportExitTrace', 'startGdbServer', 'checkKvm', 'openHelloExample']) {
      assert.ok(all.includes(`vmscope.${c}`), `vmscope.${c}`);
    }
  });

  test('a bad spec gets a diagnostic from the language server', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'vmspec', content: 'name: bad\nmemroy: 16MiB\nboot:\n  image: x.elf\n' });
    const diags = await until('diagnostics', () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.length ? d : undefined;
    });
    const unknown = diags.find((d) => String(typeof d.code === 'object' ? d.code.value : d.code) === 'unknown-key');
    assert.ok(unknown, JSON.stringify(diags));
    assert.match(unknown.message, /did you mean "memory"/);
    assert.equal(unknown.range.start.line, 1);
  });

  test('F5 on the open spec with no launch.json starts a vmscope session that stops at entry', async () => {
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(SPEC));
    const started = new Promise<vscode.DebugSession>((resolve) => vscode.debug.onDidStartDebugSession(resolve));
    await vscode.commands.executeCommand('workbench.action.debug.start');
    const session = await started;
    assert.equal(session.type, 'vmscope');
    assert.equal(session.configuration.spec, SPEC);
    await until('the entry stop', () => stops.find((s) => s.reason === 'entry'));
  });

  test('a breakpoint in hello.c is hit', async () => {
    const source = vscode.Uri.file(path.join(WORKSPACE, 'hello.c'));
    const text = (await vscode.workspace.openTextDocument(source)).getText().split('\n');
    const line = text.findIndex((l) => /uart_puts\(/.test(l) && !/void/.test(l));
    assert.ok(line >= 0, 'a call to uart_puts in hello.c');
    vscode.debug.addBreakpoints([new vscode.SourceBreakpoint(new vscode.Location(source, new vscode.Position(line, 0)))]);
    const session = vscode.debug.activeDebugSession;
    assert.ok(session);
    await session.customRequest('continue', { threadId: 0 });
    await until('the breakpoint stop', () => stops.find((s) => s.reason === 'breakpoint'));
  });
});
