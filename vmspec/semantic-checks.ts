// The semantic checks of a .vmspec: rules that span several keys (regions against RAM and each other, I/O port
// claims, where a flat image loads, whether the entry point suits the boot mode). Everything a single key's schema
// can say is checked by the schema walk (schema-walk.ts) before this runs.

import { propertyName, vmSpecSchema } from './schema';
import type { Walker } from './schema-walk';
import type { Loose, Parsed } from './types';
import { isProtocolFormat, platformOf } from './platform';
import { GPA_LIMIT, PAGE_SIZE, formatHex, formatRange, formatSize } from './units';
import { quoteText } from './message-text';
import { KVM_RESERVED, MAX_LOW_RAM_MIB, overlapsKvmReserved } from './kvm-reserved';

/** Reports through `w`, at the ranges of its source map, on whatever of the spec is valid on its own. */
export function checkSemantics(v: NonNullable<Loose<Parsed>>, w: Walker): void {
  const map = w.map;
  const memory = v.memory;
  const ramRange = memory !== undefined ? formatRange(0, memory) : '';

  interface Placed { index: number; name: string; gpa: number; end: number; kind: string | undefined }
  const regions: Placed[] = [];
  (v.regions ?? []).forEach((r, index) => {
    if (!r || r.gpa === undefined || r.size === undefined) return;
    // The name as a message shows it: quoted and escaped (it is the user's text).
    regions.push({ index, name: r.name !== undefined ? quoteText(r.name, 40) : `#${index}`, gpa: r.gpa, end: r.gpa + r.size, kind: r.kind });
  });

  // For each region, the earlier regions (in the order written) it overlaps: a sweep over the regions sorted by start,
  // so that a spec with thousands of regions is not checked pair by pair.
  const earlierOverlaps: number[][] = regions.map(() => []);
  const byStart = regions.map((_, i) => i).sort((a, b) => regions[a]!.gpa - regions[b]!.gpa);
  for (let s = 0; s < byStart.length; s++) {
    const a = byStart[s]!;
    for (let t = s + 1; t < byStart.length && regions[byStart[t]!]!.gpa < regions[a]!.end; t++) {
      const b = byStart[t]!;
      if (!(regions[a]!.gpa < regions[b]!.end)) continue; // the same test as for any two ranges (b starts no earlier)
      earlierOverlaps[Math.max(a, b)]!.push(Math.min(a, b));
    }
  }
  for (const list of earlierOverlaps) list.sort((x, y) => x - y);
  for (const [i, r] of regions.entries()) {
    const at = (key: string) => map.locate(['regions', r.index, key]);
    const desc = `region ${r.name} ${formatRange(r.gpa, r.end)}`;
    if (r.end > GPA_LIMIT) {
      w.report('error', 'out-of-range', `${desc} ends beyond the 52-bit guest-physical address space`, at('size'));
    }
    // Only ram and rom become KVM memory slots, which are page-granular; MMIO is any unbacked GPA, so any size works.
    if (r.kind === 'ram' || r.kind === 'rom') {
      if (r.gpa % PAGE_SIZE !== 0) {
        w.report('error', 'misaligned', `${r.kind} region ${r.name} starts at ${formatHex(r.gpa)}, which is not 4 KiB aligned (KVM memory slots are page-granular)`, at('gpa'));
      }
      if ((r.end - r.gpa) % PAGE_SIZE !== 0) {
        w.report('error', 'misaligned', `${r.kind} region ${r.name} is ${formatSize(r.end - r.gpa)}, not a multiple of 4 KiB (KVM memory slots are page-granular)`, at('size'));
      }
    }
    if (memory !== undefined && r.gpa < memory) {
      const related = map.has(['memory']) ? [{ message: `guest RAM is ${ramRange} (memory: ${formatSize(memory)})`, range: map.locate(['memory']) }] : [];
      w.report('error', 'region-overlap', `${desc} overlaps guest RAM ${ramRange}; move it to ${formatHex(memory)} or above, or lower memory`, at('gpa'), { related });
    }
    for (const j of earlierOverlaps[i]!) {
      const other = regions[j]!;
      w.report('error', 'region-overlap', `${desc} overlaps region ${other.name} ${formatRange(other.gpa, other.end)}; move it to ${formatHex(other.end)} or above, or make one of them smaller`, at('gpa'), {
        related: [{ message: `region ${other.name} is here`, range: map.locate(['regions', other.index]) }],
      });
    }
  }

  // KVM's private pages: RAM and every backed region must miss them. The builder refuses the same layouts
  // (vmm/builder.ts memoryLayout), so check, the language server and run agree.
  const reserved = formatRange(KVM_RESERVED.start, KVM_RESERVED.end);
  if (memory !== undefined && overlapsKvmReserved(0, memory)) {
    w.report('error', 'reserved-overlap',
      `memory ${formatSize(memory)} covers the pages KVM reserves at ${reserved}; use at most ${MAX_LOW_RAM_MIB}MiB, and a ram region at 0x100000000 or above for more`,
      map.locate(['memory']), { suggestion: `${MAX_LOW_RAM_MIB}MiB` });
  }
  for (const r of regions) {
    if ((r.kind === 'ram' || r.kind === 'rom') && overlapsKvmReserved(r.gpa, r.end - r.gpa)) {
      w.report('error', 'reserved-overlap', `${r.kind} region ${r.name} ${formatRange(r.gpa, r.end)} covers the pages KVM reserves at ${reserved}; move it`,
        map.locate(['regions', r.index, 'gpa']));
    }
  }

  // Port ranges come from the schema's ioPorts, so a new device is checked without code here.
  interface Claim { key: string; start: number; end: number }
  const claims: Claim[] = [];
  for (const [key, schema] of Object.entries(vmSpecSchema.properties.devices.properties)) {
    // Devices at fixed ports (the i8042) declare no ioPorts and have no port key to check.
    const ioPorts = 'ioPorts' in schema ? schema.ioPorts : undefined;
    if (ioPorts === undefined) continue;
    // Indexed by name from the schema's own keys, so every device object here has the port its schema declares.
    const dev = (v.devices as Record<string, { port?: number } | null | undefined> | undefined)?.[propertyName(key)];
    if (!dev || dev.port === undefined) continue;
    const claim = { key, start: dev.port, end: dev.port + ioPorts };
    if (claim.end - 1 > 0xffff) {
      w.report('error', 'out-of-range', `${key} needs ${ioPorts} ports from ${formatHex(claim.start)}, past the last I/O port 0xffff`, map.locate(['devices', key, 'port']));
      continue;
    }
    for (const other of claims) {
      if (other.start < claim.end && claim.start < other.end) {
        // Report on a port that is written down; a defaulted one has no text to point at.
        const [here, there] = map.has(['devices', key, 'port']) || !map.has(['devices', other.key, 'port']) ? [claim, other] : [other, claim];
        w.report('error', 'port-conflict',
          `${here.key} ports ${portSpan(here)} collide with ${there.key} ports ${portSpan(there)}`,
          map.locate(['devices', here.key, 'port']),
          { related: [{ message: `${there.key} is at ${formatHex(there.start)}`, range: map.locate(['devices', there.key, 'port']) }] });
      }
    }
    claims.push(claim);
  }

  const boot = v.boot;
  if (!boot) return;
  checkProtocolKeys(v, w);
  const loadWritten = map.has(['boot', 'load']);
  if (isProtocolFormat(boot.format)) return; // their protocol decides the mode, load address and entry
  if (boot.format === 'elf' && loadWritten) {
    w.report('warning', 'ignored-key', 'boot.load is ignored for ELF images, which carry their own load addresses', map.locate(['boot', 'load'], 'key'));
  }
  // With the format left to detection, only a load address the user wrote is surely meant for a flat image.
  if (boot.load !== undefined && memory !== undefined && (boot.format === 'flat' || (boot.format === undefined && loadWritten))) {
    const load = boot.load;
    const inRegion = regions.some((r) => (r.kind === 'ram' || r.kind === 'rom') && r.gpa <= load && load < r.end);
    if (load >= memory && !inRegion) {
      const message = loadWritten
        ? `load address ${formatHex(load)} is outside guest RAM ${ramRange} and every ram/rom region`
        : `flat images load at ${formatHex(load)} by default in ${boot.mode ?? 'long'} mode, which is outside guest RAM ${ramRange}; set boot.load or raise memory`;
      w.report('error', 'load-outside-memory', message, map.locate(loadWritten ? ['boot', 'load'] : ['boot', 'format']));
    }
  }
  if (typeof boot.entry === 'string' && boot.format === 'flat') {
    w.report('error', 'symbol-needs-elf', `entry ${quoteText(boot.entry)} is a symbol name, but a flat image has no symbols; give an address`, map.locate(['boot', 'entry']));
  }
  if (typeof boot.entry === 'bigint' && boot.mode !== undefined) {
    const e = boot.entry;
    const problem =
      boot.mode === 'real' && e >= 1n << 20n
        ? 'must be below 1 MiB in real mode'
        : boot.mode === 'protected' && e >= 1n << 32n
          ? 'must be below 4 GiB in protected mode'
          : boot.mode === 'long' && !isCanonical(e)
            ? 'is not canonical (bits 63:47 must all equal bit 47), so long mode cannot execute there'
            : undefined;
    if (problem) w.report('error', 'out-of-range', `entry ${formatHex(e, { group: e > 0xffffffffn })} ${problem}`, map.locate(['boot', 'entry']));
  }
}

/** Keys that only some formats or platforms use, written where they do nothing: warnings, so nothing is silently dropped. */
function checkProtocolKeys(v: NonNullable<Loose<Parsed>>, w: Walker): void {
  const map = w.map;
  const format = v.boot?.format;
  const ignored = (path: Array<string | number>, why: string) => {
    if (map.has(path)) w.report('warning', 'ignored-key', `${path.join('.')} is ignored: ${why}`, map.locate(path, 'key'));
  };
  if (isProtocolFormat(format)) {
    const fixed = { linux: 'the Linux 64-bit boot protocol enters in long mode', multiboot: 'Multiboot enters in 32-bit protected mode', firmware: 'firmware starts in real mode at the reset vector' }[format];
    ignored(['boot', 'mode'], `${fixed}`);
    ignored(['boot', 'load'], `a ${format} image is placed by its own protocol`);
    ignored(['boot', 'entry'], `a ${format} image is entered where its protocol says`);
  }
  if (format !== 'linux' && format !== 'multiboot') ignored(['boot', 'cmdline'], 'only linux and multiboot kernels take a command line');
  if (format !== 'linux') ignored(['boot', 'initrd'], 'only a linux kernel takes an initrd (Multiboot kernels take modules)');
  if (format !== 'multiboot') ignored(['boot', 'modules'], 'only a multiboot kernel takes modules (a Linux kernel takes an initrd)');
  if (v.boot && v.devices) {
    const platform = platformOf({ platform: v.platform, boot: { format } });
    if (platform === 'minimal') {
      ignored(['devices', 'serial', 'irq'], 'the minimal platform has no interrupt controller, so the UART is polled');
      ignored(['devices', 'i8042'], 'the minimal platform has no i8042');
    }
  }
}

function isCanonical(address: bigint): boolean {
  const top = address >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}

function portSpan(c: { start: number; end: number }): string {
  return c.end - c.start === 1 ? formatHex(c.start) : `${formatHex(c.start)}-${formatHex(c.end - 1)}`;
}
