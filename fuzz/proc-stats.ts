// What a process holds, read from /proc (Linux): threads, resident memory and
// open file descriptors, and its child processes. The lifecycle and DAP parts
// sample these to show that sessions leave nothing behind.

import * as fs from 'node:fs';

export interface ProcSample {
  threads: number;
  rssKiB: number;
  fds: number;
}

/** `pid`'s threads, RSS and open fds now; undefined when it is gone. */
export function sample(pid: number): ProcSample | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { threads: field('Threads'), rssKiB: field('VmRSS'), fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** `pid`'s thread count, or undefined when it is gone. */
export function threadCount(pid: number): number | undefined {
  return sample(pid)?.threads;
}

/** The pids whose parent is `pid` (live or zombie). */
export function childrenOf(pid: number): number[] {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return kids ? kids.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

/** Whether a process `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Polls until `pid`'s thread count is at most `limit`, for up to `timeoutMs` (vCPU worker threads take a few ms to
 * go after the machine reports its end). Returns the last count seen (undefined when the process is gone).
 */
export async function threadsSettle(pid: number, limit: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = threadCount(pid);
    if (n === undefined || n <= limit || Date.now() >= deadline) return n;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The least-squares slope of `ys` against `xs` (per unit of x); 0 for fewer than two points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
