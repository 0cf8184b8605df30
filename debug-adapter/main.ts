// Entry point of the vmscope debug adapter: DAP over stdio.
import { DebugSession } from '@vscode/debugadapter';
import { VmscopeSession } from './session';

DebugSession.run(VmscopeSession);
