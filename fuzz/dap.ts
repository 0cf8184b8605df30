// The DAP sequences part: each case starts the real adapter bundle as VS Code
// does (a child process on stdio) and sends it 50 random requests, valid and
// malformed: wrong or missing arguments, unknown threads, frames and variable
// references, requests before launch and after disconnect, steps and
// continues sent without waiting (so they overlap), garbage for breakpoints,
// memory, disassembly, evaluate and vmscope's own requests, and messages that
// are not requests at all. It checks that every request is answered (an error
// response counts) with a message fit for a user, that the adapter does not
// exit until told to, that its threads return to the count before launch once
// the VM is terminated (no vCPU thread left behind), and that it exits cleanly
// after disconnect.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Rng } from './rng';
import type { Finding, FuzzPart, PartOptions, PartResult } from './harness';
import { percentile } from './harness';
import { spawnAdapter, within, type Pending } from './dap-wire';
import { threadCount, threadsSettle } from './proc-stats';

const ROOT = path.resolve(__dirname, '..', '..');
export const ADAPTER = path.join(ROOT, 'dist', 'debug-adapter.js');
const HELLO_C = path.join(ROOT, 'examples', 'hello', 'hello.c');

/** The guests a sequence debugs: short and long runs, int3, watchpoints, two vCPUs. */
export const DAP_GUESTS = [
  path.join(ROOT, 'examples', 'hello', 'hello.vmspec'),
  ...['spin', 'int3', 'watch', 'smp', 'hlt', 'exceptions', 'echo'].map((g) => path.join(ROOT, 'test', 'guests', `${g}.vmspec`)),
];

/** How long a request may go unanswered: generous, since the machine is shared and the emulator is slow. */
const ANSWER_MS = Number(process.env.VMSCOPE_FUZZ_ANSWER_MS ?? 20_000);
export const REQUESTS_PER_SEQUENCE = 50;

/** Values that are wrong almost everywhere. */
const GARBAGE: readonly unknown[] = [null, -1, 0, 1, 2 ** 31, 2 ** 53, 1e308, -1e308, 0.5, '', 'x', '0x', '-1', '0x1_0000_0000_0000_0000', [], {}, true, [1, 2], { a: 1 }, '\u{1f4a5}', '\u001b[2J', 'a'.repeat(5000)];

/** One request of a sequence: what to send, and whether to wait for its answer before the next. */
export interface Op {
  command: string;
  args: unknown;
  wait: boolean;
  /** A message that is not a request at all (sent raw; nothing answers it). */
  raw?: string;
}

/** What the sequence learned from answers, so that later requests can use real ids. */
interface Seen {
  frames: number[];
  refs: number[];
}

function maybe<T>(rng: Rng, p: number, v: () => T): T | undefined {
  return rng.chance(p) ? v() : undefined;
}

function garbage(rng: Rng): unknown {
  return rng.pick(GARBAGE);
}

function threadId(rng: Rng): unknown {
  return rng.chance(0.7) ? rng.pick([0, 0, 0, 1]) : rng.pick([-1, 2, 99, 2 ** 31, 0.5, '0', null, undefined, {}]);
}

function frameId(rng: Rng, seen: Seen): unknown {
  if (seen.frames.length && rng.chance(0.6)) return rng.pick(seen.frames);
  return rng.pick([0, 1, 2, 10_000, 10_001, 9_999, -1, 2 ** 40, 'x', undefined, null, 1.5]);
}

function varRef(rng: Rng, seen: Seen): unknown {
  if (seen.refs.length && rng.chance(0.6)) return rng.pick(seen.refs);
  return rng.pick([0, 1, 2, 3, 100, 1000, 1_000_000, -5, 2 ** 31, 'x', undefined, null]);
}

function address(rng: Rng): unknown {
  return rng.chance(0.5)
    ? rng.pick(['0x100000', '0x100010', '0x1000', '0x0', '0xfffffffffffff000', '0xffffffffffffffff', 'gpa:0x100000', 'gva:0x100000', 'main', '_start', 'rip', '$rip'])
    : rng.pick(['', 'zz', '0x', '-0x10', '0x1_0000_0000_0000_0000', 'gpa:', 'hva:0x1', '((', '1/0', '*', garbage(rng)]);
}

function expression(rng: Rng): unknown {
  return rng.chance(0.6)
    ? rng.pick(['rax', 'rip', '$rip', 'rsp + 8', '*(u64*)rsp', 'main', '_start', 'cr3', 'efer', 'translate rip', 'translate 0x100000', 'phys(0x100000)', '[0x100000]', 'u8[rip]', '1/0', '0xffffffffffffffff * 2'])
    : rng.pick(['', '(', ')', '**', 'translate', 'translate (', 'nosuch', '$', 'rax = 5', '1 +', 'x'.repeat(3000), '((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))'.repeat(20), garbage(rng)]);
}

function launchArgs(rng: Rng, spec: string): unknown {
  const valid = { spec, stopOnEntry: rng.chance(0.7), ...(rng.chance(0.2) ? { timeout: rng.pick([1, 5, 30]) } : {}) };
  if (rng.chance(0.75)) return valid;
  return rng.pick<() => unknown>([
    () => undefined,
    () => ({}),
    () => ({ spec: garbage(rng) }),
    () => ({ spec: path.join(ROOT, 'test', 'guests', 'missing.vmspec') }),
    () => ({ spec: ROOT }),
    () => ({ ...valid, memory: garbage(rng) }),
    () => ({ ...valid, accel: garbage(rng) }),
    () => ({ ...valid, msrs: rng.pick([garbage(rng), [garbage(rng)], 'x']) }),
    () => ({ ...valid, image: garbage(rng) }),
    () => ({ ...valid, symbols: rng.pick([garbage(rng), [garbage(rng)], ['/nonexistent']]) }),
    () => ({ ...valid, timeout: garbage(rng) }),
    () => ({ ...valid, traceBufferSize: garbage(rng) }),
    () => ({ ...valid, breakOnExit: rng.pick([garbage(rng), [garbage(rng)], ['io', 'nosuch']]) }),
    () => ({ ...valid, disassemblySyntax: garbage(rng) }),
    () => ({ ...valid, serialConsole: garbage(rng) }),
  ])();
}

/** One random request (or raw message), given the sequence's state. */
function randomOp(rng: Rng, spec: string, seen: Seen): Op {
  const wait = rng.chance(0.6);
  const op = (command: string, args: unknown): Op => ({ command, args, wait });
  const kind = rng.below(100);
  if (kind < 4) return op('initialize', rng.chance(0.7) ? { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' } : garbage(rng));
  if (kind < 8) return op('launch', launchArgs(rng, spec));
  if (kind < 11) return op('configurationDone', rng.chance(0.8) ? undefined : garbage(rng));
  if (kind < 15) return op('threads', rng.chance(0.9) ? undefined : garbage(rng));
  if (kind < 21) return op('stackTrace', rng.chance(0.1) ? garbage(rng) : { threadId: threadId(rng), startFrame: maybe(rng, 0.3, () => rng.pick([0, 1, 5, -1, 1e9, garbage(rng)])), levels: maybe(rng, 0.3, () => rng.pick([1, 20, 0, -3, garbage(rng)])) });
  if (kind < 25) return op('scopes', rng.chance(0.1) ? garbage(rng) : { frameId: frameId(rng, seen) });
  if (kind < 30) return op('variables', rng.chance(0.1) ? garbage(rng) : { variablesReference: varRef(rng, seen), format: maybe(rng, 0.3, () => rng.pick([{ hex: true }, { hex: false }, garbage(rng)])), start: maybe(rng, 0.2, () => garbage(rng)), count: maybe(rng, 0.2, () => garbage(rng)) });
  if (kind < 32) return op('setVariable', { variablesReference: varRef(rng, seen), name: rng.pick(['rax', 'rip', 'rflags', 'cr0', 'cs', 'nosuch', garbage(rng)]), value: rng.pick(['0x10', '0', 'rax + 1', 'garbage', '', garbage(rng)]) });
  if (kind < 37) return op('evaluate', { expression: expression(rng), frameId: maybe(rng, 0.5, () => frameId(rng, seen)), context: rng.pick(['watch', 'repl', 'hover', 'clipboard', 'variables', undefined, garbage(rng)]) });
  if (kind < 38) return op('completions', { text: rng.pick(['$r', 'ma', '', garbage(rng)]), column: rng.pick([1, 3, 0, -1, 1000, garbage(rng)]), frameId: maybe(rng, 0.3, () => frameId(rng, seen)) });
  if (kind < 42)
    return op('setBreakpoints', {
      source: rng.chance(0.7) ? { path: HELLO_C } : rng.pick([{ path: '/nonexistent.c' }, {}, { path: garbage(rng) }, garbage(rng)]),
      breakpoints: rng.chance(0.8)
        ? Array.from({ length: rng.below(4) }, () => ({
            line: rng.chance(0.7) ? rng.between(60, 85) : garbage(rng),
            condition: maybe(rng, 0.2, () => expression(rng)),
            hitCondition: maybe(rng, 0.15, () => rng.pick(['2', '>1', '%2', 'x', garbage(rng)])),
            logMessage: maybe(rng, 0.15, () => rng.pick(['rax={rax}', '{', '{nosuch}', garbage(rng)])),
          }))
        : garbage(rng),
      lines: maybe(rng, 0.1, () => garbage(rng)),
    });
  if (kind < 44) return op('setFunctionBreakpoints', { breakpoints: rng.chance(0.8) ? Array.from({ length: rng.below(3) }, () => ({ name: rng.pick(['main', '_start', 'uart_puts', 'spin_loop', 'nosuch', '*0x100000', garbage(rng)]), condition: maybe(rng, 0.2, () => expression(rng)), hitCondition: maybe(rng, 0.1, () => garbage(rng)) })) : garbage(rng) });
  if (kind < 47) return op('setInstructionBreakpoints', { breakpoints: rng.chance(0.8) ? Array.from({ length: rng.below(3) }, () => ({ instructionReference: address(rng), offset: maybe(rng, 0.3, () => rng.pick([1, -1, 2 ** 40, garbage(rng)])), condition: maybe(rng, 0.2, () => expression(rng)) })) : garbage(rng) });
  if (kind < 50)
    return op('setExceptionBreakpoints', {
      filters: rng.chance(0.8) ? rng.pick([[], ['io'], ['hlt', 'io'], ['mmio'], ['nosuch'], [garbage(rng)]]) : garbage(rng),
      filterOptions: maybe(rng, 0.3, () => (rng.chance(0.7) ? [{ filterId: rng.pick(['io', 'hlt', 'nosuch', garbage(rng)]), condition: maybe(rng, 0.5, () => rng.pick(['port == 0x3f8', 'port ==', garbage(rng)])), mode: maybe(rng, 0.3, () => rng.pick(['log', 'break', 'x', garbage(rng)])) }] : garbage(rng))),
    });
  if (kind < 52) return op('dataBreakpointInfo', { name: rng.pick(['rax', '0x100000', '*(u64*)0x1000', 'message', 'nosuch', garbage(rng)]), variablesReference: maybe(rng, 0.4, () => varRef(rng, seen)), asAddress: maybe(rng, 0.3, () => garbage(rng)), bytes: maybe(rng, 0.3, () => rng.pick([1, 8, 0, -1, 2 ** 40, garbage(rng)])) });
  if (kind < 55) return op('setDataBreakpoints', { breakpoints: rng.chance(0.8) ? Array.from({ length: rng.below(5) }, () => ({ dataId: rng.pick(['0x1000/8', '0x100000/1', 'gpa:0x1000/4', '0x1000/3', 'x', '/', garbage(rng)]), accessType: rng.pick(['read', 'write', 'readWrite', undefined, garbage(rng)]), condition: maybe(rng, 0.2, () => expression(rng)) })) : garbage(rng) });
  if (kind < 59) return op('readMemory', { memoryReference: address(rng), offset: maybe(rng, 0.4, () => rng.pick([0, 16, -16, -0x200000, 2 ** 53, garbage(rng)])), count: rng.pick([1, 16, 256, 4096, 0, -1, 2 ** 31, 2 ** 53, garbage(rng)]) });
  if (kind < 61) return op('writeMemory', { memoryReference: address(rng), offset: maybe(rng, 0.4, () => rng.pick([0, 16, -16, garbage(rng)])), data: rng.pick(['kJCQ', '', 'AAAA', '!!!!', 'A'.repeat(100_000), garbage(rng)]), allowPartial: maybe(rng, 0.3, () => garbage(rng)) });
  if (kind < 65) return op('disassemble', { memoryReference: address(rng), offset: maybe(rng, 0.3, () => rng.pick([0, 7, -3, garbage(rng)])), instructionOffset: maybe(rng, 0.4, () => rng.pick([0, -10, -200, 10, 2 ** 31, garbage(rng)])), instructionCount: rng.pick([1, 10, 50, 0, -1, 100_000, 2 ** 31, garbage(rng)]), resolveSymbols: maybe(rng, 0.3, () => garbage(rng)) });
  if (kind < 80) {
    const command = rng.pick(['continue', 'next', 'stepIn', 'stepOut', 'pause', 'next', 'stepIn', 'continue', 'pause']);
    return { command, args: rng.chance(0.08) ? garbage(rng) : { threadId: threadId(rng), granularity: maybe(rng, 0.4, () => rng.pick(['instruction', 'line', 'statement', 'x', garbage(rng)])), singleThread: maybe(rng, 0.2, () => garbage(rng)) }, wait: rng.chance(0.3) };
  }
  if (kind < 82) return op('restart', rng.chance(0.8) ? undefined : garbage(rng));
  if (kind < 84) return op('terminate', rng.chance(0.9) ? undefined : garbage(rng));
  if (kind < 92) {
    const command = rng.pick(['exitTrace', 'exportExitTrace', 'translate', 'vmInfo', 'serialInput']);
    const args =
      command === 'translate'
        ? { address: address(rng), vcpu: maybe(rng, 0.4, () => threadId(rng)), access: maybe(rng, 0.3, () => rng.pick([{ write: true }, { user: true, execute: true }, garbage(rng)])) }
        : command === 'serialInput'
          ? rng.pick([{ text: 'hi\n' }, { bytes: [104, 105] }, { bytes: [300, -1, 1.5] }, { bytes: garbage(rng) }, { text: garbage(rng) }, garbage(rng)])
          : rng.chance(0.5)
            ? { max: rng.pick([1, 10, 0, -1, 1e9, garbage(rng)]) }
            : garbage(rng);
    return op(command, args);
  }
  if (kind < 97) return op(rng.pick(['frobnicate', '', 'source', 'loadedSources', 'modules', 'cancel', 'gotoTargets', 'stepBack', 'reverseContinue', 'restartFrame', 'goto', 'setExpression', 'exceptionInfo', 'attach', 'breakpointLocations', 'stepInTargets', '__proto__', 'constructor', 'toString']), rng.chance(0.5) ? undefined : garbage(rng));
  // Messages that are not requests: JSON of the wrong shape, and text that is not JSON.
  const raw = rng.pick(['null', '42', '[]', '"request"', '{}', '{"type":"request"}', '{"type":"request","seq":999001,"command":7}', '{"type":"response","request_seq":99999,"success":true,"command":"x"}', '{"type":"event","event":"stopped"}', '{"type":"request","seq":999003,"command":"threads","arguments":"x"}', '{not json', '\u0000\u0001']);
  return { command: '(raw)', args: undefined, wait: false, raw };
}

/** The case's guest and its 50 operations; the same (seed, index) always gives the same sequence. */
export function generateSequence(seed: number, index: number): { spec: string; prologue: boolean; ops: Op[] } {
  const rng = Rng.forCase(seed, index);
  const spec = rng.pick(DAP_GUESTS);
  const seen: Seen = { frames: [], refs: [] };
  const ops: Op[] = [];
  // Most sequences start as an editor does, so that the rest reach a live VM; the others start anywhere.
  const prologue = rng.chance(0.8);
  if (prologue) {
    ops.push({ command: 'initialize', args: { adapterID: 'vmscope', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' }, wait: true });
    ops.push({ command: 'launch', args: { spec, stopOnEntry: rng.chance(0.75) }, wait: true });
    ops.push({ command: 'configurationDone', args: undefined, wait: true });
  }
  while (ops.length < REQUESTS_PER_SEQUENCE) {
    const op = randomOp(rng, spec, seen);
    // A disconnect ends the session: rare, and whatever follows it is sent at once (requests after disconnect).
    if (rng.chance(0.02)) {
      ops.push({ command: 'disconnect', args: rng.chance(0.8) ? { terminateDebuggee: rng.chance(0.5) } : garbage(rng), wait: false });
      continue;
    }
    ops.push(op);
  }
  return { spec, prologue, ops };
}

/** A message a user could be shown, or why not: a stack, a JavaScript error's wording, an internal error. */
export function badMessage(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  if (/\n\s+at |\(\S+:\d+:\d+\)/.test(message)) return 'a stack trace';
  if (/\{_stack\}|\{_exception\}/.test(message)) return 'an unformatted internal error';
  if (/Cannot read propert|Cannot set propert|is not a function|is not iterable|is not defined|Cannot convert|Invalid array length|Maximum call stack|Invalid typed array length|out of range index|Do not know how to serialize|Unexpected token|\binternal error\b/i.test(message)) return 'a JavaScript error';
  if (message.includes('\n') && message.length > 2000) return 'a message too long to read';
  return undefined;
}

interface SequenceOutcome {
  findings: string[];
  /** Requests sent (raw messages that are not requests not counted) and answered. */
  sent: number;
  answered: number;
  /** Answer times by command, ms. */
  byCommand: Map<string, number[]>;
  latencies: number[];
  threadsBefore: number | undefined;
  threadsAfter: number | undefined;
  exitMs: number | undefined;
}

/** Runs one sequence against a fresh adapter process and judges it. */
export function runSequence(seed: number, index: number): Promise<SequenceOutcome> {
  return runOps(generateSequence(seed, index).ops);
}

/** Runs the given operations against a fresh adapter process and judges them (a reduced case replays this way). */
export async function runOps(ops: readonly Op[]): Promise<SequenceOutcome> {
  const ad = spawnAdapter(ADAPTER);
  const pid = ad.child.pid!;
  const wire = ad.wire;
  const seen: Seen = { frames: [], refs: [] };
  const findings: string[] = [];
  const latencies: number[] = [];
  const byCommand = new Map<string, number[]>();
  const pending: Array<Pending & { at: number; afterDisconnect: boolean }> = [];
  // Threads before any VM: taken once the process has settled after initialize (or its first request).
  let threadsBefore: number | undefined;
  let disconnected: Pending | undefined;
  let exitedEarly = false;
  const sentSeqs = new Set<number>();
  ad.child.on('exit', () => {
    if (!disconnected) exitedEarly = true;
  });

  const judge = (p: Pending & { at: number }, r: DebugProtocol.Response | undefined) => {
    if (!r) {
      findings.push(`request #${p.at} ${p.command || '(empty)'} got no answer`);
      return;
    }
    latencies.push(Date.now() - p.sentAt);
    byCommand.set(p.command, [...(byCommand.get(p.command) ?? []), Date.now() - p.sentAt]);
    if (r.command !== p.command && p.command !== '') findings.push(`request #${p.at} ${p.command} was answered as ${r.command}`);
    const why = r.success ? undefined : badMessage(r.message ?? (r.body as { error?: { format?: string } } | undefined)?.error?.format);
    if (why) findings.push(`request #${p.at} ${p.command} answered with ${why}: ${JSON.stringify(r.message).slice(0, 160)}`);
    const body = r.body as Record<string, unknown> | undefined;
    if (r.success && p.command === 'stackTrace') for (const f of (body?.stackFrames as Array<{ id: number }> | undefined) ?? []) if (!seen.frames.includes(f.id)) seen.frames.push(f.id);
    if (r.success && (p.command === 'scopes' || p.command === 'variables'))
      for (const v of ((body?.scopes ?? body?.variables) as Array<{ variablesReference: number }> | undefined) ?? []) if (v.variablesReference > 0 && !seen.refs.includes(v.variablesReference)) seen.refs.push(v.variablesReference);
  };

  for (let at = 0; at < ops.length; at++) {
    const op = ops[at]!;
    if (op.raw !== undefined) {
      wire.raw(op.raw);
      continue;
    }
    const p = { ...wire.request(op.command, op.args), at, afterDisconnect: disconnected !== undefined };
    sentSeqs.add(p.seq);
    // A disconnect with malformed arguments is refused, and the session goes on.
    const wellFormed = op.args === undefined || (typeof op.args === 'object' && op.args !== null && !Array.isArray(op.args));
    if (op.command === 'disconnect' && wellFormed && !disconnected) disconnected = p;
    // After a disconnect everything is sent at once, before its answer: all of it must still be answered.
    if (op.wait && !disconnected) judge(p, await within(p, ANSWER_MS));
    else pending.push(p);
    if (threadsBefore === undefined && op.command === 'initialize') {
      await within(p, ANSWER_MS);
      await new Promise((r) => setTimeout(r, 50));
      threadsBefore = threadCount(pid);
    }
    if (exitedEarly) break;
  }
  // The unanswered ones wait together, so that a dead adapter costs one timeout, not one per request.
  const answers = await Promise.all(pending.map((p) => within(p, ANSWER_MS)));
  pending.forEach((p, i) => judge(p, answers[i]));
  if (exitedEarly) findings.push(`the adapter exited unasked (${String(await ad.exited(0))}) after request #${ops.length}`);

  let threadsAfter: number | undefined;
  if (!disconnected && !exitedEarly) {
    // The end of any session: terminate, and the vCPU threads must be gone while the adapter still runs.
    const t = { ...wire.request('terminate'), at: ops.length, afterDisconnect: false };
    sentSeqs.add(t.seq);
    judge(t, await within(t, ANSWER_MS));
    if (threadsBefore !== undefined) {
      threadsAfter = await threadsSettle(pid, threadsBefore, 3000);
      if (threadsAfter !== undefined && threadsAfter > threadsBefore) findings.push(`${threadsAfter - threadsBefore} thread(s) left behind after terminate (${threadsBefore} before launch, ${threadsAfter} after)`);
    }
    disconnected = { ...wire.request('disconnect', { terminateDebuggee: true }), afterDisconnect: false } as Pending;
    sentSeqs.add(disconnected.seq);
    judge({ ...disconnected, at: ops.length + 1 }, await within(disconnected, ANSWER_MS));
  }
  const t0 = Date.now();
  let status = await ad.exited(5000);
  const exitMs = status === undefined ? undefined : Date.now() - t0;
  if (status === undefined && !exitedEarly) {
    findings.push('the adapter did not exit within 5 s of disconnect');
    ad.child.kill('SIGKILL');
    status = await ad.exited(5000);
  } else if (status !== 0 && !exitedEarly) findings.push(`the adapter exited with ${String(status)} after disconnect`);
  // A second response to one of our requests (raw messages may carry seqs of their own, and get answered).
  for (const r of wire.strayResponses.filter((x) => sentSeqs.has(x.request_seq))) findings.push(`a response nobody asked for: ${r.command} to request_seq ${r.request_seq}`);
  const err = ad.stderr();
  if (/vmscope debug adapter:|more than one response|\n\s+at /.test(err)) findings.push(`stderr: ${err.trim().split('\n').slice(0, 2).join(' | ').slice(0, 240)}`);
  return { findings, sent: sentSeqs.size, answered: latencies.length, byCommand, latencies, threadsBefore, threadsAfter, exitMs };
}

export const dapPart: FuzzPart = {
  name: 'dap',
  defaultRuns: 1000,
  async run(opts: PartOptions): Promise<PartResult> {
    const findings: Finding[] = [];
    const latencies: number[] = [];
    const exitMs: number[] = [];
    let answered = 0;
    let sent = 0;
    const byCommand = new Map<string, number[]>();
    const started = Date.now();
    for (let i = 0; i < opts.runs; i++) {
      const out = await runSequence(opts.seed, i);
      answered += out.answered;
      sent += out.sent;
      for (const [c, ms] of out.byCommand) byCommand.set(c, [...(byCommand.get(c) ?? []), ...ms]);
      latencies.push(...out.latencies);
      if (out.exitMs !== undefined) exitMs.push(out.exitMs);
      if (out.findings.length) {
        const file = path.join(opts.workDir, `dap-${opts.seed}-${i}.json`);
        fs.writeFileSync(file, JSON.stringify({ seed: opts.seed, index: i, ...generateSequence(opts.seed, i), findings: out.findings }, null, 1));
        for (const what of out.findings) {
          findings.push({ index: i, what, reproducer: file });
          opts.log(`#${i}: ${what}`);
        }
      }
      if ((i + 1) % 50 === 0) opts.log(`${i + 1}/${opts.runs} sequences, ${findings.length} findings, ${((Date.now() - started) / (i + 1)).toFixed(0)} ms per sequence`);
    }
    return {
      part: 'dap',
      runs: opts.runs,
      findings,
      figures: {
        'requests sent': String(sent),
        answered: String(answered),
        'answer p50': `${percentile(latencies, 50)} ms`,
        'answer p99': `${percentile(latencies, 99)} ms`,
        'answer max': `${Math.max(0, ...latencies)} ms`,
        'slowest p99': [...byCommand]
          .map(([c, ms]) => [c, percentile(ms, 99)] as const)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([c, p]) => `${c || '(empty)'} ${p} ms`)
          .join(', '),
        'exit after disconnect p99': `${percentile(exitMs, 99)} ms`,
        'per sequence': `${((Date.now() - started) / opts.runs).toFixed(0)} ms`,
      },
    };
  },
};
