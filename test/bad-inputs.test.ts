// Bad inputs (issue 14, part 5): each case of docs/reliability.md's table, as
// the user meets it: the real CLI (dist/cli.js) with the exact line and exit
// code, and where the input is a spec, the language server's diagnostic and
// the debug adapter's launch error. Every message is one line (a `note:` line
// may follow a spec diagnostic, compiler-style), says what to do, and carries
// no stack trace; only bugs say "internal error".

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { CLI, ROOT, EMU_OK, EMU_PROBLEM } from './kvm';
import { ADAPTER } from './dap-client';
import { explainKvmOpenError, kvmHostFacts } from '../common/kvm-device';
import { scratchDir } from './scratch';

const SERVER = path.join(ROOT, 'dist', 'language-server.js');
const HELLO_ELF = path.join(ROOT, 'examples', 'hello', 'build', 'hello.elf');
const STACK = /^\s+at .+:\d+:\d+\)?$/m;
const USAGE = '; run `vmscope --help` for usage\n';

interface Run { code: number | null; stdout: string; stderr: string }

function vmscope(args: string[], opts: SpawnSyncOptions = {}): Run {
  const env = { ...process.env, ...(opts.env ?? {}) };
  delete env.VMSCOPE_DEBUG;
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, ...opts, env });
  const run = { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
  // The class, for every case: no stack, no "internal error".
  assert.doesNotMatch(run.stderr, STACK, run.stderr);
  assert.doesNotMatch(run.stderr, /internal error/, run.stderr);
  return run;
}

/** A fresh directory (its name has a space, as users' do) holding `files`. */
function fixtureDir(files: Record<string, string | Uint8Array> = {}, name = 'bad inputs'): string {
  const dir = scratchDir(`vmscope-${name.replace(/ /g, '-')}-`);
  const sub = path.join(dir, name);
  fs.mkdirSync(sub);
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(sub, f), data);
  return sub;
}

/** A power of two of GiB above this host's RAM. */
const BIG_GIB = 2 ** Math.ceil(Math.log2(os.totalmem() / 2 ** 30) + 1);

const specText = (image: string, extra = '', memory = '16MiB') =>
  `name: bad\nmemory: ${memory}\nboot:\n  image: ${image}\n  format: elf\n  mode: long\ndevices:\n  serial: { port: 0x3f8 }\n  debug-exit: { port: 0xf4 }\n${extra}`;

// ---- ELF fixtures, built from bytes ----

/** A minimal x86-64 ELF: header, one PT_LOAD at 1 MiB holding `hlt`, entry there. */
function elf(machine = 62): Uint8Array {
  const b = Buffer.alloc(0x80 + 16);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // \x7fELF, 64-bit, little-endian, version 1
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x100000n, 24); // e_entry
  b.writeBigUInt64LE(0x40n, 32); // e_phoff
  b.writeUInt16LE(64, 52); // e_ehsize
  b.writeUInt16LE(56, 54); // e_phentsize
  b.writeUInt16LE(1, 56); // e_phnum
  b.writeUInt16LE(64, 58); // e_shentsize
  const ph = 0x40;
  b.writeUInt32LE(1, ph); // PT_LOAD
  b.writeUInt32LE(5, ph + 4); // R+X
  b.writeBigUInt64LE(0x80n, ph + 8); // p_offset
  b.writeBigUInt64LE(0x100000n, ph + 16); // p_vaddr
  b.writeBigUInt64LE(0x100000n, ph + 24); // p_paddr
  b.writeBigUInt64LE(16n, ph + 32); // p_filesz
  b.writeBigUInt64LE(16n, ph + 40); // p_memsz
  b.fill(0xf4, 0x80); // hlt
  return b;
}

// ---- the language server, over stdio as an editor drives it ----

interface Diagnostic { message: string; code?: string | number; severity?: number; range: { start: { line: number; character: number } } }

class Lsp {
  readonly proc: ChildProcess;
  readonly rpc: MessageConnection;
  private readonly published = new Map<string, Diagnostic[]>();
  private readonly waiters: (() => void)[] = [];
  constructor() {
    this.proc = spawn(process.execPath, [SERVER, '--stdio'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.rpc = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.rpc.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diagnostic[] }) => {
      this.published.set(p.uri, p.diagnostics);
      for (const w of this.waiters.splice(0)) w();
    });
    this.rpc.onRequest(() => null);
    this.rpc.listen();
  }
  async init(): Promise<void> {
    await this.rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    await this.rpc.sendNotification('initialized', {});
  }
  /** Opens the spec file as an editor would (its text, its file: URI) and waits for its diagnostics. */
  async diagnostics(file: string): Promise<Diagnostic[]> {
    const uri = pathToFileURL(file).href;
    this.published.delete(uri);
    await this.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'vmspec', version: 1, text: fs.readFileSync(file, 'utf8') } });
    const deadline = Date.now() + 10_000;
    while (!this.published.has(uri)) {
      if (Date.now() > deadline) throw new Error(`no diagnostics for ${uri}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    await this.rpc.sendNotification('textDocument/didClose', { textDocument: { uri } });
    return this.published.get(uri)!;
  }
  async close(): Promise<void> {
    await this.rpc.sendRequest('shutdown').catch(() => undefined);
    await this.rpc.sendNotification('exit').catch(() => undefined);
    this.rpc.dispose();
    this.proc.kill();
  }
}

/** The debug adapter's answer to `launch` with this spec: its error message, or undefined when it launched. */
async function launchError(spec: string, env: NodeJS.ProcessEnv = {}, args: Record<string, unknown> = {}): Promise<string | undefined> {
  const saved = { ...process.env };
  Object.assign(process.env, env); // DebugClient starts the adapter with this process's environment.
  const dc = new DebugClient('node', ADAPTER, 'vmscope');
  try {
    await dc.start();
  } finally {
    process.env = saved;
  }
  try {
    await dc.initializeRequest();
    await dc.launchRequest({ spec, stopOnEntry: true, ...args } as never);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await dc.stop();
  }
}

const oneLine = (s: string) => {
  assert.doesNotMatch(s, /\n/, s);
  assert.doesNotMatch(s, /internal error/, s);
};

const HAS_KVM = fs.existsSync('/dev/kvm');

// ---- the backend: KVM, its permission, Unicorn ----

describe('bad inputs: the backend', () => {
  test('no /dev/kvm: --accel kvm is one line with the fix that matches this host, exit 125', (t) => {
    if (HAS_KVM) return t.skip('this host has /dev/kvm');
    const r = vmscope(['run', '--accel', 'kvm', 'examples/hello/hello.vmspec']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, `vmscope: ${explainKvmOpenError('/dev/kvm', 'ENOENT', kvmHostFacts())}; or run under emulation: accel: emu (--accel emu)\n`);
    // On a kvm_pvm host (this one, 2026-12) the modules are loaded: modprobe is no fix, and vmscope does not offer it.
    if (fs.existsSync('/sys/module/kvm_pvm')) {
      assert.match(r.stderr, /kvm_pvm is loaded but did not bind/);
      assert.doesNotMatch(r.stderr, /modprobe/);
    }
  });

  test('no /dev/kvm: the language server\'s host-kvm diagnostic and the adapter\'s launch error give the same reason and fix', async (t) => {
    if (HAS_KVM) return t.skip('this host has /dev/kvm');
    const why = explainKvmOpenError('/dev/kvm', 'ENOENT', kvmHostFacts());
    const lsp = new Lsp();
    try {
      await lsp.init();
      const diags = await lsp.diagnostics(path.join(ROOT, 'examples/hello/hello.vmspec'));
      const d = diags.find((x) => x.code === 'host-kvm');
      if (EMU_OK) assert.equal(d?.message, `runs under emulation here: ${why}`);
      else assert.ok(d?.message.includes(why), d?.message);
    } finally {
      await lsp.close();
    }
    const msg = await launchError(path.join(ROOT, 'examples/hello/hello.vmspec'), { VMSCOPE_ACCEL: '' }, { accel: 'kvm' });
    assert.equal(msg, `${why}; or run under emulation: accel: emu (--accel emu)`);
  });

  test('no /dev/kvm: auto runs under emulation and says why in one line; info exits 0 and says the same', (t) => {
    if (HAS_KVM) return t.skip('this host has /dev/kvm');
    if (!EMU_OK) return t.skip(`needs the emulator: ${EMU_PROBLEM}`);
    const why = explainKvmOpenError('/dev/kvm', 'ENOENT', kvmHostFacts());
    const r = vmscope(['run', 'examples/hello/hello.vmspec']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, `vmscope: ${why.split('; ')[0]}; running under emulation\n`);
    const info = vmscope(['info']);
    assert.equal(info.code, 0);
    assert.equal(info.stdout.split('\n')[0], `kvm:         /dev/kvm — NOT usable: ${why}`);
  });

  test('--kvm naming something that is not KVM (/dev/null, a directory, nothing) is the user\'s path, not an internal error', () => {
    const dir = fixtureDir();
    for (const [node, says] of [
      ['/dev/null', "/dev/null is not KVM's device (it does not answer KVM_GET_API_VERSION); point --kvm at KVM's device node (normally /dev/kvm)"],
      [dir, `${dir} is a directory, not KVM's device; point --kvm at the device node (normally /dev/kvm)`],
      ['/nonexistent/kvm', "/nonexistent/kvm does not exist: fix the path given to --kvm (KVM's device is normally /dev/kvm)"],
    ] as const) {
      const r = vmscope(['run', '--accel', 'kvm', '--kvm', node, 'examples/hello/hello.vmspec']);
      assert.equal(r.code, 125);
      assert.equal(r.stderr, `vmscope: ${says}; or run under emulation: accel: emu (--accel emu)\n`);
    }
    if (EMU_OK) {
      const r = vmscope(['run', '--kvm', '/dev/null', 'examples/hello/hello.vmspec']);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, "vmscope: /dev/null is not KVM's device (it does not answer KVM_GET_API_VERSION); running under emulation\n");
    }
  });

  test('no permission on the KVM node (as an unprivileged user): the udev/group fix, or joining the node\'s group', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to stage a node and run the CLI as nobody (the mapping itself is unit-tested in common/kvm-device.test.ts)');
    // Root opens anything, so the CLI runs as nobody (uid 65534) against a char device node of our own (/dev/null's numbers).
    const dir = scratchDir('vmscope-kvm-perm-');
    fs.chmodSync(dir, 0o755);
    const node = path.join(dir, 'kvm');
    const mk = spawnSync('mknod', [node, 'c', '1', '3']);
    if (mk.status !== 0) fs.writeFileSync(node, ''); // a nodev mount or no mknod: a plain file is refused alike
    fs.chmodSync(node, 0o600);
    const asNobody = { uid: 65534, gid: 65534 };
    let r = vmscope(['run', '--accel', 'kvm', '--kvm', node, 'examples/hello/hello.vmspec'], asNobody);
    if (/EACCES/.test(r.stderr) && r.stderr.includes(ROOT)) return t.skip('the checkout is not readable by nobody');
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      `vmscope: no permission to open ${node} (group root, mode 0600: no udev rule gives a group access): give the kvm group access (sudo chgrp kvm ${node} && sudo chmod 660 ${node}; to keep it, a udev rule KERNEL=="kvm", GROUP="kvm", MODE="0660"), then join it (sudo usermod -aG kvm $USER, then log in again); or run under emulation: accel: emu (--accel emu)\n`,
    );
    // A node a group may open (as udev's rule makes /dev/kvm): the fix is to join that group. "users" (gid 100) stands in for kvm.
    fs.chownSync(node, 0, 100);
    fs.chmodSync(node, 0o660);
    const group = kvmHostFacts(node).node!.group;
    r = vmscope(['run', '--accel', 'kvm', '--kvm', node, 'examples/hello/hello.vmspec'], asNobody);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, `vmscope: no permission to open ${node} (group ${group}, mode 0660): add yourself to the group (sudo usermod -aG ${group} $USER, then log in again); or run under emulation: accel: emu (--accel emu)\n`);
  });

  test('no Unicorn (VMSCOPE_UNICORN at nothing, or at a file that is not a library): one line naming both backends, exit 125', () => {
    for (const [lib, why] of [
      ['/nonexistent/libunicorn.so.2', 'VMSCOPE_UNICORN=/nonexistent/libunicorn.so.2 does not exist'],
      ['/etc/hostname', 'VMSCOPE_UNICORN=/etc/hostname cannot be loaded (/etc/hostname: '],
    ] as const) {
      const env = { VMSCOPE_UNICORN: lib, VMSCOPE_ACCEL: '' };
      const emu = vmscope(['run', '--accel', 'emu', 'examples/hello/hello.vmspec'], { env });
      assert.equal(emu.code, 125);
      assert.ok(emu.stderr.startsWith(`vmscope: the emulator cannot run: ${why}`), emu.stderr);
      assert.match(emu.stderr, /; point it at a libunicorn\.so\.2 of Unicorn 2\.1 or newer, or unset it\n$/);
      oneLine(emu.stderr.trimEnd());
      const auto = vmscope(['run', '--kvm', '/nonexistent/kvm', 'examples/hello/hello.vmspec'], { env });
      assert.equal(auto.code, 125);
      assert.ok(auto.stderr.startsWith(`vmscope: no backend can run this VM: KVM: /nonexistent/kvm does not exist: fix the path given to --kvm (KVM's device is normally /dev/kvm); emulation: ${why}`), auto.stderr);
      oneLine(auto.stderr.trimEnd());
      const info = vmscope(['info', '--kvm', '/nonexistent/kvm'], { env });
      assert.equal(info.code, 125);
      assert.match(info.stdout, /^auto picks: {2}nothing: no backend can run a VM here$/m);
    }
  });

  test('no Unicorn: the debug adapter\'s launch error is the same line', async (t) => {
    if (HAS_KVM) return t.skip('this host has /dev/kvm, so the adapter would run KVM');
    const msg = await launchError(path.join(ROOT, 'examples/hello/hello.vmspec'), { VMSCOPE_UNICORN: '/nonexistent/libunicorn.so.2', VMSCOPE_ACCEL: '' });
    assert.ok(msg?.startsWith('no backend can run this VM: KVM: /dev/kvm does not exist'), msg);
    assert.match(msg!, /emulation: VMSCOPE_UNICORN=\/nonexistent\/libunicorn\.so\.2 does not exist; point it at a libunicorn\.so\.2 of Unicorn 2\.1 or newer, or unset it$/);
    oneLine(msg!);
  });
});

// ---- images and specs: the CLI, the language server, the debug adapter ----

interface SpecCase {
  name: string;
  files: (dir: string) => Record<string, string | Uint8Array>;
  /** The diagnostic `check` prints for it, after "<spec>:" (file:line:col), and its code in the language server. */
  check: { at: string; message: string; code: string; note?: string };
  /** What `run` prints (after "vmscope: "), when it differs from check's line. */
  run?: string;
}

const CASES: SpecCase[] = [
  {
    name: 'a missing image',
    files: () => ({ 'vm.vmspec': specText('build/guest.elf') }),
    check: { at: '4:10', code: 'image-missing', message: 'the image {dir}/build/guest.elf does not exist; build the guest first, or fix the path' },
    run: 'image {dir}/build/guest.elf does not exist; build the guest first (e.g. make), or fix boot.image',
  },
  {
    name: 'a directory as image',
    files: (dir) => (fs.mkdirSync(path.join(dir, 'build'), { recursive: true }), { 'vm.vmspec': specText('build') }),
    check: { at: '4:10', code: 'image-missing', message: 'the image {dir}/build is a directory; point boot.image at the image file' },
    run: 'image {dir}/build is a directory; point boot.image at a regular file',
  },
  {
    name: 'an empty image',
    files: () => ({ 'vm.vmspec': specText('guest.elf'), 'guest.elf': new Uint8Array(0) }),
    check: { at: '4:10', code: 'image-format', message: 'the image {dir}/guest.elf is empty; build the guest again (did the build fail?)' },
    run: '{dir}/guest.elf: the image is empty; build the guest again (did the build fail?)',
  },
  {
    name: 'a truncated ELF',
    files: () => ({ 'vm.vmspec': specText('guest.elf'), 'guest.elf': elf().subarray(0, 100) }),
    check: {
      at: '4:10',
      code: 'image-format',
      message: '{dir}/guest.elf: truncated ELF: program header 0 at offset 0x40 (+56) lies past the end of the file (100 bytes); the file is cut short: rebuild the guest or copy it again',
    },
  },
  {
    name: 'an ELF for another machine (AArch64)',
    files: () => ({ 'vm.vmspec': specText('guest.elf'), 'guest.elf': elf(183) }),
    check: {
      at: '4:10',
      code: 'image-format',
      message: '{dir}/guest.elf: the ELF file is for AArch64 (64-bit ARM), not x86 (EM_386 or EM_X86_64); build the guest for x86-64 or i386 (e.g. gcc -m64 or -m32, or an x86_64-elf- cross compiler)',
    },
  },
  {
    name: 'overlapping regions',
    files: () => ({
      'vm.vmspec': specText('guest.elf', 'regions:\n  - { name: a, gpa: 0x10000000, size: 1MiB, kind: ram }\n  - { name: b, gpa: 0x10080000, size: 1MiB, kind: mmio }\n'),
      'guest.elf': elf(),
    }),
    check: {
      at: '12:21',
      code: 'region-overlap',
      message: 'region "b" [0x10080000, 0x10180000) overlaps region "a" [0x10000000, 0x10100000); move it to 0x10100000 or above, or make one of them smaller',
      note: '11:5: note: region "a" is here',
    },
  },
  {
    name: 'memory above the host\'s RAM',
    // Beyond 4079 MiB guest RAM comes as ram regions above 4 GiB (memory would cover KVM's reserved pages).
    files: () => ({ 'vm.vmspec': specText('guest.elf', `regions:\n  - { name: big, gpa: 0x100000000, size: ${BIG_GIB * 1024 - 16}MiB, kind: ram }\n`), 'guest.elf': elf() }),
    check: {
      at: '11:5',
      code: 'host-memory',
      message: `guest RAM ${BIG_GIB} GiB (memory and ram regions) is more than this host's RAM ({ram}); lower memory or the ram regions to fit in the host's RAM`,
    },
  },
];

const RAM = os.totalmem() % 2 ** 30 === 0 ? `${os.totalmem() / 2 ** 30} GiB` : `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
const fill = (s: string, dir: string) => s.replace(/\{dir\}/g, dir).replace(/\{ram\}/g, RAM);

describe('bad inputs: images and specs', () => {
  let lsp: Lsp;
  before(async () => {
    lsp = new Lsp();
    await lsp.init();
  });
  after(async () => lsp.close());

  for (const c of CASES) {
    test(`${c.name}: check exits 1 with file:line:col, run exits 125 with one line, the server and the adapter say the same`, async () => {
      const dir = fixtureDir();
      for (const [f, data] of Object.entries(c.files(dir))) fs.writeFileSync(path.join(dir, f), data);
      const spec = path.join(dir, 'vm.vmspec');
      const expected = fill(c.check.message, dir);
      const line = `${spec}:${c.check.at}: error: ${expected} [${c.check.code}]`;

      const check = vmscope(['check', spec]);
      assert.equal(check.code, 1);
      const lines = check.stderr.split('\n').filter((l) => l && !/ info: /.test(l));
      assert.deepEqual(lines, [line, ...(c.check.note ? [`${spec}:${c.check.note}`] : [])]);

      const run = vmscope(['run', spec]);
      assert.equal(run.code, 125);
      const runLines = run.stderr.split('\n').filter(Boolean);
      if (c.run) assert.deepEqual(runLines, [`vmscope: ${fill(c.run, dir)}`]);
      else if (c.check.code === 'image-format') assert.deepEqual(runLines, [`vmscope: ${expected}`]);
      else assert.deepEqual(runLines, lines);

      const diags = await lsp.diagnostics(spec);
      const d = diags.find((x) => x.code === c.check.code && x.severity === 1);
      assert.ok(d, JSON.stringify(diags));
      assert.equal(d.message, expected);
      assert.equal(`${d.range.start.line + 1}:${d.range.start.character + 1}`, c.check.at);

      const launch = await launchError(spec);
      assert.ok(launch, 'the adapter launched a bad spec');
      assert.doesNotMatch(launch, /internal error/);
      if (c.run) assert.equal(launch, fill(c.run, dir));
      else if (c.check.code === 'image-format') assert.equal(launch, `${expected}`);
      else assert.equal(launch.split('\n')[0], line);
    });
  }

  test('an image the user may not read (as nobody): check and run say to check its permissions', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as nobody');
    const dir = fixtureDir({ 'guest.elf': elf(), 'vm.vmspec': specText('guest.elf') });
    for (let d = dir; d !== path.dirname(d) && d.startsWith(os.tmpdir() + path.sep); d = path.dirname(d)) fs.chmodSync(d, 0o755);
    fs.chmodSync(path.join(dir, 'guest.elf'), 0o600);
    const spec = path.join(dir, 'vm.vmspec');
    const asNobody = { uid: 65534, gid: 65534 };
    const check = vmscope(['check', spec], asNobody);
    if (/EACCES/.test(check.stderr) && check.stderr.includes(ROOT)) return t.skip('the checkout is not readable by nobody');
    assert.equal(check.code, 1);
    assert.equal(check.stderr.split('\n')[0], `${spec}:4:10: error: the image ${dir}/guest.elf is not readable (permission denied); check its permissions [image-missing]`);
    const run = vmscope(['run', spec], asNobody);
    assert.equal(run.code, 125);
    assert.equal(run.stderr, `vmscope: image ${dir}/guest.elf is not readable; check its permissions\n`);
  });

  test('a spec path with spaces and non-ASCII: check, run, the server and the adapter all find the spec and its image', async (t) => {
    const dir = fixtureDir({ 'guest ü.elf': fs.readFileSync(HELLO_ELF) }, 'my vms é 日本');
    const spec = path.join(dir, 'hello wörld.vmspec');
    fs.writeFileSync(spec, specText('guest ü.elf'));
    const check = vmscope(['check', spec]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, `${spec}: ok (elf 64-bit, entry 0x100000, 2 segments)\n`);
    const diags = await lsp.diagnostics(spec);
    assert.deepEqual(diags.filter((d) => d.severity === 1 || d.severity === 2), []);
    // A problem in such a spec is printed with its path intact.
    const bad = path.join(dir, 'bad ü.vmspec');
    fs.writeFileSync(bad, specText('nope ü.elf'));
    const r = vmscope(['check', bad]);
    assert.equal(r.stderr.split('\n')[0], `${bad}:4:10: error: the image ${dir}/nope ü.elf does not exist; build the guest first, or fix the path [image-missing]`);
    if (!EMU_OK && !HAS_KVM) return t.skip(`running needs a backend: ${EMU_PROBLEM}`);
    const run = vmscope(['run', '--timeout', '20', spec]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Hello from the guest\n');
    assert.equal(await launchError(spec), undefined);
  });
});

// ---- the gdb stub's port ----

describe('bad inputs: the gdb port', () => {
  test('a port in use: one line with another port to try, exit 125, and no VM left running', async (t) => {
    if (!EMU_OK && !HAS_KVM) return t.skip(`needs a backend: ${EMU_PROBLEM}`);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, [CLI, 'run', '--gdb', `127.0.0.1:${port}`, 'examples/hello/hello.vmspec'], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 125);
      const lines = stderr.split('\n').filter(Boolean).filter((l) => !/running under emulation$/.test(l));
      assert.deepEqual(lines, [`vmscope: cannot serve gdb on 127.0.0.1:${port}: the port is in use; pick another port (--gdb ${port + 1}) or stop the program that holds it`]);
    } finally {
      holder.close();
    }
  });

  test('an address no interface has: the user\'s, with the fix', (t) => {
    if (!EMU_OK && !HAS_KVM) return t.skip(`needs a backend: ${EMU_PROBLEM}`);
    const r = vmscope(['run', '--gdb', '192.0.2.1:5555', '--timeout', '5', 'examples/hello/hello.vmspec']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr.trimEnd().split('\n').pop(), 'vmscope: cannot serve gdb on 192.0.2.1:5555: no network interface of this host has the address 192.0.2.1; use 127.0.0.1 or an address of this host');
  });
});

// ---- the command line ----

describe('bad inputs: the command line', () => {
  const cases: Array<[string[], string]> = [
    [['run', '--timeout', '-1', 'x.vmspec'], '--timeout needs a positive number of seconds, not "-1"'],
    [['run', '--timeout', '0', 'x.vmspec'], '--timeout needs a positive number of seconds, not "0"'],
    [['run', '--timeout=soon', 'x.vmspec'], '--timeout needs a positive number of seconds, not "soon"'],
    [['run', 'x.vmspec', '--timeout'], '--timeout needs a value: a positive number of seconds'],
    [['run', '--gdb', '--gdb-wait', 'x.vmspec'], '--gdb needs a value: [host:]port'],
    [['run', '--gdb', '99999', 'x.vmspec'], '--gdb takes [host:]port (a port alone listens on 127.0.0.1; port 0 picks a free one), not "99999"'],
    [['run', '--accel', 'tcg', 'x.vmspec'], '--accel is auto, kvm or emu, not "tcg"'],
    [['run', '--timout', '3', 'x.vmspec'], 'run has no option --timout (did you mean --timeout?)'],
    [['run', '-t', '3', 'x.vmspec'], 'run has no option -t; its options are --timeout, --stats, --kvm, --accel, --gdb, --gdb-wait'],
    [['run', '--stats=yes', 'x.vmspec'], '--stats takes no value (given "yes")'],
    [['run'], 'run needs a spec file'],
    [['run', 'a.vmspec', 'b.vmspec'], 'run takes one spec file, not 2 ("a.vmspec", "b.vmspec")'],
    [['check'], 'check needs at least one spec file'],
    [['check', '--json', 'x.vmspec'], 'check has no option --json; it takes no options'],
    [['info', 'x'], 'info takes no arguments, not "x"'],
    [['info', '--kvm'], "--kvm needs a value: the path of KVM's device (/dev/kvm)"],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ];
  for (const [args, says] of cases) {
    test(`vmscope ${args.join(' ')}: exit 2, one line with the usage hint`, () => {
      const r = vmscope(args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `vmscope: ${says}${USAGE}`);
      assert.equal(r.stdout, '');
    });
  }
});

describe('bad inputs: the timeout', () => {
  test('--timeout beyond what a timer holds (99999999999 s) waits, rather than ending the run at once with a warning', (t) => {
    if (!EMU_OK && !HAS_KVM) return t.skip(`needs a backend: ${EMU_PROBLEM}`);
    const r = vmscope(['run', '--timeout', '99999999999', 'examples/hello/hello.vmspec']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Hello from the guest\n');
    assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning|timed out/);
  });
});

test('vmscope run --help (and -h) prints the help, exit 0, rather than "no option --help"', () => {
  for (const flag of ['--help', '-h']) {
    const r = vmscope(['run', flag]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: vmscope <command> \[options\]/);
    assert.equal(r.stderr, '');
  }
});
