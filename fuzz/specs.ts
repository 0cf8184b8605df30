// The "specs" part of the fuzz harness: mutated example specs and hostile YAML, fed to one long-lived language
// server process (dist/language-server.js over stdio: didOpen, didChange, hover, completion, codeAction) and to
// `vmscope check`, in process for every case (cli/check.ts checkFile, what the command prints) and as the real
// CLI process (dist/cli.js) for every hostile case and a seeded sample of the rest.
//
// A finding is: the server exiting, a request left unanswered, a version whose diagnostics never come, an error
// the server logged, check throwing, exiting other than 0 or 1, printing a line that is not file:line:col, a
// stack trace, "internal error" or a control character, or check and the server disagreeing on an error.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { checkFile } from '../cli/check';
import { DEBOUNCE_MS } from '../language-server/diagnostics';
import { MAX_SPEC_CHARS } from '../vmspec/schema-walk';
import type { Finding, FuzzPart, PartOptions, PartResult } from './harness';
import { percentile } from './harness';
import { Rng } from './rng';
import { type SpecCase, hostileCases, loadCorpus, mutatedCase } from './spec-cases';

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER = path.join(ROOT, 'dist', 'language-server.js');
const CLI = path.join(ROOT, 'dist', 'cli.js');
/** A request or a version's diagnostics not answered in this long counts as unanswered. */
const ANSWER_MS = 20_000;
/** Cases sent to the server at once (one document each), so that debounces overlap. */
const IN_FLIGHT = 4;

export interface SpecsOptions extends PartOptions {
  /** Run the CLI process on one mutated case in this many (hostile cases always); default 25. */
  cliEvery?: number;
  /** Run the CLI process on one hostile case in this many; default 1 (all of them). */
  cliHostileEvery?: number;
}

interface Diag { range: { start: { line: number; character: number }; end: { line: number; character: number } }; severity?: number; code?: string | number; message: string }

/** One language server process, driven as an editor drives it. */
class Server {
  readonly proc: ChildProcess;
  readonly rpc: MessageConnection;
  exited: string | undefined;
  readonly logged: string[] = [];
  stderr = '';
  private readonly waiting = new Map<string, { version: number; resolve: (d: Diag[]) => void }>();

  constructor() {
    this.proc = spawn(process.execPath, [SERVER, '--stdio'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.on('exit', (code, signal) => (this.exited = `exit ${code ?? signal}`));
    this.proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.rpc = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.rpc.onNotification('textDocument/publishDiagnostics', (p: { uri: string; version?: number; diagnostics: Diag[] }) => {
      const w = this.waiting.get(p.uri);
      if (w && p.version === w.version) {
        this.waiting.delete(p.uri);
        w.resolve(p.diagnostics);
      }
    });
    this.rpc.onNotification('window/logMessage', (p: { type: number; message: string }) => {
      if (p.type === 1) this.logged.push(p.message);
    });
    this.rpc.onError(() => undefined);
    this.rpc.onRequest(() => null);
    this.rpc.listen();
  }

  async initialize(): Promise<void> {
    await this.rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: { textDocument: { publishDiagnostics: { versionSupport: true } } } });
    await this.rpc.sendNotification('initialized', {});
  }

  /** Resolves with the diagnostics published for exactly `version` of `uri`. */
  diagnosticsFor(uri: string, version: number): Promise<Diag[]> {
    return new Promise((resolve) => this.waiting.set(uri, { version, resolve }));
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      await within(this.rpc.sendRequest('shutdown'), 3000);
      await this.rpc.sendNotification('exit');
      await within(gone, 3000);
    }
    this.rpc.dispose();
    if (!this.exited) this.proc.kill();
  }
}

/** `p`, or undefined once `ms` pass. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The one change an editor sends for old → new: the differing middle, as a range edit. */
function incrementalChange(oldText: string, newText: string) {
  let a = 0;
  while (a < oldText.length && a < newText.length && oldText[a] === newText[a]) a++;
  let b = 0;
  while (b < oldText.length - a && b < newText.length - a && oldText[oldText.length - 1 - b] === newText[newText.length - 1 - b]) b++;
  // Never split a surrogate pair or a CRLF: an editor's edit is between characters.
  while (a > 0 && (/[\ud800-\udbff]/.test(oldText[a - 1]!) || oldText[a - 1] === '\r')) a--;
  while (b > 0 && (/[\udc00-\udfff]/.test(oldText[oldText.length - b]!) || oldText[oldText.length - b] === '\n')) b--;
  // LSP counts \r\n, \r and \n as line ends (and columns in UTF-16 units), as editors do.
  const pos = (text: string, offset: number) => {
    let line = 0;
    let lineStart = 0;
    for (const m of text.slice(0, offset).matchAll(/\r\n|\r|\n/g)) {
      line++;
      lineStart = m.index + m[0].length;
    }
    return { line, character: offset - lineStart };
  };
  return { range: { start: pos(oldText, a), end: pos(oldText, oldText.length - b) }, text: newText.slice(a, newText.length - b) };
}

/** What is wrong with a line `vmscope check` printed, or undefined when it is well formed. */
export function badCheckLine(line: string, stream: 'stdout' | 'stderr'): string | undefined {
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(line)) return `a raw control character: ${JSON.stringify(line.slice(0, 120))}`;
  if (/internal error|^\s+at |Error:/.test(line)) return `an internal error or stack trace: ${JSON.stringify(line.slice(0, 200))}`;
  if (line.length > 1000) return `a line of ${line.length} characters`;
  if (stream === 'stdout') return /^.+: ok \(.*\)$/.test(line) ? undefined : `not an ok line: ${JSON.stringify(line.slice(0, 200))}`;
  return /^.+:\d+:\d+: (error|warning|info): .+ \[[a-z0-9-]+\]$|^.+:\d+:\d+: note: .+$/.test(line) ? undefined : `not file:line:col: ${JSON.stringify(line.slice(0, 200))}`;
}

/** Problems with check's whole output for one file. */
function checkOutputProblems(code: number | null, stdout: string, stderr: string): string[] {
  const out: string[] = [];
  if (code !== 0 && code !== 1) out.push(`check exited ${code}`);
  for (const [stream, text] of [['stdout', stdout], ['stderr', stderr]] as const) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const bad = badCheckLine(line, stream);
      if (bad) out.push(`check printed ${bad}`);
    }
  }
  const errors = stderr.split('\n').filter((l) => /: error: /.test(l)).length;
  if (code === 0 && errors > 0) out.push('check exited 0 with errors');
  if (code === 1 && errors === 0) out.push('check exited 1 with no error');
  return out;
}

function runCli(file: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; timedOut: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'check', file], { timeout: ANSWER_MS, maxBuffer: 64 << 20, cwd: ROOT }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      // execFile's error carries the exit status as `code` (a number) when the process ran and exited non-zero.
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0, timedOut: Boolean(e?.killed) });
    });
  });
}

/**
 * The directory tree the cases' files live in: `<work>/spec tree ü/<the base's directory>/`, holding a symlink
 * to every entry of the real directory (so `build/hello.elf` resolves) and the case files. Every path has a
 * space and a non-ASCII letter in it, as the issue asks.
 */
function caseDir(workDir: string, base: string): string {
  const dir = path.join(workDir, 'spec tree ü', path.dirname(base));
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    const real = path.join(ROOT, path.dirname(base));
    for (const name of fs.readdirSync(real)) {
      if (!name.endsWith('.vmspec')) fs.symlinkSync(path.join(real, name), path.join(dir, name));
    }
  }
  return dir;
}

export async function runSpecs(opts: SpecsOptions): Promise<PartResult> {
  const corpus = loadCorpus(ROOT);
  const fifo = path.join(opts.workDir, 'image fifo');
  if (!fs.existsSync(fifo)) execFileSyncQuiet('mkfifo', [fifo]);
  const hostile = hostileCases(corpus, fifo, opts.seed);
  const cliEvery = opts.cliEvery ?? 25;
  const findings: Finding[] = [];
  const latencies: number[] = [];
  const slowest: Array<{ ms: number; what: string }> = [];
  const bigLatencies: number[] = [];
  const exitCodes = new Map<string, number>();
  const cliMs: number[] = [];
  const inProcessMs: number[] = [];
  let requests = 0;
  let unanswered = 0;
  let crashes = 0;
  let cliRuns = 0;

  let server = new Server();
  await server.initialize();
  /** Each slot is one open document; its text and version as the server has them. */
  const slots: Array<{ uri: string; file: string; text: string; version: number } | undefined> = Array(IN_FLIGHT).fill(undefined);

  const caseAt = (i: number): SpecCase => (i < hostile.length ? hostile[i]! : mutatedCase(corpus, Rng.forCase(opts.seed, i)));

  async function toServer(slot: number, i: number, c: SpecCase, file: string): Promise<Diag[] | undefined> {
    const uri = pathToFileURL(file).href;
    let s = slots[slot];
    if (s && s.uri !== uri) {
      await server.rpc.sendNotification('textDocument/didClose', { textDocument: { uri: s.uri } });
      s = undefined;
    }
    const rng = Rng.forCase(opts.seed ^ 0x5bec, i);
    let version: number;
    const t0 = performance.now();
    if (!s) {
      version = 1;
      slots[slot] = s = { uri, file, text: c.text, version };
      const published = server.diagnosticsFor(uri, version);
      await server.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'vmspec', version, text: c.text } });
      return await settle(published, t0, c, i, s.text);
    }
    version = ++s.version;
    const change = incrementalChange(s.text, c.text);
    s.text = c.text;
    const published = server.diagnosticsFor(uri, version);
    await server.rpc.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [change] });
    // Requests right after the change, before the debounce ends, as a user typing and hovering does.
    const lines = c.text.split(/\r\n|\r|\n/);
    const position = () => {
      const line = rng.below(lines.length + 1);
      return { line, character: rng.below((lines[line]?.length ?? 0) + 2) };
    };
    const asks: Array<[string, unknown]> = [
      ['textDocument/hover', { textDocument: { uri }, position: position() }],
      ['textDocument/completion', { textDocument: { uri }, position: position() }],
      ['textDocument/codeAction', { textDocument: { uri }, range: { start: position(), end: position() }, context: { diagnostics: [] } }],
    ];
    const answers = asks.map(([method, params]) => {
      requests++;
      return within(server.rpc.sendRequest(method, params), ANSWER_MS).then((r) => {
        if (!r) {
          unanswered++;
          findings.push({ index: i, what: `${method} unanswered after ${ANSWER_MS} ms (${c.how})` });
        }
      }, (e: unknown) => {
        findings.push({ index: i, what: `${method} failed: ${e instanceof Error ? e.message : String(e)} (${c.how})` });
      });
    });
    const diags = await settle(published, t0, c, i, s.text);
    await Promise.all(answers);
    return diags;
  }

  async function settle(published: Promise<Diag[]>, t0: number, c: SpecCase, i: number, text: string): Promise<Diag[] | undefined> {
    requests++;
    const r = await within(published, ANSWER_MS);
    if (!r) {
      unanswered++;
      findings.push({ index: i, what: `no diagnostics published within ${ANSWER_MS} ms (${c.how})` });
      return undefined;
    }
    const ms = performance.now() - t0 - DEBOUNCE_MS;
    (text.length > MAX_SPEC_CHARS ? bigLatencies : latencies).push(ms);
    slowest.push({ ms, what: `#${i} ${c.how.slice(0, 80)}` });
    slowest.sort((a, b) => b.ms - a.ms).splice(5);
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const d of r.value) {
      if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(d.message) || d.message.length > 1000) {
        findings.push({ index: i, what: `server diagnostic with control characters or ${d.message.length} characters: ${JSON.stringify(d.message.slice(0, 100))}` });
      }
      if (d.range.start.line >= lineCount + 1 || d.range.start.line < 0) findings.push({ index: i, what: `diagnostic range outside the text: ${JSON.stringify(d.range)}` });
      if (d.code === 'internal-error') findings.push({ index: i, what: `server: ${d.message} (${c.how})` });
    }
    return r.value;
  }

  for (let start = 0; start < opts.runs; start += IN_FLIGHT) {
    const batch = Array.from({ length: Math.min(IN_FLIGHT, opts.runs - start) }, (_, k) => start + k);
    const cases = batch.map((i) => ({ i, c: caseAt(i) }));
    const files = cases.map(({ c }, k) => {
      const file = path.join(caseDir(opts.workDir, c.base), `case ${k}.vmspec`);
      fs.writeFileSync(file, c.bytes ?? c.text);
      return file;
    });
    const served = await Promise.all(cases.map(({ i, c }, k) => (c.toServer ? toServer(k, i, c, files[k]!) : Promise.resolve(undefined))));
    for (const msg of server.logged.splice(0)) findings.push({ index: start, what: `server logged: ${msg.split('\n')[0]!.slice(0, 200)}` });
    if (server.exited) {
      crashes++;
      findings.push({ index: start, what: `language server ${server.exited}: ${server.stderr.slice(-300)}` });
      server = new Server();
      await server.initialize();
      slots.fill(undefined);
    }

    for (const [k, { i, c }] of cases.entries()) {
      const file = files[k]!;
      // check in process: what the command prints, for every case.
      const t0 = performance.now();
      let result: ReturnType<typeof checkFile> | undefined;
      try {
        result = checkFile(file);
      } catch (e) {
        findings.push({ index: i, what: `check threw: ${e instanceof Error ? e.message : String(e)} (${c.how})`, reproducer: keep(opts.workDir, i, c) });
      }
      inProcessMs.push(performance.now() - t0);
      if (result) {
        for (const p of checkOutputProblems(result.failed ? 1 : 0, result.stdout.join('\n'), result.stderr.join('\n'))) {
          findings.push({ index: i, what: `${p} (${c.how})`, reproducer: keep(opts.workDir, i, c) });
        }
        // check and the server must agree on every spec error (check adds only what planning the machine finds).
        const diags = served[k];
        if (diags) {
          const key = (d: { code?: string | number; range: Diag['range'] }) => `${String(d.code)}@${d.range.start.line}:${d.range.start.character}`;
          const fromServer = new Set(diags.filter((d) => d.severity === 1).map(key));
          const fromCheck = new Set(result.diagnostics.filter((d) => d.severity === 'error' && d.code !== 'image-load').map(key));
          const onlyCheck = [...fromCheck].filter((x) => !fromServer.has(x));
          const onlyServer = [...fromServer].filter((x) => !fromCheck.has(x));
          if (onlyCheck.length || onlyServer.length) {
            findings.push({ index: i, what: `check and the server disagree: check only ${onlyCheck.join(' ') || '-'}, server only ${onlyServer.join(' ') || '-'} (${c.how})`, reproducer: keep(opts.workDir, i, c) });
          }
        }
      }
      // The real CLI process: every hostile case and a seeded sample of the rest.
      if (i < hostile.length ? i % (opts.cliHostileEvery ?? 1) === 0 : Rng.forCase(opts.seed ^ 0xc11, i).below(cliEvery) === 0) {
        const r = await runCli(file);
        cliRuns++;
        cliMs.push(r.ms);
        const codeName = r.timedOut ? 'timeout' : String(r.code);
        exitCodes.set(codeName, (exitCodes.get(codeName) ?? 0) + 1);
        const problems = r.timedOut ? [`check did not finish in ${ANSWER_MS} ms`] : checkOutputProblems(r.code, r.stdout, r.stderr);
        for (const p of problems) findings.push({ index: i, what: `CLI: ${p} (${c.how})`, reproducer: keep(opts.workDir, i, c) });
      }
    }
    if ((start / IN_FLIGHT) % 250 === 0 && start > 0) opts.log(`${start} cases, ${findings.length} findings, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
  }
  for (const s of slots) if (s) await server.rpc.sendNotification('textDocument/didClose', { textDocument: { uri: s.uri } });
  await server.stop();
  if (server.exited && !/exit 0/.test(server.exited)) findings.push({ index: opts.runs, what: `language server ended with ${server.exited} on shutdown` });

  const f = (n: number) => `${n.toFixed(1)} ms`;
  opts.log(`slowest diagnostics: ${slowest.map((x) => `${f(x.ms)} ${x.what}`).join('; ')}`);
  const codes = [...exitCodes.entries()].sort().map(([k, v]) => `${k}:${v}`).join(' ');
  return {
    part: 'specs',
    runs: opts.runs,
    findings,
    figures: {
      'hostile cases': String(Math.min(hostile.length, opts.runs)),
      'server crashes': String(crashes),
      'requests': String(requests),
      unanswered: String(unanswered),
      'latency p50': f(percentile(latencies, 50)),
      'latency p99': f(percentile(latencies, 99)),
      'latency max': f(Math.max(...latencies)),
      ...(bigLatencies.length ? { 'latency of texts over the size limit, max': f(Math.max(...bigLatencies)) } : {}),
      'check in process': `${opts.runs} (p50 ${f(percentile(inProcessMs, 50))}, max ${f(Math.max(...inProcessMs))})`,
      'check CLI runs': `${cliRuns} (p50 ${f(percentile(cliMs, 50))} each)`,
      'CLI exit codes': codes || '-',
    },
  };
}

/** Keeps a finding's input in the work directory. */
function keep(workDir: string, i: number, c: SpecCase): string {
  const dir = path.join(workDir, 'findings');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `case-${i}.vmspec`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, c.bytes ?? c.text);
  return file;
}

function execFileSyncQuiet(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'ignore' });
}

export const specsPart: FuzzPart = {
  name: 'specs',
  defaultRuns: 10_000,
  run: (opts) => runSpecs(opts),
};
