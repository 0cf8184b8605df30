// Keeps the server alive on any input: every LSP handler runs through `guarded`, which turns an exception into
// the handler's empty result and a line on the client's console, instead of a dead server process.

import type { Connection } from 'vscode-languageserver/node';

export function guarded<P, R>(connection: Connection, name: string, empty: R, handler: (params: P) => R): (params: P) => R {
  return (params: P) => {
    try {
      return handler(params);
    } catch (e) {
      connection.console.error(`vmscope: ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return empty;
    }
  };
}
