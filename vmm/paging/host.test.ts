// Tests of the host half of a translation: GPA → HVA through regions, and
// HVA → HPA through pagemap, on this process's own anonymous memory (mapped
// the way guest RAM is) and on crafted pagemap/smaps files for the cases this
// host cannot produce on demand (swapped, huge pages, hidden PFNs).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gpa, hva } from '../../common/address';
import { gpaToHva, hostPageOf } from './host';
import { loadNative } from '../kvm/native';

const PAGE = 4096;

/** Whether this process may see PFNs (CAP_SYS_ADMIN, bit 21 of CapEff). */
function hasSysAdmin(): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
  return m !== null && ((BigInt('0x' + m[1]) >> 21n) & 1n) === 1n;
}

test('gpaToHva: the region that holds the GPA, offset into its host mapping', () => {
  const regions = [
    { gpa: 0, size: 0x10_0000, hva: 0x7f00_0000_0000n },
    { gpa: 0xfff0_0000, size: 0x10_0000, hva: 0x7f10_0000_0000n },
  ];
  assert.equal(gpaToHva(gpa(0), regions), 0x7f00_0000_0000n);
  assert.equal(gpaToHva(gpa(0xf_ffffn), regions), 0x7f00_000f_ffffn);
  assert.equal(gpaToHva(gpa(0x10_0000), regions), undefined, 'just past the first region');
  assert.equal(gpaToHva(gpa(0xfff0_1234n), regions), 0x7f10_0000_1234n);
  assert.equal(gpaToHva(gpa(0x1_0000_0000n), regions), undefined);
});

test('hostPageOf on our own MAP_NORESERVE memory: untouched is absent, touched has a host page', () => {
  const native = loadNative();
  const size = 4 * PAGE;
  const base = native.mmapAnonymous(size);
  try {
    const bytes = new Uint8Array(native.externalBuffer(base, size));
    const before = hostPageOf(hva(base + BigInt(PAGE)));
    assert.equal(before.present, false, 'no host page before the first touch');
    assert.equal(before.hpa, undefined);
    assert.equal(before.pfnHidden, undefined);

    bytes[PAGE] = 1;
    bytes[3 * PAGE] = 1;
    const page = hostPageOf(hva(base + BigInt(PAGE)));
    const inPage = hostPageOf(hva(base + BigInt(PAGE + 0x123)));
    const other = hostPageOf(hva(base + BigInt(3 * PAGE)));
    assert.equal(page.present, true);
    assert.equal(page.swapped, undefined);
    assert.ok(page.pageSize === PAGE || page.pageSize === 512 * PAGE, `page size ${page.pageSize}`);
    if (hasSysAdmin()) {
      // The frame as the kernel's pagemap format defines it, read here by hand.
      const raw = Buffer.alloc(8);
      const fd = fs.openSync('/proc/self/pagemap', 'r');
      fs.readSync(fd, raw, 0, 8, (base / BigInt(PAGE) + 1n) * 8n);
      fs.closeSync(fd);
      const pfn = raw.readBigUInt64LE() & ((1n << 55n) - 1n);
      assert.equal(page.hpa, pfn * BigInt(PAGE));
      assert.equal(page.pfnHidden, undefined);
      assert.ok(page.hpa !== undefined && page.hpa > 0n, 'a PFN as root');
      assert.equal(page.hpa % BigInt(PAGE), 0n, 'page-aligned for a page-aligned HVA');
      assert.equal(inPage.hpa, page.hpa + 0x123n, 'the offset carries over');
      assert.notEqual(other.hpa! - other.hpa! % BigInt(PAGE), page.hpa, 'two pages, two frames');
    } else {
      assert.equal(page.hpa, undefined);
      assert.match(page.pfnHidden ?? '', /CAP_SYS_ADMIN/);
    }
    assert.equal(hostPageOf(hva(base + BigInt(2 * PAGE))).present, false, 'the page between stays absent');
  } finally {
    native.munmap(base, size);
  }
});

test('hostPageOf without CAP_SYS_ADMIN says the PFN is hidden instead of showing 0', (t) => {
  if (!hasSysAdmin()) {
    // We are already unprivileged: the other test checked pfnHidden.
    t.skip('this process has no CAP_SYS_ADMIN to drop');
    return;
  }
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
  } catch {
    t.skip('setpriv (util-linux) is not installed');
    return;
  }
  // A child that drops CAP_SYS_ADMIN from its bounding set, so its pagemap reads show PFN 0.
  const script = `
    const { hostPageOf } = require(${JSON.stringify(path.join(__dirname, 'host.js'))});
    const maps = require('fs').readFileSync('/proc/self/maps', 'latin1').split('\\n');
    const stack = maps.find((l) => l.endsWith('[stack]'));
    const end = BigInt('0x' + stack.split(' ')[0].split('-')[1]);
    const p = hostPageOf(end - 4096n);
    process.stdout.write(JSON.stringify({ present: p.present, hpa: p.hpa?.toString(), pfnHidden: p.pfnHidden }));`;
  const out = JSON.parse(execFileSync('setpriv', ['--bounding-set', '-sys_admin', process.execPath, '-e', script], { encoding: 'utf8' })) as {
    present: boolean;
    hpa?: string;
    pfnHidden?: string;
  };
  assert.equal(out.present, true, 'the top of the stack is in use');
  assert.equal(out.hpa, undefined);
  assert.match(out.pfnHidden ?? '', /not available without CAP_SYS_ADMIN/);
});

/** A crafted /proc/<pid> directory: a sparse pagemap with the given entries, and an smaps text. */
const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function fakeProc(entries: Array<[vpn: number, entry: bigint]>, smaps?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmscope-pagemap-'));
  tempDirs.push(dir);
  const fd = fs.openSync(path.join(dir, 'pagemap'), 'w');
  const b = Buffer.alloc(8);
  for (const [vpn, e] of entries) {
    b.writeBigUInt64LE(e);
    fs.writeSync(fd, b, 0, 8, vpn * 8);
  }
  fs.closeSync(fd);
  if (smaps !== undefined) fs.writeFileSync(path.join(dir, 'smaps'), smaps);
  return path.join(dir, 'pagemap');
}

const PRESENT = 1n << 63n;
const SWAPPED = 1n << 62n;
const EXCLUSIVE = 1n << 56n; // a flag bit that must not leak into the PFN
const VMA = 0x4000_0000; // a 2 MiB-aligned address for the crafted mappings
const vpnOf = (a: number) => a / PAGE;

function smapsFor(start: number, end: number, kernelPageKb: number, anonHugeKb: number): string {
  return [
    `00400000-00401000 r-xp 00000000 fe:00 1  /usr/bin/fake`,
    `Size:                  4 kB`,
    `KernelPageSize:        4 kB`,
    `AnonHugePages:         0 kB`,
    `${start.toString(16)}-${end.toString(16)} rw-p 00000000 00:00 0`,
    `Size:           ${(end - start) / 1024} kB`,
    `KernelPageSize:        ${kernelPageKb} kB`,
    `MMUPageSize:           ${kernelPageKb} kB`,
    `AnonHugePages:         ${anonHugeKb} kB`,
    `VmFlags: rd wr mr mw me ac`,
    '',
  ].join('\n');
}

/** 512 entries for the 2 MiB block at VMA, PFNs consecutive from `firstPfn`. */
function run2M(firstPfn: bigint, flags = PRESENT | EXCLUSIVE): Array<[number, bigint]> {
  return Array.from({ length: 512 }, (_, i) => [vpnOf(VMA) + i, flags | (firstPfn + BigInt(i))] as [number, bigint]);
}

test('crafted pagemap: a present page with a PFN gives the HPA; flag bits stay out of it', () => {
  const pm = fakeProc([[vpnOf(VMA) + 3, PRESENT | EXCLUSIVE | 0x12345n]]);
  const p = hostPageOf(hva(BigInt(VMA + 3 * PAGE + 0x10)), pm);
  assert.deepEqual(p, { hva: BigInt(VMA + 3 * PAGE + 0x10), present: true, hpa: 0x1234_5010n, pageSize: PAGE });
});

test('crafted pagemap: swapped and absent pages have no HPA', () => {
  const pm = fakeProc([[vpnOf(VMA), SWAPPED | 0x77n]], smapsFor(VMA, VMA + 0x40_0000, 4, 0));
  const swapped = hostPageOf(hva(BigInt(VMA)), pm);
  assert.deepEqual([swapped.present, swapped.swapped, swapped.hpa], [false, true, undefined], 'a swap entry is not a PFN');
  const absent = hostPageOf(hva(BigInt(VMA + PAGE)), pm);
  assert.deepEqual(absent, { hva: BigInt(VMA + PAGE), present: false, pageSize: PAGE });
  assert.equal(hostPageOf(hva(0x7fff_0000_0000n), pm).present, false, 'past the end of the file');
});

test('crafted pagemap: PFN 0 on a present page means hidden, not frame 0', () => {
  const pm = fakeProc([[vpnOf(VMA), PRESENT | EXCLUSIVE]], smapsFor(VMA, VMA + 0x40_0000, 4, 0));
  const p = hostPageOf(hva(BigInt(VMA)), pm);
  assert.equal(p.present, true);
  assert.equal(p.hpa, undefined);
  assert.equal(p.pfnHidden, 'not available without CAP_SYS_ADMIN (the kernel reports PFN 0)');
  assert.equal(p.pageSize, PAGE);
  // In a VMA with transparent huge pages the size cannot be told: say so.
  const thp = hostPageOf(hva(BigInt(VMA)), fakeProc([[vpnOf(VMA), PRESENT]], smapsFor(VMA, VMA + 0x40_0000, 4, 2048)));
  assert.equal(thp.pageSize, PAGE);
  assert.match(thp.pageSizeNote ?? '', /AnonHugePages 2048 kB/);
});

test('crafted pagemap: a 2 MiB-aligned run of 512 PFNs in a THP VMA is a 2 MiB page', () => {
  const at = hva(BigInt(VMA + 0x12_3456));
  const thp = hostPageOf(at, fakeProc(run2M(0x4_0000n), smapsFor(VMA, VMA + 0x40_0000, 4, 2048)));
  assert.equal(thp.pageSize, 0x20_0000);
  assert.equal(thp.hpa, 0x4_0000n * BigInt(PAGE) + 0x12_3456n);
  // hugetlbfs: smaps' KernelPageSize says the real size (here 1 GiB).
  const huge = hostPageOf(at, fakeProc(run2M(0x4_0000n), smapsFor(VMA, VMA + 0x4000_0000, 1048576, 0)));
  assert.equal(huge.pageSize, 0x4000_0000);
  // The same run in a VMA without huge pages is 4 KiB pages that happen to be contiguous.
  assert.equal(hostPageOf(at, fakeProc(run2M(0x4_0000n), smapsFor(VMA, VMA + 0x40_0000, 4, 0))).pageSize, PAGE);
  // Not 2 MiB-aligned, or one page missing: 4 KiB, and smaps is not needed at all.
  assert.equal(hostPageOf(at, fakeProc(run2M(0x4_0001n), smapsFor(VMA, VMA + 0x40_0000, 4, 2048))).pageSize, PAGE);
  assert.equal(hostPageOf(at, fakeProc(run2M(0x4_0000n).slice(0, 100))).pageSize, PAGE, 'no smaps needed');
  const holed = run2M(0x4_0000n);
  holed[511] = [holed[511]![0], 0n];
  assert.equal(hostPageOf(at, fakeProc(holed, smapsFor(VMA, VMA + 0x40_0000, 4, 2048))).pageSize, PAGE);
});
