// What the gdb tests share: a free port, `vmscope run --gdb … --gdb-wait`
// as a child process, Debian's gdb in batch mode (a script file or -ex
// commands), and a raw protocol client for what gdb never sends.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CLI, ROOT } from './kvm';
import { encodePacket } from '../gdb-stub/packets';
import { scratchDir } from './scratch';

/** A symbol's address from the guest's ELF (relative to the repository), as nm prints it, 0x hex. */
export function symbol(elf: string, name: string): string {
  const line = execFileSync('nm', [path.join(ROOT, elf)], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.endsWith(` ${name}`));
  if (!line) throw new Error(`no symbol ${name} in ${elf}`);
  return '0x' + BigInt('0x' + line.split(' ')[0]).toString(16);
}

export const GDB = '/usr/bin/gdb';
/** Why the gdb tests skip, when they do. */
export const NO_GDB = fs.existsSync(GDB) ? undefined : `${GDB} is not installed`;

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export interface Vm {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `vmscope run --gdb 127.0.0.1:port --gdb-wait` (plus `extra` arguments) and resolves once the stub listens. */
export async function startVm(port: number, spec = 'examples/hello/hello.vmspec', extra: string[] = []): Promise<Vm> {
  const child = spawn(process.execPath, [CLI, 'run', '--gdb', `127.0.0.1:${port}`, '--gdb-wait', '--timeout', '50', ...extra, spec], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!err.includes('gdb stub listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the stub did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stdout: () => out, stderr: () => err, exited };
}

function gdb(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(GDB, ['-nx', '-batch', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A gdb script for the stub on `port`: no paging or confirmation, the ELF's symbols when given, `target remote`, then `commands`. */
export function gdbScript(port: number, commands: string[], elf?: string): string {
  return ['set pagination off', 'set confirm off', ...(elf ? [`file ${elf}`] : []), `target remote 127.0.0.1:${port}`, ...commands, ''].join('\n');
}

/** gdb -batch -x on a script file. */
export function runGdb(script: string): Promise<{ code: number | null; output: string }> {
  const file = path.join(scratchDir('vmscope-gdb-'), 'session.gdb');
  fs.writeFileSync(file, script);
  return gdb(['-x', file]);
}

/** gdb -batch with each command as an -ex argument. */
export function gdbCommands(commands: string[]): Promise<{ code: number | null; output: string }> {
  return gdb(commands.flatMap((c) => ['-ex', c]));
}

/** A raw protocol client: sends bytes, reads until a pattern shows. */
export class RawClient {
  private buf = '';
  constructor(readonly socket: net.Socket) {
    socket.on('data', (b) => (this.buf += b.toString('latin1')));
  }
  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }
  async expect(re: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m.index + m[0].length);
        return m;
      }
      if (Date.now() > deadline) throw new Error(`no ${re} in ${JSON.stringify(this.buf)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  send(data: string | Buffer): void {
    this.socket.write(data);
  }
  /** Sends one packet, framed and checksummed. */
  packet(data: string): void {
    this.socket.write(encodePacket(data));
  }
}
