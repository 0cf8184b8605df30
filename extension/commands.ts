// vmscope's commands: run a spec in a terminal, debug it, translate an address, the exit views, a gdb stub for a
// session, and the KVM check.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { backendEnv, nodeRuntime, RESTRICTED } from './debug';
import { isSpecFile } from './launch-config';
import { exposureWarning, GDB_ADDRESS_FORMS, parseGdbAddress } from '../common/gdb-address';
import type { Sessions } from './sessions';
import type { TranslationJson } from './webview-html';
import type { ExitTimelineView, TranslationView } from './views';

/** The spec a command is about: its argument (a URI from a code lens or the explorer), else the active editor. */
function specOf(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string') return arg.startsWith('file:') ? vscode.Uri.parse(arg).fsPath : arg;
  const active = vscode.window.activeTextEditor?.document;
  return active && isSpecFile(active.uri.fsPath) ? active.uri.fsPath : undefined;
}

function needTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showErrorMessage(RESTRICTED, 'Manage Workspace Trust').then((c) => {
    if (c) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}

function needNode(): string | undefined {
  const node = nodeRuntime();
  if ('error' in node) {
    void vscode.window.showErrorMessage(node.error);
    return undefined;
  }
  return node.path;
}

function needSession(sessions: Sessions): vscode.DebugSession | undefined {
  const s = sessions.active();
  if (!s) void vscode.window.showErrorMessage('vmscope: start a vmscope debug session first (F5 on a .vmspec file).');
  return s;
}

export function registerCommands(
  context: vscode.ExtensionContext,
  sessions: Sessions,
  translation: TranslationView,
  exits: ExitTimelineView,
  output: vscode.OutputChannel,
): void {
  const cli = context.asAbsolutePath(path.join('dist', 'cli.js'));
  const add = (id: string, f: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, f));

  add('vmscope.runVm', async (arg) => {
    if (!needTrust()) return;
    const spec = specOf(arg);
    if (!spec) return void vscode.window.showErrorMessage('vmscope: open a .vmspec file to run it.');
    const node = needNode();
    if (!node) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === spec);
    if (doc?.isDirty) await doc.save();
    const t = vscode.window.createTerminal({ name: `vmscope run: ${path.basename(spec)}`, shellPath: node, shellArgs: [cli, 'run', spec], cwd: path.dirname(spec), iconPath: new vscode.ThemeIcon('vm'), env: backendEnv() });
    t.show();
  });

  add('vmscope.debugVm', async (arg) => {
    if (!needTrust()) return;
    const spec = specOf(arg);
    if (!spec) return void vscode.window.showErrorMessage('vmscope: open a .vmspec file to debug it.');
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(spec));
    await vscode.debug.startDebugging(folder, { type: 'vmscope', request: 'launch', name: `Debug ${path.basename(spec)}`, spec });
  });

  add('vmscope.translateAddress', async (arg) => {
    const s = needSession(sessions);
    if (!s) return;
    const item = vscode.debug.activeStackItem;
    const vcpu = item && item.session.id === s.id ? item.threadId : 0;
    const expression =
      typeof arg === 'string'
        ? arg
        : await vscode.window.showInputBox({
            title: `Translate an address on vCPU ${vcpu}`,
            prompt: 'A guest-virtual address or an expression: rip, rsp + 8, 0xffff800000001000, &buf',
            value: 'rip',
          });
    if (!expression) return;
    try {
      const walk = (await s.customRequest('translate', { address: expression, vcpu })) as TranslationJson;
      await vscode.commands.executeCommand('vmscope.translation.focus');
      translation.show(expression, vcpu, walk);
    } catch (e) {
      void vscode.window.showErrorMessage(`vmscope: cannot translate ${expression}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  add('vmscope.showExits', async () => {
    await vscode.commands.executeCommand('vmscope.exits.focus');
    await exits.render();
  });

  add('vmscope.exportExitTrace', async () => {
    const s = needSession(sessions);
    if (!s) return;
    const trace = (await s.customRequest('exportExitTrace', { max: 65536 })) as { traceEvents: unknown[] };
    const base = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd());
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(base, `${s.name.replace(/[^\w.-]+/g, '-')}-exits.json`),
      filters: { 'Trace Event JSON': ['json'] },
      title: 'Export the exit trace (opens in ui.perfetto.dev or chrome://tracing)',
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(JSON.stringify(trace)));
    void vscode.window.showInformationMessage(`vmscope: wrote ${trace.traceEvents.length} trace events to ${vscode.workspace.asRelativePath(target)}; open it in ui.perfetto.dev.`);
  });

  add('vmscope.startGdbServer', async (arg) => {
    // Whoever reaches the stub controls the VM: nothing listens from Restricted Mode.
    if (!needTrust()) return;
    const s = needSession(sessions);
    if (!s) return;
    let address: string | undefined = sessions.info()?.gdbServer;
    if (!address) {
      address =
        typeof arg === 'string' || typeof arg === 'number'
          ? String(arg)
          : await vscode.window.showInputBox({
              title: `Serve gdb on ${s.name}'s VM`,
              prompt: `Where the gdb stub listens: ${GDB_ADDRESS_FORMS}. Anyone who can reach it controls the VM.`,
              value: '127.0.0.1:1234',
              validateInput: (text) => {
                const at = parseGdbAddress(text);
                return !at ? `give ${GDB_ADDRESS_FORMS}` : exposureWarning(at) ? { message: `warning: ${exposureWarning(at)!}`, severity: vscode.InputBoxValidationSeverity.Warning } : undefined;
              },
            });
      if (!address) return;
    }
    try {
      const r = (await s.customRequest('startGdbServer', { address })) as { address: string; targetRemote: string; alreadyListening: boolean; loopback: boolean };
      const where = `vmscope: gdb ${r.alreadyListening ? 'is already served' : 'served'} on ${r.address}${r.loopback ? '' : ' (not loopback: anyone who can reach it controls the VM)'}; in gdb: ${r.targetRemote}`;
      const copy = 'Copy "target remote"';
      const choice = r.loopback ? await vscode.window.showInformationMessage(where, copy) : await vscode.window.showWarningMessage(where, copy);
      if (choice === copy) await vscode.env.clipboard.writeText(r.targetRemote);
    } catch (e) {
      void vscode.window.showErrorMessage(`vmscope: cannot start the gdb stub: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  add('vmscope.checkKvm', async () => {
    if (!needTrust()) return;
    const node = needNode();
    if (!node) return;
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) =>
        execFile(node, [cli, ...args], { timeout: 30_000, env: backendEnv() }, (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err })),
      );
    const r = await run(['info']);
    output.appendLine(`$ vmscope info`);
    output.append(r.out + r.err);
    let info: { auto?: 'kvm' | 'emu' | null; autoAvoidsKvm?: string; kvm?: { backend?: string; problem?: string }; emulator?: { version?: string; problem?: string } } = {};
    try {
      info = JSON.parse((await run(['info', '--json'])).out) as typeof info;
    } catch {
      // An older or broken CLI: judge by the exit code alone.
    }
    if (info.auto === 'kvm' || (info.auto === undefined && r.code === 0)) {
      const backend = info.kvm?.backend?.toUpperCase();
      const choice = await vscode.window.showInformationMessage(`vmscope: /dev/kvm is usable${backend ? ` (backend ${backend})` : ''}.`, 'Show Details');
      if (choice) output.show();
    } else if (info.auto === 'emu') {
      // No KVM here, but guests still run: say so as information, with why KVM is not used.
      const why = info.autoAvoidsKvm ?? (info.kvm?.problem ?? '').split(';')[0];
      const choice = await vscode.window.showInformationMessage(`vmscope: guests run under emulation (Unicorn ${info.emulator?.version ?? ''}): ${why}.`, 'Show Details', 'How to Use KVM');
      if (choice === 'Show Details') output.show();
      if (choice === 'How to Use KVM') showKvmFix();
    } else {
      // The CLI's error is one line that names the fix (e.g. the kvm group for a permission error).
      const line = (r.err.trim().split('\n')[0] ?? '').replace(/^vmscope: /, '') || info.kvm?.problem || `vmscope info failed with exit code ${r.code}`;
      const choice = await vscode.window.showErrorMessage(`vmscope: no backend can run a VM here: ${line}`, 'Show Details', 'How to Fix');
      if (choice === 'Show Details') output.show();
      if (choice === 'How to Fix') showKvmFix();
    }
  });

  function showKvmFix(): void {
    output.appendLine('To use KVM, /dev/kvm must exist (load kvm_intel or kvm_amd; in a VM, enable nested virtualization)');
    output.appendLine('and be readable and writable by you: `sudo usermod -aG kvm $USER`, then log out and in again,');
    output.appendLine('or for this boot only: `sudo setfacl -m u:$USER:rw /dev/kvm`.');
    output.appendLine('Without KVM, vmscope runs guests under emulation (Unicorn): `npm install` fetches it, or set VMSCOPE_UNICORN.');
    output.show();
  }

  add('vmscope.openHelloExample', async () => {
    const source = context.asAbsolutePath(path.join('examples', 'hello'));
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Create the hello example here' });
    if (!picked?.[0]) return;
    const target = path.join(picked[0].fsPath, 'vmscope-hello');
    fs.cpSync(source, target, { recursive: true, filter: (src) => !src.includes(`${path.sep}build`) });
    await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(target), { forceNewWindow: false });
  });
}
