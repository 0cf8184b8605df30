// `npm run bench` (fourth part): the language server on a generated
// 5,000-line spec: the time from an edit to its diagnostics (the server waits
// DEBOUNCE_MS of quiet typing before checking; the figure is printed with and
// without that wait), the check itself in process, and hover latency.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { parseSpec } from '../vmspec/parse';
import { checkImage } from '../vmspec/image-checks';
import { YamlChunkCache } from '../vmspec/yaml-chunks';
import { ROOT } from './build';

const DEBOUNCE_MS = 150; // language-server/diagnostics.ts
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A valid spec of about `lines` lines: many 4-line regions above RAM. */
function bigSpec(lines: number, image: string): string {
  const head = `name: big\nmemory: 64MiB\nboot:\n  image: ${image}\nregions:\n`;
  const regions: string[] = [];
  for (let i = 0; regions.length * 4 + 5 < lines; i++) {
    regions.push(`  - name: r${i}\n    gpa: 0x${(0x100000000 + i * 0x1000).toString(16)}\n    size: 4KiB\n    kind: mmio`);
  }
  return head + regions.join('\n') + '\n';
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-lsp-bench-'));
  const image = path.join(ROOT, 'examples', 'hello', 'build', 'hello.elf');
  const text = bigSpec(5000, image);
  const file = path.join(dir, 'big.vmspec');
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  const lineCount = text.split('\n').length;

  // In process: the check the server runs after the pause, parsing the whole text and (as the server does) only
  // the piece an edit changed.
  const checks: number[] = [];
  const pieced: number[] = [];
  const pieces = new YamlChunkCache();
  parseSpec(text, file, { pieces });
  for (let i = 0; i < 20; i++) {
    const edited = text.replace('name: r100\n', `name: r100x${i}\n`);
    let t0 = performance.now();
    checkImage(parseSpec(edited, file));
    checks.push(performance.now() - t0);
    t0 = performance.now();
    checkImage(parseSpec(edited, file, { pieces }));
    pieced.push(performance.now() - t0);
  }

  const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'language-server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rpc = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  let waiting: ((v: number) => void) | undefined;
  rpc.onNotification('textDocument/publishDiagnostics', (p: { version?: number; diagnostics: unknown[] }) => {
    if (waiting) waiting(p.version ?? -1);
  });
  rpc.listen();
  await rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  await rpc.sendNotification('initialized', {});
  let version = 1;
  const diagnosed = () => new Promise<number>((resolve) => (waiting = resolve));
  let published = diagnosed();
  await rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'vmspec', version, text } });
  await published; // the first check

  const edits: number[] = [];
  for (let i = 0; i < 10; i++) {
    version++;
    published = diagnosed();
    const t0 = performance.now();
    await rpc.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text: text.replace('name: r100\n', `name: r100x${i}\n`) }] });
    await published;
    edits.push(performance.now() - t0);
  }

  const hovers: number[] = [];
  for (let i = 0; i < 200; i++) {
    const line = 5 + ((i * 37) % (lineCount - 10));
    const t0 = performance.now();
    await rpc.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character: 6 } });
    hovers.push(performance.now() - t0);
  }
  rpc.dispose();
  proc.kill();

  const e = median(edits);
  console.log(`language server, generated spec of ${lineCount} lines:`);
  console.log(`  check in process (parse, schema, semantics, image), one region edited:`);
  console.log(`    whole parse ${median(checks).toFixed(1)} ms median, re-parsing the edited piece only ${median(pieced).toFixed(1)} ms median`);
  console.log(`  edit -> diagnostics over stdio: ${e.toFixed(1)} ms median, ${(e - DEBOUNCE_MS).toFixed(1)} ms after the ${DEBOUNCE_MS} ms typing pause (target <= 50 ms)`);
  console.log(`  hover: ${median(hovers).toFixed(2)} ms median, ${Math.max(...hovers).toFixed(2)} ms max (target <= 5 ms)`);
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
