// Entry point of the vmscope debug adapter: DAP over stdio.
import { DebugSession } from '@vscode/debugadapter';
import { VmscopeSession } from './session';

// A bug in vmscope must not take the session down silently: say what broke
// (VS Code shows the adapter's stderr in its log) and keep serving.
process.on('uncaughtException', (e) => process.stderr.write(`vmscope debug adapter: ${e.stack ?? e.message}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`vmscope debug adapter: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));

DebugSession.run(VmscopeSession);
