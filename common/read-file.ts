// Reading a file a user named (a spec, a boot image, an initrd) without trusting what it is: a FIFO, /dev/zero
// or /dev/urandom must not block or fill memory. The file is opened non-blocking (so a FIFO with no writer does
// not hang the open), checked to be a regular file on the opened descriptor (no race with a rename), and read
// for at most the size it had when opened, and at most `limit` bytes.

import * as fs from 'node:fs';

export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; problem: string; code?: string };

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'does not exist',
  EACCES: 'is not readable (permission denied)',
  EPERM: 'is not readable (permission denied)',
  EISDIR: 'is a directory',
  ENOTDIR: 'has a parent that is not a directory',
  ELOOP: 'is a loop of symbolic links',
  ENAMETOOLONG: 'has too long a name',
};

/** What a non-regular file is, for "… is a character device, not a regular file". */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Why `file` cannot be read as a regular file, in words that follow its name ("does not exist", "is a
 * character device, not a regular file"), or undefined when it can. Stats only; never opens the file.
 */
export function regularFileProblem(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    return errnoProblem(e);
  }
  if (!st.isFile()) return kindProblem(st);
  return undefined;
}

/**
 * Reads a regular file of at most `limit` bytes (`what` names it in the too-big message), or only its first
 * `head` bytes when given (then any size is fine). Never throws.
 */
export function readRegularFile(file: string, limit: number, what = 'the file', head?: number): ReadResult {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, problem: errnoProblem(e), ...(code !== undefined ? { code } : {}) };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { ok: false, problem: kindProblem(st), code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' };
    if (head === undefined && st.size > limit) return { ok: false, problem: `is ${sizeText(st.size)}, more than ${what} may be (${sizeText(limit)})`, code: 'EFBIG' };
    // The size as opened bounds the read: a file that grows while we read it (a log, a /proc file) cannot run on.
    const bytes = Buffer.allocUnsafe(head === undefined ? st.size : Math.min(head, st.size));
    let done = 0;
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return { ok: true, bytes: done === bytes.length ? bytes : bytes.subarray(0, done) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, problem: errnoProblem(e), ...(code !== undefined ? { code } : {}) };
  } finally {
    fs.closeSync(fd);
  }
}

/** At most `n` bytes from the start of a regular file (empty when it cannot be read; the caller checked it first). */
export function readRegularHead(file: string, n: number): Uint8Array {
  const r = readRegularFile(file, Number.MAX_SAFE_INTEGER, 'the file', n);
  return r.ok ? r.bytes : new Uint8Array(0);
}

function kindProblem(st: fs.Stats): string {
  return st.isDirectory() ? 'is a directory' : `is ${fileKind(st)}, not a regular file`;
}

function errnoProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? ERRNO_WORDS[code] : undefined) ?? `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`;
}

function sizeText(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1).replace(/\.0$/, '')} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${n} bytes`;
}
