// The serial console: one VS Code terminal per debug session. Guest output arrives as the adapter's
// `vmscope.serial` events; keystrokes go back through its `serialInput` request.

import * as vscode from 'vscode';

/** Bare line feeds become CR LF, as a serial terminal would show them. */
export function toTerminal(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

export class SerialConsole implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly closed = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.closed.event;
  private open_ = false;
  private pending: string[] = [];
  private ended = false;
  /** The last character written, so that the end notice starts on a line of its own without a blank one. */
  private last = '\n';
  readonly terminal: vscode.Terminal;

  constructor(private readonly session: vscode.DebugSession) {
    this.terminal = vscode.window.createTerminal({ name: `vmscope serial: ${session.name}`, pty: this, iconPath: new vscode.ThemeIcon('terminal') });
  }

  open(): void {
    this.open_ = true;
    for (const t of this.pending) this.write.fire(t);
    this.pending = [];
  }

  close(): void {
    this.open_ = false;
  }

  /** Guest output. */
  output(text: string): void {
    if (text === '') return;
    this.last = text[text.length - 1]!;
    const t = toTerminal(text);
    if (this.open_) this.write.fire(t);
    else this.pending.push(t);
  }

  /** Keystrokes: to the guest's UART while the session lives. */
  handleInput(data: string): void {
    if (this.ended) return;
    this.session.customRequest('serialInput', { text: data }).then(undefined, () => undefined);
  }

  /** The session ended: say so and keep the output readable. */
  end(exitCode: number | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const lead = this.last === '\n' ? '' : '\n';
    this.output(`${lead}[vmscope: the VM ended${exitCode !== undefined ? ` with exit code ${exitCode}` : ''}]\n`);
  }

  dispose(): void {
    this.write.dispose();
    this.closed.dispose();
  }
}
