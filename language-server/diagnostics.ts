// Diagnostics: parseSpec's findings as LSP diagnostics, published per document version after a short pause in typing.

import type { Connection, Diagnostic } from 'vscode-languageserver/node';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { SpecDiagnostic } from '../vmspec/types';
import type { ParseCache } from './documents';
import { safeMessage } from '../vmspec/message-text';

/** How long typing must pause before diagnostics are published (the fuzz harness subtracts it from its latencies). */
export const DEBOUNCE_MS = 150;

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

export function toLspDiagnostic(uri: string, d: SpecDiagnostic): Diagnostic {
  // Messages quote the user's text; safeMessage keeps them one bounded line without control characters.
  const out: Diagnostic = { range: d.range, severity: SEVERITY[d.severity], code: d.code, source: 'vmscope', message: safeMessage(d.message) };
  if (d.related && d.related.length > 0) {
    out.relatedInformation = d.related.map((r) => ({ location: { uri, range: r.range }, message: safeMessage(r.message) }));
  }
  if (d.suggestion !== undefined) out.data = { suggestion: d.suggestion };
  return out;
}

/** Publishes diagnostics for a document once it has been quiet for DEBOUNCE_MS; a newer edit restarts the wait. */
export class DiagnosticsPublisher {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly connection: Connection,
    private readonly cache: ParseCache,
  ) {}

  schedule(doc: TextDocument): void {
    this.cancel(doc.uri);
    this.timers.set(
      doc.uri,
      setTimeout(() => {
        this.timers.delete(doc.uri);
        this.publish(doc);
      }, DEBOUNCE_MS),
    );
  }

  /** On close: drop a pending publish and clear what the editor shows. */
  clear(uri: string): void {
    this.cancel(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  /**
   * Every version gets its publish: if checking it fails, the editor is told so in place of the diagnostics of an
   * older version, which would otherwise stay on screen as if they were current.
   */
  private publish(doc: TextDocument): void {
    let diagnostics: Diagnostic[];
    try {
      const parsed = this.cache.get(doc);
      diagnostics = parsed.result.diagnostics.map((d) => toLspDiagnostic(doc.uri, d));
    } catch (e) {
      this.connection.console.error(`vmscope: diagnostics failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      const at = { line: 0, character: 0 };
      const why = safeMessage(e instanceof Error ? e.message : String(e));
      diagnostics = [{ range: { start: at, end: at }, severity: DiagnosticSeverity.Error, source: 'vmscope', code: 'internal-error',
        message: `vmscope could not check this spec (internal error: ${why}); please report it with the spec` }];
    }
    void this.connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
  }

  private cancel(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
  }
}
