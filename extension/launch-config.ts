// How a vmscope launch configuration is completed before a debug session starts: F5 on an open spec with no
// launch.json, the user's settings as defaults, paths made absolute. Pure (no vscode import), unit-tested.

import * as path from 'node:path';
import { GDB_ADDRESS_FORMS, parseGdbAddress } from '../common/gdb-address';

/** The extension's settings that feed a launch (see contributes.configuration in package.json). */
export interface VmscopeSettings {
  breakOnExit: string[];
  serialConsole: boolean;
  /** Extra symbol files, relative to the workspace folder or absolute. */
  symbols: string[];
  traceBufferSize: number;
}

export const DEFAULT_SETTINGS: VmscopeSettings = { breakOnExit: [], serialConsole: true, symbols: [], traceBufferSize: 4096 };

/** The launch attributes the adapter takes (debug-adapter/session.ts LaunchArguments), as the client sees them. */
export interface VmscopeLaunch {
  type: 'vmscope';
  request: 'launch';
  name: string;
  spec: string;
  stopOnEntry?: boolean;
  image?: string;
  memory?: string | number;
  symbols?: string[];
  msrs?: Array<string | number>;
  timeout?: number;
  disassemblySyntax?: 'intel' | 'gas';
  breakOnExit?: string[];
  traceBufferSize?: number;
  serialConsole?: boolean;
  /** Serve gdb's remote protocol on the session's VM: `[host:]port` or a port. */
  gdbServer?: string | number;
  [key: string]: unknown;
}

export interface ResolveContext {
  /** The file of the active editor, if any. */
  activeFile?: string | undefined;
  /** The workspace folder the configuration belongs to (or the first one). */
  folder?: string | undefined;
  /** Specs found in the workspace, for F5 with no spec open. */
  workspaceSpecs?: readonly string[];
  settings: VmscopeSettings;
  /** Whether the workspace is trusted; in Restricted Mode nothing may listen for gdb (false refuses gdbServer). */
  trusted?: boolean;
}

export type Resolution =
  | { kind: 'launch'; config: VmscopeLaunch }
  /** Several specs and none open: the user picks one, then resolveLaunch runs again with it active. */
  | { kind: 'pick'; specs: string[] }
  | { kind: 'error'; message: string };

export function isSpecFile(file: string | undefined): file is string {
  return file !== undefined && /\.vmspec(\.yaml)?$/i.test(file);
}

/**
 * Completes `config` (possibly empty: F5 with no launch.json) into what the adapter gets. Returns an error the user
 * can act on rather than a configuration the adapter would reject.
 */
export function resolveLaunch(config: Record<string, unknown>, ctx: ResolveContext): Resolution {
  const empty = config.type === undefined && config.request === undefined && config.name === undefined;
  let spec = typeof config.spec === 'string' && config.spec !== '' ? config.spec : undefined;
  if (spec === undefined) {
    if (!empty && config.spec !== undefined) return { kind: 'error', message: 'the launch attribute "spec" must be the path of a .vmspec file' };
    if (isSpecFile(ctx.activeFile)) spec = ctx.activeFile;
    else if (ctx.workspaceSpecs?.length === 1) spec = ctx.workspaceSpecs[0];
    else if (ctx.workspaceSpecs && ctx.workspaceSpecs.length > 1) return { kind: 'pick', specs: [...ctx.workspaceSpecs] };
    else return { kind: 'error', message: 'open a .vmspec file (or add "spec" to the vmscope launch configuration) to debug a VM' };
  }
  if (spec.includes('${')) return { kind: 'error', message: `"spec" is ${spec}: a variable VS Code could not substitute (is a .vmspec file the active editor?)` };
  if (!path.isAbsolute(spec)) spec = path.resolve(ctx.folder ?? process.cwd(), spec);
  if (!isSpecFile(spec)) return { kind: 'error', message: `"spec" is ${spec}, which is not a .vmspec file` };
  if (config.gdbServer !== undefined) {
    // Whoever reaches the stub controls the VM: never from an untrusted workspace's launch.json.
    if (ctx.trusted === false) return { kind: 'error', message: 'the launch attribute "gdbServer" is refused in Restricted Mode: trust this workspace to serve gdb' };
    const at = typeof config.gdbServer === 'string' || typeof config.gdbServer === 'number' ? parseGdbAddress(config.gdbServer) : undefined;
    if (!at) return { kind: 'error', message: `the launch attribute "gdbServer" is ${JSON.stringify(config.gdbServer)}: give ${GDB_ADDRESS_FORMS}` };
  }

  const s = ctx.settings;
  const fromSettings = s.symbols.map((p) => (path.isAbsolute(p) ? p : path.resolve(ctx.folder ?? path.dirname(spec), p)));
  const own = Array.isArray(config.symbols) ? config.symbols.filter((x): x is string => typeof x === 'string') : [];
  const out: VmscopeLaunch = {
    ...config,
    type: 'vmscope',
    request: 'launch',
    name: typeof config.name === 'string' && config.name !== '' ? config.name : `Debug ${path.basename(spec)}`,
    spec,
    stopOnEntry: typeof config.stopOnEntry === 'boolean' ? config.stopOnEntry : true,
    breakOnExit: Array.isArray(config.breakOnExit) ? config.breakOnExit.map(String) : [...s.breakOnExit],
    serialConsole: typeof config.serialConsole === 'boolean' ? config.serialConsole : s.serialConsole,
    traceBufferSize: typeof config.traceBufferSize === 'number' ? config.traceBufferSize : s.traceBufferSize,
  };
  const symbols = [...fromSettings, ...own.filter((p) => !fromSettings.includes(p))];
  if (symbols.length) out.symbols = symbols;
  else delete out.symbols;
  return { kind: 'launch', config: out };
}

/** Which node runs the debug adapter: a setting, else this process when it is plain Node, else `node` on PATH. */
export function adapterRuntime(opts: {
  setting: string | undefined;
  electron: string | undefined;
  execPath: string;
  findOnPath: (name: string) => string | undefined;
}): { path: string } | { error: string } {
  if (opts.setting) return { path: opts.setting };
  // Electron's V8 sandbox refuses the external ArrayBuffers that map guest memory, so the adapter needs plain Node.
  if (!opts.electron) return { path: opts.execPath };
  const found = opts.findOnPath('node');
  if (found) return { path: found };
  return {
    error: 'vmscope needs Node.js 20 or later to run its debug adapter and found no `node` on PATH: install Node.js, or set "vmscope.nodePath" to its path',
  };
}
