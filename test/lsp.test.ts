// Protocol-level tests of the .vmspec language server: spawns the bundled dist/language-server.js over stdio
// and drives it with JSON-RPC exactly as an editor does. Assumes the bundle is built (`npm test` builds first).

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { type MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { thisHost } from '../vmspec/host-checks';
import { bzImage } from '../formats/boot-fixtures';
import { scratchDir } from './scratch';

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER = path.join(ROOT, 'dist', 'language-server.js');
/** Why /dev/kvm cannot be used here, and why the emulator cannot, as the server will see them (undefined where they can). */
const { kvmProblem: KVM_PROBLEM, emulatorProblem: EMU_PROBLEM } = thisHost();

interface Pos { line: number; character: number }
interface Range { start: Pos; end: Pos }
interface Diagnostic { range: Range; severity?: number; code?: string | number; source?: string; message: string; relatedInformation?: unknown[] }
interface TextEdit { range: Range; newText: string }
interface CodeAction { title: string; kind?: string; diagnostics?: Diagnostic[]; edit?: { changes?: Record<string, TextEdit[]> } }
interface CompletionItem { label: string; textEdit?: TextEdit; insertText?: string }
interface DocumentSymbol { name: string; detail?: string; range: Range; selectionRange: Range; children?: DocumentSymbol[] }
interface InlayHint { position: Pos; label: string }

class Client {
  readonly proc: ChildProcess;
  readonly rpc: MessageConnection;
  exited = false;
  stderr = '';
  /** Errors the server logged (a guarded handler that threw logs here instead of crashing). */
  readonly logged: string[] = [];
  private readonly published = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
  private readonly waiters: (() => void)[] = [];
  private readonly versions = new Map<string, number>();

  constructor() {
    this.proc = spawn(process.execPath, [SERVER, '--stdio'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.on('exit', () => (this.exited = true));
    this.proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.rpc = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.rpc.onNotification('textDocument/publishDiagnostics', (p: { uri: string; version?: number; diagnostics: Diagnostic[] }) => {
      this.published.set(p.uri, { diagnostics: p.diagnostics, ...(p.version !== undefined ? { version: p.version } : {}) });
      for (const w of this.waiters.splice(0)) w();
    });
    this.rpc.onNotification('window/logMessage', (p: { type: number; message: string }) => {
      if (p.type === 1) this.logged.push(p.message);
    });
    this.rpc.onRequest(() => null);
    this.rpc.listen();
  }

  async initialize(): Promise<{ capabilities: Record<string, unknown> }> {
    const result = await this.rpc.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { publishDiagnostics: { relatedInformation: true, versionSupport: true } } },
    });
    await this.rpc.sendNotification('initialized', {});
    return result;
  }

  async open(uri: string, text: string): Promise<void> {
    this.versions.set(uri, 1);
    await this.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'vmspec', version: 1, text } });
  }

  /** Replaces the whole text; returns the new version. */
  async change(uri: string, text: string): Promise<number> {
    const version = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, version);
    await this.rpc.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
    return version;
  }

  version(uri: string): number {
    return this.versions.get(uri) ?? 0;
  }

  /**
   * The diagnostics published for exactly this version of the document. On a
   * host where /dev/kvm cannot be used, every spec also gets the host-kvm
   * diagnostic; it is checked on its own (see its test) and left out here, so
   * that the other tests read the same on every host.
   */
  async diagnostics(uri: string, version = this.version(uri), timeoutMs = 5000): Promise<Diagnostic[]> {
    const all = await this.allDiagnostics(uri, version, timeoutMs);
    return KVM_PROBLEM ? all.filter((d) => d.code !== 'host-kvm') : all;
  }

  async allDiagnostics(uri: string, version = this.version(uri), timeoutMs = 5000): Promise<Diagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.published.get(uri);
      if (p && p.version === version) return p.diagnostics;
      if (Date.now() > deadline) throw new Error(`no diagnostics for ${uri} version ${version} (last: ${JSON.stringify(p?.version)})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.rpc.sendRequest<R>(method, params);
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      await this.rpc.sendRequest('shutdown');
      await this.rpc.sendNotification('exit');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    }
    this.rpc.dispose();
    if (!this.exited) this.proc.kill();
  }
}

const at = (line: number, character: number): Pos => ({ line, character });
const range = (sl: number, sc: number, el: number, ec: number): Range => ({ start: at(sl, sc), end: at(el, ec) });
const doc = (uri: string) => ({ textDocument: { uri } });
const hoverText = (h: { contents: { value: string } } | null) => h?.contents.value ?? '';

/** Applies non-overlapping edits to text (as an editor applies a WorkspaceEdit). */
function applyEdits(text: string, edits: TextEdit[]): string {
  const lines = text.split('\n');
  const offset = (p: Pos) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  for (const e of sorted) text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  return text;
}

const VALID = `name: demo
memory: 16777216
vcpus: 1
boot:
  image: build/guest.elf
  format: elf
  mode: long
regions:
  - name: mmio0
    gpa: 0xd0000000
    size: 4KiB
    kind: mmio
devices:
  serial: { port: 0x3f8 }
  debug-exit: { port: 0xf4 }
`;

// Timeouts so that a server that dies or never answers fails the run instead of hanging it.
describe('vmspec language server over stdio', { timeout: 60_000 }, () => {
  test('image checks: a missing image and an unknown entry symbol, with its quick fix', async () => {
    const uri = fresh();
    await client.open(uri, VALID.replace('build/guest.elf', 'build/missing.elf'));
    const [missing] = await client.diagnostics(uri, 1);
    assert.equal(missing?.code, 'image-missing');
    assert.deepEqual(missing?.range.start, { line: 4, character: 9 });
    const withSymbol = VALID.replace('  mode: long\n', '  mode: long\n  entry: uart_putz\n');
    const v = await client.change(uri, withSymbol);
    const [unknown] = await client.diagnostics(uri, v);
    assert.equal(unknown?.code, 'unknown-symbol');
    assert.match(unknown!.message, /no symbol "uart_putz" \(did you mean "uart_put[cs]"\?\)/);
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { ...doc(uri), range: unknown!.range, context: { diagnostics: [unknown] } });
    const fixed = applyEdits(withSymbol, actions[0]!.edit!.changes![uri]!);
    const v2 = await client.change(uri, fixed);
    assert.deepEqual(await client.diagnostics(uri, v2), []);
  });

  let client: Client;
  let n = 0;
  // The specs live next to a build/guest.elf (the hello example, built from source by `npm test`),
  // so that the checks that read the image find it.
  const dir = scratchDir('vmscope-lsp-');
  fs.mkdirSync(path.join(dir, 'build'));
  fs.copyFileSync(path.join(ROOT, 'examples', 'hello', 'build', 'hello.elf'), path.join(dir, 'build', 'guest.elf'));
  const fresh = () => pathToFileURL(path.join(dir, `spec${++n}.vmspec`)).href;

  before(async () => {
    client = new Client();
    const init = await client.initialize();
    for (const cap of ['hoverProvider', 'completionProvider', 'codeActionProvider', 'documentSymbolProvider', 'inlayHintProvider', 'foldingRangeProvider', 'codeLensProvider']) {
      assert.ok(init.capabilities[cap], `server offers ${cap}`);
    }
  }, { timeout: 10_000 });
  after(async () => {
    await client.stop();
  });

  test('protocol kernels: header, boot-file and symbol checks, completion of the new formats, hover on the new keys', async () => {
    fs.writeFileSync(path.join(dir, 'not-multiboot.bin'), new Uint8Array(0x4000));
    fs.writeFileSync(path.join(dir, 'System.map'), 'ffffffffffffffff B The real System.map is in the linux-image-6.1.0-18-cloud-amd64-dbg package\n');
    fs.writeFileSync(path.join(dir, 'bzImage'), bzImage(new Uint8Array(0x1000), { version: 0x020a }));
    const uri = fresh();
    await client.open(uri, 'name: mb\nboot:\n  image: not-multiboot.bin\n  format: multiboot\n  modules: [gone.bin]\n');
    const mb = await client.diagnostics(uri, 1);
    assert.deepEqual(mb.map((d) => [d.code, d.range.start.line, d.range.start.character]), [['multiboot-header', 3, 10], ['boot-file-missing', 4, 12]]);
    assert.match(mb[0]!.message, /no Multiboot header/);
    const v = await client.change(uri, 'name: l\nboot:\n  image: bzImage\n  format: linux\n  symbols: System.map\n  mode: long\n');
    const linux = await client.diagnostics(uri, v);
    // LSP severities: 1 error, 2 warning.
    assert.deepEqual(linux.map((d) => `${d.code}:${d.severity}`).sort(), ['bzimage-header:1', 'ignored-key:2', 'symbols-placeholder:2']);
    assert.match(linux.find((d) => d.code === 'bzimage-header')!.message, /protocol 2\.10 is too old/);
    assert.match(linux.find((d) => d.code === 'symbols-placeholder')!.message, /-dbg package.*vmlinux/);

    await client.change(uri, 'name: x\nboot:\n  image: a\n  format: \n');
    const formats = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(3, 10) })).map((i) => i.label);
    assert.deepEqual([...formats].sort(), ['elf', 'firmware', 'flat', 'linux', 'multiboot']);
    await client.change(uri, 'name: x\nboot:\n  image: a\n  \n');
    const keys = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(3, 2) })).map((i) => i.label);
    for (const k of ['cmdline', 'initrd', 'modules', 'symbols']) assert.ok(keys.includes(k), keys.join());
    await client.change(uri, 'name: x\nplatform: pc\nboot:\n  image: a\n  initrd: i.img\n');
    const initrd = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(4, 3) }));
    assert.match(initrd, /initial RAM disk/);
    assert.match(initrd, /initrd_addr_max/);
    const platform = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(1, 2) }));
    assert.match(platform, /`pc` when `boot\.format` is `linux`, `multiboot` or `firmware`/);
  });

  test('a valid spec has no diagnostics', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    assert.deepEqual(await client.diagnostics(uri, 1), []);
  });

  test('a host without a usable /dev/kvm gets exactly one host-kvm diagnostic that says why, information when the emulator can run the spec', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const host = (await client.allDiagnostics(uri, 1)).filter((d) => d.code === 'host-kvm');
    if (!KVM_PROBLEM) return assert.deepEqual(host, []);
    assert.equal(host.length, 1, JSON.stringify(host));
    assert.ok(host[0]!.message.includes(KVM_PROBLEM), host[0]!.message);
    // Information where the emulator runs the spec instead (LSP severity 3), an error where nothing can (1).
    assert.equal(host[0]!.severity, EMU_PROBLEM ? 1 : 3, host[0]!.message);
  });

  test('unknown key: exact range, code, did-you-mean, and a quick fix that removes it', async () => {
    const uri = fresh();
    const text = VALID.replace('memory: 16777216', 'memroy: 16777216');
    await client.open(uri, text);
    const diags = await client.diagnostics(uri, 1);
    const d = diags.find((x) => x.code === 'unknown-key');
    assert.ok(d, JSON.stringify(diags));
    assert.deepEqual(d.range, range(1, 0, 1, 6));
    assert.equal(d.source, 'vmscope');
    assert.equal(d.severity, 1);
    assert.match(d.message, /did you mean "memory"/);

    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { ...doc(uri), range: d.range, context: { diagnostics: [d] } });
    const fix = actions.find((a) => a.title.includes('"memory"'));
    assert.ok(fix?.edit?.changes?.[uri], JSON.stringify(actions));
    const fixed = applyEdits(text, fix.edit.changes[uri]);
    assert.equal(fixed, VALID);
    const v = await client.change(uri, fixed);
    assert.deepEqual(await client.diagnostics(uri, v), []);
  });

  test('bad size: ambiguous unit, with a binary-unit quick fix', async () => {
    const uri = fresh();
    const text = VALID.replace('memory: 16777216', 'memory: 16MB');
    await client.open(uri, text);
    const d = (await client.diagnostics(uri, 1)).find((x) => x.code === 'bad-size');
    assert.ok(d);
    assert.deepEqual(d.range, range(1, 8, 1, 12));
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { ...doc(uri), range: d.range, context: { diagnostics: [d] } });
    const fix = actions.find((a) => a.edit?.changes?.[uri]?.[0]?.newText === '16MiB');
    assert.ok(fix, JSON.stringify(actions));
    const v = await client.change(uri, applyEdits(text, fix.edit!.changes![uri]!));
    assert.deepEqual(await client.diagnostics(uri, v), []);
  });

  test('misaligned memory: "align up to 4 KiB" quick fix', async () => {
    const uri = fresh();
    const text = VALID.replace('memory: 16777216', 'memory: 16777217');
    await client.open(uri, text);
    const d = (await client.diagnostics(uri, 1)).find((x) => x.code === 'misaligned');
    assert.ok(d);
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { ...doc(uri), range: d.range, context: { diagnostics: [d] } });
    const fix = actions.find((a) => /Align up to 4 KiB/.test(a.title));
    assert.ok(fix, JSON.stringify(actions));
    const v = await client.change(uri, applyEdits(text, fix.edit!.changes![uri]!));
    assert.deepEqual(await client.diagnostics(uri, v), []);
  });

  test('missing required key', async () => {
    const uri = fresh();
    await client.open(uri, VALID.replace('name: demo\n', ''));
    const d = (await client.diagnostics(uri, 1)).find((x) => x.code === 'missing-key');
    assert.ok(d);
    assert.match(d.message, /"name"/);
  });

  test('YAML syntax error', async () => {
    const uri = fresh();
    await client.open(uri, VALID.replace('devices:\n', 'devices: [\n'));
    const diags = await client.diagnostics(uri, 1);
    assert.ok(diags.some((x) => x.code === 'yaml-syntax'), JSON.stringify(diags));
  });

  test('region overlap carries related information', async () => {
    const uri = fresh();
    await client.open(uri, VALID.replace('gpa: 0xd0000000', 'gpa: 0x1000'));
    const d = (await client.diagnostics(uri, 1)).find((x) => x.code === 'region-overlap');
    assert.ok(d?.relatedInformation && d.relatedInformation.length > 0, JSON.stringify(d));
  });

  test('an unsaved edit introduces then fixes an error', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    assert.deepEqual(await client.diagnostics(uri, 1), []);
    const broken = await client.change(uri, VALID.replace('mode: long', 'mode: lung'));
    const diags = await client.diagnostics(uri, broken);
    const d = diags.find((x) => x.code === 'unknown-value');
    assert.ok(d, JSON.stringify(diags));
    assert.deepEqual(d.range, range(6, 8, 6, 12));
    assert.match(d.message, /did you mean "long"/);
    const fixed = await client.change(uri, VALID);
    assert.deepEqual(await client.diagnostics(uri, fixed), []);
  });

  test('rapid edits are debounced to the last version', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    for (let i = 0; i < 5; i++) await client.change(uri, VALID.replace('vcpus: 1', `vcpus: ${i === 4 ? 0 : 1}`));
    const diags = await client.diagnostics(uri, client.version(uri));
    assert.ok(diags.some((x) => x.code === 'out-of-range'));
  });

  test('hover on a key shows its schema documentation', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const h = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(6, 3) }));
    assert.match(h, /boot\.mode/);
    assert.match(h, /CPU mode/);
    assert.match(h, /Default: `long`/);
    assert.match(h, /`protected`/);
  });

  test('hover on a size value shows hex, decimal and units', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const h = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(1, 10) }));
    assert.match(h, /0x1000000/);
    assert.match(h, /16777216/);
    assert.match(h, /16 MiB/);
    const g = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(9, 12) }));
    assert.match(g, /3\.25 GiB/);
  });

  test('hover on an address names its region and page; on the image, what the file holds; the image path is a link', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const g = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(9, 12) }));
    assert.match(g, /region \*\*mmio0\*\* \(mmio\), offset `0x0`/);
    assert.match(g, /`0xd0000` \(4 KiB page number\)/);
    const img = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(4, 14) }));
    assert.match(img, /ELF64, \d+ bytes/);
    assert.match(img, /Entry point `0x100000` \(`_start`\)/);
    assert.match(img, /\| `0x100000\.\.0x10[0-9a-f]+` \|/);
    const links = await client.request<Array<{ target: string; range: { start: Pos } }>>('textDocument/documentLink', doc(uri));
    assert.equal(links.length, 1);
    assert.match(links[0]!.target, /^file:\/\/.*\/build\/guest\.elf$/);
    assert.deepEqual(links[0]!.range.start, { line: 4, character: 9 });
  });

  test('completion of image paths next to the spec and of the image\'s functions for entry', async () => {
    const uri = fresh();
    const text = VALID.replace('  mode: long\n', '  mode: long\n  entry: ua\n');
    await client.open(uri, text.replace('image: build/guest.elf', 'image: build/'));
    const files = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(4, 15) })).map((i) => i.label);
    assert.ok(files.includes('build/guest.elf'), JSON.stringify(files));
    const v = await client.change(uri, text);
    await client.diagnostics(uri, v);
    const syms = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(7, 11) })).map((i) => i.label);
    for (const f of ['uart_puts', 'uart_putc', 'main', '_start']) assert.ok(syms.includes(f), `${f} in ${JSON.stringify(syms)}`);
  });

  test('completion inside flow mappings: keys not yet written, and enum values', async () => {
    const uri = fresh();
    const blockRegion = 'regions:\n  - name: mmio0\n    gpa: 0xd0000000\n    size: 4KiB\n    kind: mmio\n';
    await client.open(uri, VALID.replace(blockRegion, 'regions:\n  - { name: mmio0, gpa: 0xd0000000, k\n'));
    const keys = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(8, 37) })).map((i) => i.label);
    assert.ok(keys.includes('kind') && keys.includes('size'), JSON.stringify(keys));
    assert.ok(!keys.includes('name') && !keys.includes('gpa'), 'keys already written are left out');
    await client.change(uri, VALID.replace(blockRegion, 'regions:\n  - { name: mmio0, gpa: 0xd0000000, size: 4KiB, kind: m\n'));
    const values = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(8, 56) })).map((i) => i.label);
    assert.deepEqual(values.sort(), ['mmio', 'ram', 'rom']);
  });

  test('a size written in bytes can be rewritten with units', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { ...doc(uri), range: { start: at(1, 10), end: at(1, 10) }, context: { diagnostics: [] } });
    const rewrite = actions.find((a) => a.title === 'Write as 16MiB');
    assert.ok(rewrite, JSON.stringify(actions.map((a) => a.title)));
    const next = applyEdits(VALID, rewrite.edit!.changes![uri]!);
    assert.match(next, /^memory: 16MiB$/m);
    const v = await client.change(uri, next);
    assert.deepEqual(await client.diagnostics(uri, v), []);
  });

  test('selection ranges grow from a value to its entry, its parent entries and the document', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    type Sel = { range: { start: Pos; end: Pos }; parent?: Sel };
    const [sel] = await client.request<Sel[]>('textDocument/selectionRange', { ...doc(uri), positions: [at(9, 12)] });
    const chain: Array<{ start: Pos; end: Pos }> = [];
    for (let s: Sel | undefined = sel; s; s = s.parent) chain.push(s.range);
    // gpa value, gpa entry, the region item, regions, the document.
    assert.deepEqual(chain[0], { start: at(9, 9), end: at(9, 19) });
    assert.deepEqual(chain[1]!.start, at(9, 4));
    assert.ok(chain.length >= 4);
    for (let i = 1; i < chain.length; i++) {
      const inner = chain[i - 1]!;
      const outer = chain[i]!;
      const before = (a: Pos, b: Pos) => a.line < b.line || (a.line === b.line && a.character <= b.character);
      assert.ok(before(outer.start, inner.start) && before(inner.end, outer.end), `range ${i} contains range ${i - 1}`);
    }
  });

  test('go to definition from entry: <symbol> to its source line (DWARF)', async () => {
    const uri = fresh();
    await client.open(uri, VALID.replace('  mode: long\n', '  mode: long\n  entry: uart_puts\n'));
    const loc = await client.request<{ uri: string; range: { start: Pos } } | null>('textDocument/definition', { ...doc(uri), position: at(7, 12) });
    assert.ok(loc, 'a location');
    assert.match(loc.uri, /examples\/hello\/hello\.c$/);
    const source = readFileSync(path.join(ROOT, 'examples', 'hello', 'hello.c'), 'utf8').split('\n');
    const line = source.findIndex((l) => l.startsWith('void uart_puts('));
    assert.ok(loc.range.start.line === line || loc.range.start.line === line + 1, `line ${loc.range.start.line} is uart_puts`);
  });

  test('hover on an exit reason in break-on-exit names the VMX exit', async () => {
    const uri = fresh();
    await client.open(uri, VALID + 'debug:\n  break-on-exit:\n    - hlt\n    - io\n');
    const h = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(18, 7) }));
    assert.match(h, /KVM_EXIT_IO, VMX exit 30 \(I\/O instruction\)/);
    // In a flow sequence too.
    const v = await client.change(uri, VALID + 'debug:\n  break-on-exit: [io, hlt]\n');
    await client.diagnostics(uri, v);
    const f = hoverText(await client.request('textDocument/hover', { ...doc(uri), position: at(16, 23) }));
    assert.match(f, /KVM_EXIT_HLT, VMX exit 12/);
    const c = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(16, 21) })).map((i) => i.label);
    assert.ok(c.includes('mmio') && !c.includes('io'), `flow-list completion offers what is not listed yet: ${JSON.stringify(c)}`);
  });

  test('completion of keys at a key position, without keys already present', async () => {
    const uri = fresh();
    const text = 'name: x\nboot:\n  image: a.elf\n  \n';
    await client.open(uri, text);
    const inBoot = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(3, 2) })).map((i) => i.label);
    assert.ok(inBoot.includes('mode') && inBoot.includes('entry'), inBoot.join());
    assert.ok(!inBoot.includes('image') && !inBoot.includes('memory'), inBoot.join());

    await client.change(uri, 'name: x\nme\n');
    const top = await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(1, 2) });
    const labels = top.map((i) => i.label);
    assert.ok(labels.includes('memory') && labels.includes('boot') && labels.includes('region'), labels.join());
    assert.ok(!labels.includes('name'));
    const boot = top.find((i) => i.label === 'boot')!;
    assert.match(boot.textEdit!.newText, /^boot:\n {2}image: /);
    assert.deepEqual(boot.textEdit!.range, range(1, 0, 1, 2));
  });

  test('completion of enum values, including break-on-exit list items', async () => {
    const uri = fresh();
    await client.open(uri, 'name: x\nboot:\n  mode: \ndebug:\n  break-on-exit:\n    - io\n    - \n');
    const modes = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(2, 8) })).map((i) => i.label);
    assert.deepEqual([...modes].sort(), ['long', 'protected', 'real']);
    const exits = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(6, 6) })).map((i) => i.label);
    assert.ok(exits.includes('hlt') && exits.includes('wrmsr'), exits.join());
    assert.ok(!exits.includes('io'), 'an exit already listed is not offered again');

    await client.change(uri, 'debug:\n  break-on-exit: [io, sh\n');
    const flow = (await client.request<CompletionItem[]>('textDocument/completion', { ...doc(uri), position: at(1, 24) })).map((i) => i.label);
    assert.ok(flow.includes('shutdown') && !flow.includes('io'), flow.join());
  });

  test('document symbols: the machine, boot, regions by name, devices', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const symbols = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', doc(uri));
    assert.equal(symbols.length, 1);
    const vm = symbols[0]!;
    assert.equal(vm.name, 'demo');
    assert.deepEqual(vm.children!.map((s) => s.name), ['boot', 'regions', 'devices']);
    assert.deepEqual(vm.children![1]!.children!.map((s) => s.name), ['mmio0']);
    assert.deepEqual(vm.children![2]!.children!.map((s) => s.name), ['serial', 'debug-exit']);
  });

  test('inlay hints: raw byte counts in units, and region ends', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const hints = await client.request<InlayHint[]>('textDocument/inlayHint', { ...doc(uri), range: range(0, 0, 20, 0) });
    const mem = hints.find((h) => h.label === '16 MiB');
    assert.ok(mem, JSON.stringify(hints));
    assert.deepEqual(mem.position, at(1, 16));
    assert.ok(hints.some((h) => String(h.label).includes('0xd0001000') && h.position.line === 10), JSON.stringify(hints));
  });

  test('folding ranges and code lenses', async () => {
    const uri = fresh();
    await client.open(uri, VALID);
    const folds = await client.request<{ startLine: number; endLine: number }[]>('textDocument/foldingRange', doc(uri));
    assert.ok(folds.some((f) => f.startLine === 3 && f.endLine === 6), JSON.stringify(folds));
    assert.ok(folds.some((f) => f.startLine === 7 && f.endLine === 11), JSON.stringify(folds));
    const lenses = await client.request<{ command: { command: string; arguments: unknown[] } }[]>('textDocument/codeLens', doc(uri));
    assert.deepEqual(lenses.map((l) => l.command.command), ['vmscope.runVm', 'vmscope.debugVm']);
    assert.deepEqual(lenses[0]!.command.arguments, [uri]);
  });

  test('fuzz: 300 mutated specs, each with a hover and a completion; the server answers all and stays up', async () => {
    const seeds = [path.join(ROOT, 'examples/hello/hello.vmspec'), path.join(ROOT, 'test/guests/io-probe.vmspec')].map((f) => readFileSync(f, 'utf8'));
    let state = 0x2545f491;
    const rand = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % Math.max(1, n);
    };
    const mutate = (text: string): string => {
      switch (rand(4)) {
        case 0: return text.slice(0, rand(text.length + 1));
        case 1: {
          const chars = [...text];
          for (let k = 0, m = 1 + rand(4); k < m && chars.length > 0; k++) chars[rand(chars.length)] = String.fromCharCode(rand(128) || 0xfffd, ...(rand(8) === 0 ? [0xd800] : []));
          return chars.join('');
        }
        case 2: {
          const lines = text.split('\n');
          for (let k = 0, m = 1 + rand(3); k < m && lines.length > 0; k++) lines.splice(rand(lines.length), 1);
          return lines.join('\n');
        }
        default: {
          const lines = text.split('\n');
          const i = rand(lines.length);
          lines.splice(rand(lines.length), 0, lines[i]!.slice(rand(lines[i]!.length)));
          return lines.join('\n');
        }
      }
    };
    const uri = fresh();
    await client.open(uri, seeds[0]!);
    for (let i = 0; i < 300; i++) {
      let text = seeds[i % 2]!;
      for (let k = 0, m = 1 + rand(3); k < m; k++) text = mutate(text);
      await client.change(uri, text);
      const lines = text.split('\n');
      const line = rand(lines.length + 1);
      const pos = () => at(line, rand((lines[line]?.length ?? 0) + 2));
      const [h, c] = await Promise.all([
        client.request('textDocument/hover', { ...doc(uri), position: pos() }),
        client.request<unknown[]>('textDocument/completion', { ...doc(uri), position: pos() }),
      ]);
      assert.ok(h === null || typeof h === 'object', `hover #${i}`);
      assert.ok(Array.isArray(c), `completion #${i} for ${JSON.stringify(text)}`);
    }
    // The rest of the features, on the last mutation, and a final round of diagnostics.
    await client.request('textDocument/documentSymbol', doc(uri));
    await client.request('textDocument/inlayHint', { ...doc(uri), range: range(0, 0, 100, 0) });
    await client.request('textDocument/foldingRange', doc(uri));
    await client.diagnostics(uri);
    assert.equal(client.exited, false, client.stderr);
    assert.deepEqual(client.logged, [], 'no handler threw');
  });
});

test('the server also speaks LSP over node IPC (as the VS Code client starts it)', { timeout: 30_000 }, async () => {
  const { fork } = await import('node:child_process');
  const { IPCMessageReader, IPCMessageWriter } = await import('vscode-jsonrpc/node');
  const proc = fork(SERVER, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const rpc = createMessageConnection(new IPCMessageReader(proc), new IPCMessageWriter(proc));
  const published = new Promise<{ diagnostics: Array<{ code: string }> }>((resolve) => rpc.onNotification('textDocument/publishDiagnostics', resolve));
  rpc.listen();
  try {
    const init = await rpc.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    assert.ok(init.capabilities.hoverProvider);
    await rpc.sendNotification('initialized', {});
    await rpc.sendNotification('textDocument/didOpen', { textDocument: { uri: 'untitled:ipc.vmspec', languageId: 'vmspec', version: 1, text: 'name: x\nmemroy: 1MiB\nboot: { image: a.elf }\n' } });
    const p = await published;
    assert.ok(p.diagnostics.some((d) => d.code === 'unknown-key'));
    await rpc.sendRequest('shutdown');
  } finally {
    rpc.dispose();
    proc.kill();
  }
});
