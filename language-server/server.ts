// The .vmspec language server: LSP wiring only. Each feature lives in its own file and reads the per-version
// parse from ParseCache; every handler is guarded so that no input can take the server down.
// Transport (stdio, node IPC, socket) is chosen by createConnection from the command line.

import { CodeActionKind, ProposedFeatures, TextDocumentSyncKind, TextDocuments, createConnection } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { codeActions } from './actions';
import { codeLenses } from './codeLens';
import { complete } from './completion';
import { DiagnosticsPublisher } from './diagnostics';
import { ParseCache, type ParsedDocument } from './documents';
import { foldingRanges } from './folding';
import { guarded } from './guard';
import { hover } from './hover';
import { inlayHints } from './inlayHints';
import { documentLinks } from './links';
import { definition } from './definition';
import { selectionRanges } from './selection';
import { documentSymbols } from './symbols';

/** Replaced by esbuild with package.json's version (scripts/bundle.mjs). */
declare const VMSCOPE_VERSION: string | undefined;

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const cache = new ParseCache();
const diagnostics = new DiagnosticsPublisher(connection, cache);

/** The cached parse of an open document, or undefined for one the client never opened. */
const parsed = (uri: string): ParsedDocument | undefined => {
  const doc = documents.get(uri);
  return doc ? cache.get(doc) : undefined;
};

connection.onInitialize(() => ({
  capabilities: {
    textDocumentSync: TextDocumentSyncKind.Incremental,
    hoverProvider: true,
    completionProvider: { triggerCharacters: [':', ' ', '[', ','] },
    codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite] },
    documentSymbolProvider: true,
    inlayHintProvider: true,
    foldingRangeProvider: true,
    codeLensProvider: { resolveProvider: false },
    documentLinkProvider: { resolveProvider: false },
    definitionProvider: true,
    selectionRangeProvider: true,
  },
  serverInfo: { name: 'vmscope', version: typeof VMSCOPE_VERSION === 'string' ? VMSCOPE_VERSION : 'dev' },
}));

documents.onDidOpen(guarded(connection, 'open', undefined, (e) => diagnostics.schedule(e.document)));
documents.onDidChangeContent(guarded(connection, 'change', undefined, (e) => diagnostics.schedule(e.document)));
documents.onDidClose(
  guarded(connection, 'close', undefined, (e) => {
    cache.delete(e.document.uri);
    diagnostics.clear(e.document.uri);
  }),
);

connection.onHover(guarded(connection, 'hover', null, (p) => { const d = parsed(p.textDocument.uri); return d ? hover(d, p.position) : null; }));
connection.onCompletion(guarded(connection, 'completion', [], (p) => { const d = parsed(p.textDocument.uri); return d ? complete(d, p.position) : []; }));
connection.onCodeAction(guarded(connection, 'codeAction', [], (p) => { const d = parsed(p.textDocument.uri); return d ? codeActions(d, p) : []; }));
connection.onDocumentSymbol(guarded(connection, 'documentSymbol', [], (p) => { const d = parsed(p.textDocument.uri); return d ? documentSymbols(d) : []; }));
connection.languages.inlayHint.on(guarded(connection, 'inlayHint', [], (p) => { const d = parsed(p.textDocument.uri); return d ? inlayHints(d, p.range) : []; }));
connection.onFoldingRanges(guarded(connection, 'foldingRange', [], (p) => { const d = parsed(p.textDocument.uri); return d ? foldingRanges(d) : []; }));
connection.onDocumentLinks(guarded(connection, 'documentLink', [], (p) => { const d = parsed(p.textDocument.uri); return d ? documentLinks(d) : []; }));
connection.onDefinition(guarded(connection, 'definition', null, (p) => { const d = parsed(p.textDocument.uri); return d ? definition(d, p.position) : null; }));
connection.onSelectionRanges(guarded(connection, 'selectionRange', [], (p) => { const d = parsed(p.textDocument.uri); return d ? selectionRanges(d, p.positions) : []; }));
connection.onCodeLens(guarded(connection, 'codeLens', [], (p) => (documents.get(p.textDocument.uri) ? codeLenses(p.textDocument.uri) : [])));

// A bug in a handler must not end the process; log it and keep serving.
process.on('uncaughtException', (e) => connection.console.error(`vmscope: uncaught: ${e.stack ?? e.message}`));

documents.listen(connection);
connection.listen();
