// The vmscope debugger's client side: launch configurations (F5 on a spec with no launch.json), and the adapter run
// as a separate Node process, never inside the extension host, so that a crash in the KVM addon cannot take VS Code
// down.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { adapterRuntime, isSpecFile, resolveLaunch, type VmscopeSettings } from './launch-config';

export function settings(): VmscopeSettings {
  const c = vscode.workspace.getConfiguration('vmscope');
  return {
    breakOnExit: c.get<string[]>('breakOnExit', []),
    serialConsole: c.get<boolean>('serialConsole', true),
    symbols: c.get<string[]>('symbols', []),
    traceBufferSize: c.get<number>('traceBufferSize', 4096),
  };
}

export async function workspaceSpecs(): Promise<string[]> {
  const found = await vscode.workspace.findFiles('**/*.{vmspec,vmspec.yaml}', '**/node_modules/**', 50);
  return found.map((u) => u.fsPath).sort();
}

/** `node` on PATH, if there is one. */
function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The Node.js that runs vmscope's adapter and CLI, or an error message that says how to get one. */
export function nodeRuntime(): { path: string } | { error: string } {
  return adapterRuntime({
    setting: vscode.workspace.getConfiguration('vmscope').get<string>('nodePath') || undefined,
    electron: process.versions.electron,
    execPath: process.execPath,
    findOnPath,
  });
}

export const RESTRICTED = 'vmscope runs guest images from the workspace, so it runs nothing in Restricted Mode: trust this workspace to run or debug VMs.';

export class ConfigurationProvider implements vscode.DebugConfigurationProvider {
  async provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<vscode.DebugConfiguration[]> {
    const specs = await workspaceSpecs();
    if (specs.length === 0) return [{ type: 'vmscope', request: 'launch', name: 'Debug VM', spec: '${file}', stopOnEntry: true }];
    return specs.map((s) => {
      const rel = folder ? path.relative(folder.uri.fsPath, s) : s;
      return { type: 'vmscope', request: 'launch', name: `Debug ${path.basename(s)}`, spec: folder && !rel.startsWith('..') ? `\${workspaceFolder}/${rel}` : s, stopOnEntry: true };
    });
  }

  /** F5 with no launch.json: the open spec, or one the user picks. */
  async resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showErrorMessage(RESTRICTED);
      return undefined;
    }
    if (config.type || config.request || config.name) return config;
    const active = vscode.window.activeTextEditor?.document.uri.fsPath;
    let spec = isSpecFile(active) ? active : undefined;
    if (!spec) {
      const specs = await workspaceSpecs();
      if (specs.length === 1) spec = specs[0];
      else if (specs.length > 1) {
        const picked = await vscode.window.showQuickPick(
          specs.map((s) => ({ label: path.basename(s), description: vscode.workspace.asRelativePath(s), path: s })),
          { placeHolder: 'Which VM spec?' },
        );
        if (!picked) return undefined;
        spec = picked.path;
      }
    }
    if (!spec) {
      void vscode.window.showErrorMessage('vmscope: open a .vmspec file (or add a vmscope launch configuration) to debug a VM.');
      return undefined;
    }
    return { type: 'vmscope', request: 'launch', name: `Debug ${path.basename(spec)}`, spec };
  }

  resolveDebugConfigurationWithSubstitutedVariables(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    const r = resolveLaunch(config, {
      activeFile: vscode.window.activeTextEditor?.document.uri.fsPath,
      folder: (folder ?? vscode.workspace.workspaceFolders?.[0])?.uri.fsPath,
      settings: settings(),
      trusted: vscode.workspace.isTrusted,
    });
    if (r.kind !== 'launch') {
      void vscode.window.showErrorMessage(`vmscope: ${r.kind === 'error' ? r.message : 'choose a spec'}`);
      return undefined;
    }
    if (!fs.existsSync(r.config.spec)) {
      void vscode.window.showErrorMessage(`vmscope: ${r.config.spec} does not exist`);
      return undefined;
    }
    return r.config;
  }
}

export class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly extensionPath: string) {}

  createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    if (!vscode.workspace.isTrusted) throw new Error(RESTRICTED);
    const node = nodeRuntime();
    if ('error' in node) throw new Error(node.error);
    return new vscode.DebugAdapterExecutable(node.path, [path.join(this.extensionPath, 'dist', 'debug-adapter.js')], { cwd: this.extensionPath, env: backendEnv() });
  }
}

/**
 * The environment for vmscope's processes (adapter, CLI): VMSCOPE_UNICORN from
 * the vmscope.unicornPath setting when it is set. The .vsix does not ship
 * Unicorn (GPL); see docs/backends.md.
 */
export function backendEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const unicorn = vscode.workspace.getConfiguration('vmscope').get<string>('unicornPath', '');
  if (unicorn) env.VMSCOPE_UNICORN = unicorn;
  return env;
}
