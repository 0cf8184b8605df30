// The host half of a translation: guest-physical → host-virtual (through the
// memory regions vmscope mapped) → host-physical (through /proc/<pid>/pagemap),
// so the debugger can show where a guest page really lives.
//
// Guest memory is anonymous MAP_NORESERVE memory: a page the guest (or
// vmscope) never touched has no host page yet and reads as not present.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { hpa as toHpa, hva as toHva, type Gpa, type Hpa, type Hva } from '../../common/address';

export interface HostPage {
  hva: Hva;
  present: boolean;
  /** Host-physical address of the byte at `hva`, when the PFN is known. */
  hpa?: Hpa;
  /** Bytes of the host page that maps `hva` (see `hostPageOf` for how it is found). */
  pageSize: number;
  swapped?: boolean;
  /** Why `hpa` is missing although the page is present. */
  pfnHidden?: string;
  /** Set when pageSize is a guess (PFNs hidden, the VMA holds huge pages). */
  pageSizeNote?: string;
}

const PAGE = 4096;
const HUGE_2M_PAGES = 512;
const PM_PRESENT = 1n << 63n;
const PM_SWAPPED = 1n << 62n;
const PM_PFN = (1n << 55n) - 1n;

/** Guest-physical → host-virtual through the machine's regions (GuestMemory.regions). */
export function gpaToHva(gpa: Gpa, regions: ReadonlyArray<{ gpa: number; size: number; hva: bigint }>): Hva | undefined {
  const a: number = gpa;
  for (const r of regions) {
    if (a >= r.gpa && a < r.gpa + r.size) return toHva(r.hva + BigInt(a - r.gpa));
  }
  return undefined;
}

/** Reads `count` consecutive pagemap entries from the one for `vpn`; missing entries (past the file's end) read as 0. */
function readPagemap(fd: number, vpn: bigint, count: number): BigUint64Array {
  const out = new BigUint64Array(count);
  const bytes = new Uint8Array(out.buffer);
  let done = 0;
  while (done < bytes.length) {
    const n = fs.readSync(fd, bytes, done, bytes.length - done, vpn * 8n + BigInt(done));
    if (n <= 0) break;
    done += n;
  }
  return out;
}

/** The smaps record of the VMA that contains `addr`: its KernelPageSize and AnonHugePages, in bytes. */
function vmaOf(smapsPath: string, addr: bigint): { kernelPageSize: number; anonHuge: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(smapsPath, 'latin1');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(lines[i]!);
    if (!m || addr < BigInt('0x' + m[1]) || addr >= BigInt('0x' + m[2])) continue;
    const out = { kernelPageSize: PAGE, anonHuge: 0 };
    for (let j = i + 1; j < lines.length && !/^[0-9a-f]+-[0-9a-f]+ /.test(lines[j]!); j++) {
      const f = /^(\w+):\s+(\d+) kB/.exec(lines[j]!);
      if (f?.[1] === 'KernelPageSize') out.kernelPageSize = Number(f[2]) * 1024;
      else if (f?.[1] === 'AnonHugePages') out.anonHuge = Number(f[2]) * 1024;
    }
    return out;
  }
  return undefined;
}

/**
 * Where host-virtual `hva` lives in host RAM, from `pagemapPath` (one u64 per
 * 4 KiB page: bit 63 present, bit 62 swapped, bits 54:0 the PFN). Without
 * CAP_SYS_ADMIN the kernel reports every PFN as 0; then `pfnHidden` says so.
 *
 * Page size, from the cheap evidence first (smaps is read from the same
 * directory as the pagemap, e.g. /proc/self/smaps, only when needed, as the
 * kernel walks every VMA's page tables to produce it; ~1 ms here):
 * - PFN known and the 2 MiB-aligned block around `hva` is 512 present pages
 *   with consecutive PFNs from a 2 MiB-aligned one: a huge page is likely;
 *   smaps confirms it (KernelPageSize > 4 kB for hugetlbfs, which also gives
 *   1 GiB; AnonHugePages > 0 for a transparent huge page). A THP that was
 *   split into 4 KiB mappings but stays contiguous still counts as 2 MiB.
 * - PFN known, block not contiguous: 4 KiB, without reading smaps.
 * - PFN hidden or page not present: smaps' KernelPageSize; when the VMA holds
 *   transparent huge pages, 4 KiB with a `pageSizeNote` (we cannot tell).
 */
export function hostPageOf(hva: Hva, pagemapPath = '/proc/self/pagemap'): HostPage {
  const smapsPath = path.join(path.dirname(pagemapPath), 'smaps');
  const vpn = hva / BigInt(PAGE);
  const fd = fs.openSync(pagemapPath, 'r');
  let entry: bigint;
  let block: BigUint64Array | undefined;
  try {
    entry = readPagemap(fd, vpn, 1)[0]!;
    const pfn = entry & PM_PFN;
    if (entry & PM_PRESENT && !(entry & PM_SWAPPED) && pfn !== 0n) {
      block = readPagemap(fd, vpn - (vpn % BigInt(HUGE_2M_PAGES)), HUGE_2M_PAGES);
    }
  } finally {
    fs.closeSync(fd);
  }
  const present = (entry & PM_PRESENT) !== 0n;
  const swapped = (entry & PM_SWAPPED) !== 0n;
  const pfn = entry & PM_PFN;
  const out: HostPage = { hva, present, pageSize: PAGE };
  if (swapped) out.swapped = true;
  if (present && !swapped) {
    if (pfn === 0n) out.pfnHidden = 'not available without CAP_SYS_ADMIN (the kernel reports PFN 0)';
    else out.hpa = toHpa(pfn * BigInt(PAGE) + (hva % BigInt(PAGE)));
  }
  if (block) {
    if (isAlignedRun(block)) {
      const vma = vmaOf(smapsPath, hva);
      if (vma && vma.kernelPageSize > PAGE) out.pageSize = vma.kernelPageSize;
      else if (vma && vma.anonHuge > 0) out.pageSize = HUGE_2M_PAGES * PAGE;
    }
  } else {
    const vma = vmaOf(smapsPath, hva);
    if (vma && vma.kernelPageSize > PAGE) out.pageSize = vma.kernelPageSize;
    else if (vma && vma.anonHuge > 0 && present) {
      out.pageSizeNote = `the VMA holds transparent huge pages (AnonHugePages ${vma.anonHuge / 1024} kB); without PFNs this page may be 4 KiB or 2 MiB`;
    }
  }
  return out;
}

/** 512 present, not swapped pages whose PFNs run consecutively from a 2 MiB-aligned one. */
function isAlignedRun(block: BigUint64Array): boolean {
  const first = block[0]! & PM_PFN;
  if (first === 0n || first % BigInt(HUGE_2M_PAGES) !== 0n) return false;
  for (let i = 0; i < block.length; i++) {
    const e = block[i]!;
    if (!(e & PM_PRESENT) || e & PM_SWAPPED || (e & PM_PFN) !== first + BigInt(i)) return false;
  }
  return true;
}
