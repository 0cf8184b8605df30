// vmscope's view of its debug sessions: what the adapter said last (running, stopped and why, ended), the VM info
// the views show, and each session's serial console. Fed by a DebugAdapterTracker, polled while a guest runs.

import * as vscode from 'vscode';
import { SerialConsole } from './serial';
import { statusText, type SessionPhase, type VmInfo } from './vm-model';

interface Tracked {
  session: vscode.DebugSession;
  phase: SessionPhase;
  info?: VmInfo;
  serial?: SerialConsole;
  /** Counts the session's stops, so that a view can tell whether what it shows is from the current one. */
  stops: number;
}

/** How often the VM view and the exit timeline refresh while a guest runs. */
const POLL_MS = 1000;

export class Sessions implements vscode.Disposable {
  private readonly tracked = new Map<string, Tracked>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The active vmscope session's state or info changed. */
  readonly onDidChange = this.changed.event;
  private readonly status: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    this.status = vscode.window.createStatusBarItem('vmscope.status', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'vmscope';
    this.status.command = 'vmscope.vm.focus';
    this.subscriptions.push(
      vscode.debug.onDidStartDebugSession((s) => this.started(s)),
      vscode.debug.onDidTerminateDebugSession((s) => this.terminated(s)),
      vscode.debug.onDidChangeActiveDebugSession(() => this.refresh()),
    );
  }

  /** The session the views show: the active one if it is vmscope's, else the last vmscope session still running. */
  active(): vscode.DebugSession | undefined {
    const a = vscode.debug.activeDebugSession;
    if (a?.type === 'vmscope' && this.tracked.has(a.id)) return a;
    return [...this.tracked.values()].pop()?.session;
  }

  info(): VmInfo | undefined {
    const s = this.active();
    return s ? this.tracked.get(s.id)?.info : undefined;
  }

  /** The active session and its stop count, or undefined: what a view's contents were taken at. */
  stopKey(): string | undefined {
    const s = this.active();
    const t = s ? this.tracked.get(s.id) : undefined;
    return t && t.phase.kind === 'stopped' ? `${s!.id}#${t.stops}` : undefined;
  }

  tracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    return {
      onDidSendMessage: (m: { type?: string; event?: string; body?: Record<string, unknown> }) => {
        if (m.type !== 'event') return;
        const t = this.tracked.get(session.id) ?? this.track(session);
        const body = m.body ?? {};
        switch (m.event) {
          case 'vmscope.serial':
            this.serialOf(t).output(String(body.text ?? ''));
            return;
          case 'stopped':
            t.stops++;
            t.phase = {
              kind: 'stopped',
              thread: Number(body.threadId ?? 0),
              reason: String(body.reason ?? ''),
              description: typeof body.description === 'string' ? body.description : undefined,
              text: typeof body.text === 'string' ? body.text : undefined,
            };
            void this.poll(t);
            break;
          case 'continued':
            t.phase = { kind: 'running' };
            this.schedule();
            break;
          case 'exited':
            t.phase = { kind: 'ended', exitCode: Number(body.exitCode) };
            t.serial?.end(Number(body.exitCode));
            void this.poll(t);
            break;
          default:
            return;
        }
        this.refresh();
      },
    };
  }

  private track(session: vscode.DebugSession): Tracked {
    const t: Tracked = { session, phase: { kind: 'starting' }, stops: 0 };
    this.tracked.set(session.id, t);
    return t;
  }

  private serialOf(t: Tracked): SerialConsole {
    if (!t.serial) {
      t.serial = new SerialConsole(t.session);
      t.serial.terminal.show(true);
    }
    return t.serial;
  }

  private started(session: vscode.DebugSession): void {
    if (session.type !== 'vmscope') return;
    const t = this.tracked.get(session.id) ?? this.track(session);
    if (t.phase.kind === 'starting') t.phase = { kind: 'running' };
    if (session.configuration.serialConsole === true) this.serialOf(t);
    this.schedule();
    void this.poll(t);
    this.refresh();
  }

  private terminated(session: vscode.DebugSession): void {
    const t = this.tracked.get(session.id);
    if (!t) return;
    if (t.phase.kind !== 'ended') t.phase = { kind: 'ended' };
    t.serial?.end(undefined);
    this.tracked.delete(session.id);
    this.refresh();
  }

  /** Asks the adapter for the VM's state (vCPUs, memory map, devices, exit counts). */
  private async poll(t: Tracked): Promise<void> {
    try {
      t.info = (await t.session.customRequest('vmInfo')) as VmInfo;
      this.refresh();
    } catch {
      // The session is going away; its last info stays until it is gone.
    }
  }

  /** Polls while any vmscope guest runs, so exit counts move. */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const running = [...this.tracked.values()].filter((t) => t.phase.kind === 'running');
      if (running.length === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      for (const t of running) void this.poll(t);
    }, POLL_MS);
  }

  private refresh(): void {
    const s = this.active();
    const t = s ? this.tracked.get(s.id) : undefined;
    if (t) {
      this.status.text = `$(vm) ${statusText(t.info?.backend, t.phase)}`;
      this.status.tooltip = t.info?.spec ? `vmscope: ${t.info.spec}` : 'vmscope';
      this.status.show();
    } else {
      this.status.hide();
    }
    this.changed.fire();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.tracked.values()) t.serial?.dispose();
    this.status.dispose();
    this.changed.dispose();
    for (const d of this.subscriptions) d.dispose();
  }
}
