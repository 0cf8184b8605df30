// The vmscope extension: the language client for .vmspec files, the debugger (its adapter in a separate process),
// the VM views, the serial console, the status bar and the commands. It holds no VM logic of its own.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { AdapterFactory, ConfigurationProvider } from './debug';
import { Sessions } from './sessions';
import { ExitTimelineView, TranslationView, VmTreeProvider } from './views';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('vmscope', { log: true });
  context.subscriptions.push(output);

  // Debugging.
  const sessions = new Sessions();
  context.subscriptions.push(
    sessions,
    vscode.debug.registerDebugConfigurationProvider('vmscope', new ConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider('vmscope', new ConfigurationProvider(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory('vmscope', new AdapterFactory(context.extensionPath)),
    vscode.debug.registerDebugAdapterTrackerFactory('vmscope', { createDebugAdapterTracker: (s) => sessions.tracker(s) }),
  );

  // Views.
  const tree = new VmTreeProvider(sessions);
  const vmView = vscode.window.createTreeView('vmscope.vm', { treeDataProvider: tree, showCollapseAll: true });
  const setMessage = () => (vmView.message = sessions.active() ? undefined : 'Start a vmscope debug session (F5 on a .vmspec) to see its vCPUs, memory map, devices and exits.');
  setMessage();
  sessions.onDidChange(setMessage);
  const translation = new TranslationView(sessions);
  const exits = new ExitTimelineView(sessions);
  context.subscriptions.push(
    vmView,
    vscode.window.registerWebviewViewProvider('vmscope.translation', translation),
    vscode.window.registerWebviewViewProvider('vmscope.exits', exits),
  );

  registerCommands(context, sessions, translation, exits, output);

  // Language features work in Restricted Mode too: the server only reads the spec and the files it names.
  const module = context.asAbsolutePath(path.join('dist', 'language-server.js'));
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'vmspec' }],
    outputChannel: output,
  };
  client = new LanguageClient('vmscope', 'vmscope language server', serverOptions, clientOptions);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
