// The views in the Run and Debug container: the VM tree, the address translation picture and the exit timeline.

import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { Sessions } from './sessions';
import { vmTree, type VmNode } from './vm-model';
import { page, timeline, timelineBody, translationBody, type TraceExit, type TranslationJson } from './webview-html';

export class VmTreeProvider implements vscode.TreeDataProvider<VmNode> {
  private readonly changed = new vscode.EventEmitter<VmNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly sessions: Sessions) {
    sessions.onDidChange(() => this.changed.fire(undefined));
  }

  getTreeItem(n: VmNode): vscode.TreeItem {
    const state = n.children?.length
      ? n.expanded
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed
      : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(n.label, state);
    item.id = n.id;
    item.description = n.description;
    item.tooltip = n.tooltip ?? (n.description ? `${n.label}: ${n.description}` : n.label);
    if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon);
    return item;
  }

  getChildren(n?: VmNode): VmNode[] {
    if (n) return n.children ?? [];
    const info = this.sessions.info();
    return info ? vmTree(info) : [];
  }
}

function nonce(): string {
  return crypto.randomBytes(16).toString('base64');
}

/** A webview view whose whole page is re-rendered from a body; no scripts run in it. */
abstract class HtmlView implements vscode.WebviewViewProvider {
  protected view: vscode.WebviewView | undefined;

  constructor(private readonly title: string) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: false, localResourceRoots: [] };
    view.onDidChangeVisibility(() => {
      if (view.visible) void this.render();
    });
    view.onDidDispose(() => (this.view = undefined));
    void this.render();
  }

  protected abstract body(): Promise<string> | string;

  async render(): Promise<void> {
    const v = this.view;
    if (!v || !v.visible) return;
    const body = await this.body();
    v.webview.html = page(this.title, body, v.webview.cspSource, nonce());
  }
}

export class TranslationView extends HtmlView {
  private last: { expression: string; vcpu: number; walk: TranslationJson; at: string | undefined } | undefined;
  private shownStale = false;

  constructor(private readonly sessions: Sessions) {
    super('Address Translation');
    sessions.onDidChange(() => {
      // A walk belongs to one stop of one session: marked once the guest moves on, dropped when the session ends.
      if (this.last && !this.sessions.active()) this.last = undefined;
      const stale = this.last !== undefined && this.last.at !== this.sessions.stopKey();
      if (stale !== this.shownStale || !this.last) void this.render();
    });
  }

  show(expression: string, vcpu: number, walk: TranslationJson): void {
    this.last = { expression, vcpu, walk, at: this.sessions.stopKey() };
    void this.render();
  }

  protected body(): string {
    this.shownStale = this.last !== undefined && this.last.at !== this.sessions.stopKey();
    if (this.last && this.shownStale) {
      return (
        `<p class="error">This walk was taken at an earlier stop; the guest has run since. Translate again for the current page tables.</p>` +
        translationBody(this.last.expression, this.last.vcpu, this.last.walk)
      );
    }
    if (!this.last) {
      return '<p class="muted">Stop a vCPU, then run <b>vmscope: Translate Address…</b> (or evaluate <code>translate &lt;expr&gt;</code> in the Debug Console) to see the walk from a guest-virtual address to the host page.</p>';
    }
    return translationBody(this.last.expression, this.last.vcpu, this.last.walk);
  }
}

export class ExitTimelineView extends HtmlView {
  private busy = false;
  private lastAt = 0;

  constructor(private readonly sessions: Sessions) {
    super('VM Exits');
    sessions.onDidChange(() => {
      // At most once a second: the trace is up to 64 Ki entries per request.
      if (Date.now() - this.lastAt >= 900) void this.render();
    });
  }

  protected async body(): Promise<string> {
    const s = this.sessions.active();
    if (!s) return '<p class="muted">Start a vmscope debug session to see its VM exits over time.</p>';
    if (this.busy) return this.view?.webview.html ?? '';
    this.busy = true;
    this.lastAt = Date.now();
    try {
      const r = (await s.customRequest('exitTrace', { max: 65536 })) as { counts: Record<string, number>; exits: TraceExit[] };
      return timelineBody(timeline(r.exits), r.counts, r.exits.length);
    } catch (e) {
      return `<p class="muted">No exit trace: ${e instanceof Error ? e.message.replace(/[<>&]/g, '') : 'the session ended'}</p>`;
    } finally {
      this.busy = false;
    }
  }
}
