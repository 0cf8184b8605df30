// Diagnostics: parseSpec's findings as LSP diagnostics, published per document version after a short pause in typing.

import type { Connection, Diagnostic } from 'vscode-languageserver/node';
import { DiagnosticSeverity } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { SpecDiagnostic } from '../vmspec/types';
import type { ParseCache } from './documents';

const DEBOUNCE_MS = 150;

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

export function toLspDiagnostic(uri: string, d: SpecDiagnostic): Diagnostic {
  const out: Diagnostic = { range: d.range, severity: SEVERITY[d.severity], code: d.code, source: 'vmscope', message: d.message };
  if (d.related && d.related.length > 0) {
    out.relatedInformation = d.related.map((r) => ({ location: { uri, range: r.range }, message: r.message }));
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

  private publish(doc: TextDocument): void {
    try {
      const parsed = this.cache.get(doc);
      const diagnostics = parsed.result.diagnostics.map((d) => toLspDiagnostic(doc.uri, d));
      void this.connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
    } catch (e) {
      this.connection.console.error(`vmscope: diagnostics failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private cancel(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
  }
}
