// Code lenses at the top of a spec: run it, or debug it. The commands belong to the extension.

import type { CodeLens } from 'vscode-languageserver/node';

export function codeLenses(uri: string): CodeLens[] {
  const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return [
    { range, command: { title: '$(play) Run VM', command: 'vmscope.runVm', arguments: [uri] } },
    { range, command: { title: '$(debug-alt) Debug VM', command: 'vmscope.debugVm', arguments: [uri] } },
  ];
}
