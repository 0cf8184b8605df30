#!/usr/bin/env node
// Builds the initramfs for vmscope's Linux guest (examples/linux): a gzip'd
// cpio archive in the "newc" format that holds Debian's busybox-static and an
// /init that mounts proc, sysfs and devtmpfs, prints a marker line and starts
// a shell on the console, so a `/ #` prompt appears on ttyS0.
//
//   node scripts/guests/make-initramfs.mjs [--out FILE] [--force]
//
// busybox comes from `scripts/guests/fetch-deb.sh busybox-static` (apt-get
// download + dpkg -x). The archive goes to FILE, by default
// $CACHE/linux/initramfs.cpio.gz (CACHE as in fetch-deb.sh). Skips the work
// when the output exists, unless --force. No dependencies beyond node.
//
// The newc layout follows the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst: per entry a 110-byte ASCII header ("070701" and thirteen
// 8-digit hex fields), the NUL-terminated name padded to a multiple of 4 from
// the header's start, then the data padded to 4; a "TRAILER!!!" entry ends it.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const cache = resolve(process.env.VMSCOPE_GUESTS_CACHE ?? join(here, '..', '..', 'guests-cache'));

// The first line /init prints; tests and the benchmark may wait for it.
const INIT_MARKER = 'vmscope-initramfs: init started';

const INIT_SCRIPT = `#!/bin/sh
# /init of vmscope's busybox initramfs (made by scripts/guests/make-initramfs.mjs).
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "${INIT_MARKER}"
# cttyhack opens the real console (ttyS0) as the controlling terminal, so the
# shell gets job control and Ctrl-C.
exec setsid cttyhack sh
`;

// File type bits of st_mode (POSIX <sys/stat.h>).
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** One archive member; `data` is the file's bytes or a symlink's target. */
function entry(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
  return { name, mode, data, rdev };
}

function pad4(length) {
  return (4 - (length % 4)) % 4;
}

/** Serialises members as newc; inode numbers are just their positions. */
function newc(members) {
  const mtime = Number(process.env.SOURCE_DATE_EPOCH ?? 0); // reproducible by default
  const chunks = [];
  const all = [...members, entry('TRAILER!!!', 0)];
  all.forEach((m, index) => {
    const name = Buffer.from(`${m.name}\0`);
    const isTrailer = m.name === 'TRAILER!!!';
    const fields = [
      isTrailer ? 0 : index + 1, // ino
      m.mode,
      0, // uid: root
      0, // gid
      (m.mode & 0o170000) === S_IFDIR ? 2 : 1, // nlink
      mtime,
      m.data.length, // filesize
      0, // devmajor
      0, // devminor
      m.rdev[0], // rdevmajor
      m.rdev[1], // rdevminor
      name.length, // namesize, with the NUL
      0, // check: unused by newc (only "070702" carries a checksum)
    ];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    chunks.push(Buffer.from(header, 'ascii'), name, Buffer.alloc(pad4(header.length + name.length)));
    chunks.push(m.data, Buffer.alloc(pad4(m.data.length)));
  });
  return Buffer.concat(chunks);
}

function main() {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const outIndex = args.indexOf('--out');
  const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(cache, 'linux', 'initramfs.cpio.gz'));
  if (existsSync(out) && !force) {
    console.log(out);
    return;
  }

  const root = execFileSync(join(here, 'fetch-deb.sh'), ['busybox-static'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const busybox = readFileSync(join(root, 'bin', 'busybox'));

  const dirs = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'root', 'etc'];
  const members = [
    ...dirs.map((d) => entry(d, S_IFDIR | 0o755)),
    entry('dev/console', S_IFCHR | 0o600, undefined, [5, 1]), // the kernel opens it before /init runs
    entry('bin/busybox', S_IFREG | 0o755, busybox),
    entry('bin/sh', S_IFLNK | 0o777, Buffer.from('busybox')), // for /init's #! line
    entry('init', S_IFREG | 0o755, Buffer.from(INIT_SCRIPT)),
  ];

  mkdirSync(dirname(out), { recursive: true });
  const archive = gzipSync(newc(members), { level: 9 });
  writeFileSync(`${out}.tmp`, archive);
  renameSync(`${out}.tmp`, out);
  console.log(out);
}

main();
