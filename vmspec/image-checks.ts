// Checks a spec against the image it names: the file exists and is the
// declared format, its segments fit in RAM and miss the declared regions,
// the entry symbol exists and lies in a loaded segment, and the ELF class
// suits the boot mode. Reading files must not slow down typing, so what an
// image holds is cached by path, mtime and size.

import { hex } from '../common/address';
import * as fs from 'node:fs';
import { readRegularFile, readRegularHead, regularFileProblem } from '../common/read-file';
import { isElf, parseElf } from '../formats/elf';
import { BzImageError, kernelLoadAddress, parseSetupHeader, type SetupHeader } from '../formats/bzimage';
import { romSizeProblem } from '../formats/firmware-rom';
import { findMultiboot, MultibootHeaderError, unsupportedFeatures, type MultibootHeader } from '../formats/multiboot';
import { looksLikeSystemMap, parseSystemMap } from '../formats/system-map';
import { didYouMean } from './did-you-mean';
import type { SpecParseResult } from './parse';
import type { SpecDiagnostic, SpecRange, VmSpec } from './types';

export interface ImageFacts {
  elf: boolean;
  size: number;
  bits?: 32 | 64;
  entry?: bigint;
  segments: Array<{ start: number; end: number; vstart: bigint; vend: bigint }>;
  symbols: Map<string, bigint>;
  /** Function symbols only, for completion of `entry:`. */
  functions: Map<string, bigint>;
  /** Why the ELF could not be read, when it is ELF but broken. */
  broken?: string;
  /** The Multiboot header, or why there is none usable. */
  multiboot: MultibootHeader | { problem: string };
  /** The bzImage setup header, or why it cannot be booted. */
  linux: SetupHeader | { problem: string };
}

const cache = new Map<string, { mtimeMs: number; size: number; facts: ImageFacts }>();

/** The largest boot image vmscope reads (the runner's limit too: vmm/builder.ts). */
export const MAX_IMAGE_BYTES = 2 ** 31;

/** What an image holds, cached by path, mtime and size (shared by the checks, hover and completion). */
export function imageFacts(file: string): ImageFacts | { missing: string } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { missing: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
  // A device or FIFO would be read forever (/dev/zero) or block (a FIFO); readRegularFile checks again on the open file.
  if (!st.isFile()) return { missing: regularFileProblem(file) ?? 'is not a regular file' };
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.facts;
  const read = readRegularFile(file, MAX_IMAGE_BYTES, 'a boot image');
  if (!read.ok) return { missing: read.problem };
  const bytes: Uint8Array = read.bytes;
  const facts: ImageFacts = {
    elf: isElf(bytes),
    size: bytes.length,
    segments: [],
    symbols: new Map(),
    functions: new Map(),
    multiboot: multibootOf(bytes),
    linux: setupHeaderOf(bytes),
  };
  if (facts.elf) {
    try {
      const elf = parseElf(bytes);
      facts.bits = elf.bits;
      facts.entry = elf.entry;
      for (const p of elf.programHeaders) {
        if (p.type === 1 && p.memsz > 0) {
          facts.segments.push({ start: Number(p.paddr), end: Number(p.paddr) + p.memsz, vstart: p.vaddr, vend: p.vaddr + BigInt(p.memsz) });
        }
      }
      for (const s of elf.symbols) {
        facts.symbols.set(s.name, s.value);
        if (s.kind === 'func') facts.functions.set(s.name, s.value);
      }
    } catch (e) {
      facts.broken = e instanceof Error ? e.message : String(e);
    }
  }
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, facts });
  return facts;
}

function multibootOf(bytes: Uint8Array): ImageFacts['multiboot'] {
  try {
    return findMultiboot(bytes) ?? { problem: 'it has no Multiboot header (magic 0x1badb002 in the first 8 KiB, or 0xe85250d6 in the first 32 KiB, with a valid checksum)' };
  } catch (e) {
    if (e instanceof MultibootHeaderError) return { problem: e.message };
    throw e;
  }
}

function setupHeaderOf(bytes: Uint8Array): ImageFacts['linux'] {
  try {
    return parseSetupHeader(bytes);
  } catch (e) {
    if (e instanceof BzImageError) return { problem: e.message };
    throw e;
  }
}

/** Diagnostics that need the image file; empty when the spec itself did not parse. */
export function checkImage(result: SpecParseResult): SpecDiagnostic[] {
  const spec = result.spec;
  if (!spec) return [];
  const out: SpecDiagnostic[] = [];
  const at = (p: Array<string | number>): SpecRange => result.ranges.locate(p);
  const diag = (severity: SpecDiagnostic['severity'], code: SpecDiagnostic['code'], message: string, range: SpecRange, extra: Partial<SpecDiagnostic> = {}) =>
    out.push({ severity, code, message, range, ...extra });

  checkBootFiles(spec, diag, at);
  const facts = imageFacts(spec.boot.image);
  if ('missing' in facts) {
    // Only a missing file is fixed by building; a directory or an unreadable file by naming another.
    const fix = facts.missing === 'does not exist' ? 'build the guest first, or fix the path' : /EACCES|EPERM|permission denied/.test(facts.missing) ? 'check its permissions' : 'point boot.image at the image file';
    diag('error', 'image-missing', `the image ${spec.boot.image} ${facts.missing}; ${fix}`, at(['boot', 'image']));
    return out;
  }
  if (facts.size === 0) {
    diag('error', 'image-format', `the image ${spec.boot.image} is empty; build the guest again (did the build fail?)`, at(['boot', 'image']));
    return out;
  }

  const fmtAt = at(['boot', 'format']);
  switch (spec.boot.format) {
    case 'linux': {
      if ('problem' in facts.linux) {
        diag('error', 'bzimage-header', `boot.format is linux, but ${spec.boot.image}: ${facts.linux.problem}`, fmtAt);
        return out;
      }
      checkInitrd(spec, facts.linux, facts.size, diag, at);
      return out;
    }
    case 'firmware': {
      const problem = romSizeProblem(facts.size);
      if (problem) diag('error', 'rom-size', `a firmware ROM must be a power of two from 64 KiB to 16 MiB; ${spec.boot.image} is ${problem}`, at(['boot', 'image']));
      return out;
    }
    case 'multiboot': {
      if ('problem' in facts.multiboot) {
        diag('error', 'multiboot-header', `boot.format is multiboot, but ${spec.boot.image}: ${facts.multiboot.problem}`, fmtAt);
        return out;
      }
      const h = facts.multiboot;
      const { required, ignored } = unsupportedFeatures(h);
      for (const what of required) diag('error', 'multiboot-unsupported', `the Multiboot ${h.version} header of ${spec.boot.image} requires ${what}`, at(['boot', 'image']));
      for (const what of ignored) diag('warning', 'multiboot-unsupported', `the Multiboot ${h.version} header of ${spec.boot.image} asks for ${what}; it is optional, so the kernel boots without it`, at(['boot', 'image']));
      const fields = h.version === 1 ? h.aout : h.address;
      if (!fields && !facts.elf) {
        diag('error', 'multiboot-header', `the Multiboot ${h.version} header gives no load addresses and ${spec.boot.image} is not ELF, so vmscope cannot tell where to load it`, at(['boot', 'image']));
        return out;
      }
      if (facts.broken) diag('error', 'image-format', `${spec.boot.image}: ${facts.broken}`, at(['boot', 'image']));
      else if (!fields) checkPlacement(spec, facts.segments, true, diag, at);
      return out;
    }
    default:
      break;
  }
  if (spec.boot.format === 'elf' && !facts.elf) {
    diag('error', 'image-format', `boot.format is elf, but ${spec.boot.image} is not an ELF file; fix boot.format or the image`, at(['boot', 'format']));
    return out;
  }
  if (spec.boot.format === 'flat' && facts.elf) {
    diag('error', 'image-format', `boot.format is flat, but ${spec.boot.image} is an ELF file; use format: elf`, at(['boot', 'format']), { suggestion: 'elf' });
    return out;
  }
  if (facts.broken) {
    diag('error', 'image-format', `${spec.boot.image}: ${facts.broken}`, at(['boot', 'image']));
    return out;
  }
  const segments = facts.elf ? facts.segments : [{ start: spec.boot.load, end: spec.boot.load + facts.size, vstart: BigInt(spec.boot.load), vend: BigInt(spec.boot.load + facts.size) }];
  checkPlacement(spec, segments, facts.elf, diag, at);
  checkEntry(spec, facts, segments, diag, at);
  if (facts.elf && facts.bits === 32 && spec.boot.mode === 'long') {
    diag('warning', 'mode-mismatch', `${spec.boot.image} is a 32-bit ELF, but boot.mode is long: the CPU will run its code as 64-bit`, at(['boot', 'mode']));
  }
  if (facts.elf && facts.bits === 64 && spec.boot.mode !== 'long') {
    diag('warning', 'mode-mismatch', `${spec.boot.image} is a 64-bit ELF, but boot.mode is ${spec.boot.mode}: its entry code must be ${spec.boot.mode === 'real' ? '16' : '32'}-bit`, at(['boot', 'mode']));
  }
  return out;
}

/** The other files boot names: they exist, and a symbols file holds symbols. Reads no more than the head of a symbols file. */
function checkBootFiles(spec: VmSpec, diag: Diag, at: (p: Array<string | number>) => SpecRange): void {
  const missing = (file: string): string | undefined => {
    const problem = regularFileProblem(file);
    if (problem) return problem;
    try {
      fs.accessSync(file, fs.constants.R_OK);
      return undefined;
    } catch (e) {
      return `cannot be read (${(e as NodeJS.ErrnoException).code})`;
    }
  };
  const files: Array<{ file: string; path: Array<string | number>; what: string }> = [];
  if (spec.boot.initrd !== undefined) files.push({ file: spec.boot.initrd, path: ['boot', 'initrd'], what: 'initrd' });
  spec.boot.modules.forEach((m, i) => files.push({ file: m.path, path: ['boot', 'modules', i, 'path'], what: 'module' }));
  for (const f of files) {
    const why = missing(f.file);
    if (why) diag('error', 'boot-file-missing', `the ${f.what} ${f.file} ${why}`, at(f.path));
  }
  const sym = spec.boot.symbols;
  if (sym === undefined) return;
  const why = missing(sym);
  if (why) {
    diag('error', 'boot-file-missing', `the symbol file ${sym} ${why}; point boot.symbols at a System.map or an ELF vmlinux`, at(['boot', 'symbols']));
    return;
  }
  const head = readRegularHead(sym, 4096);
  if (isElf(head)) return;
  const text = new TextDecoder().decode(head);
  const map = parseSystemMap(text.slice(0, text.lastIndexOf('\n') + 1 || text.length));
  if (map.placeholder !== undefined) {
    diag('warning', 'symbols-placeholder', `${sym} is a placeholder System.map ("${map.placeholder}"), with no symbols; install that -dbg package and use its System.map, or point boot.symbols at its vmlinux`, at(['boot', 'symbols']));
  } else if (!looksLikeSystemMap(text)) {
    diag('error', 'symbols-format', `${sym} is neither an ELF file nor a System.map (lines of "address type name")`, at(['boot', 'symbols']));
  }
}

/** The initrd goes above the kernel (and the room it decompresses into) and below both initrd_addr_max and the end of RAM. */
function checkInitrd(spec: VmSpec, h: SetupHeader, imageSize: number, diag: Diag, at: (p: Array<string | number>) => SpecRange): void {
  const kernelBytes = imageSize - h.kernelOffset;
  let load: number;
  try {
    load = kernelLoadAddress(h, kernelBytes, spec.memory);
  } catch (e) {
    if (!(e instanceof BzImageError)) throw e;
    diag('error', 'initrd-too-big', e.message, at(['memory']));
    return;
  }
  if (spec.boot.initrd === undefined) return;
  let size: number;
  try {
    size = fs.statSync(spec.boot.initrd).size;
  } catch {
    return; // boot-file-missing says so
  }
  const kernelEnd = load + Math.max(h.initSize, kernelBytes);
  const ceiling = Math.min(h.initrdAddrMax + 1, spec.memory);
  const at4k = Math.floor((ceiling - size) / 4096) * 4096;
  if (at4k < kernelEnd) {
    const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
    diag('error', 'initrd-too-big',
      `the initrd (${mib(size)}) does not fit between the kernel (${hex(load)}..${hex(kernelEnd)}, with room to decompress) and ${hex(ceiling)}; raise memory to at least ${Math.ceil((kernelEnd + size + 4096) / (1 << 20))} MiB`,
      at(['boot', 'initrd']), { related: [{ message: `memory is ${mib(spec.memory)}`, range: at(['memory']) }] });
  }
}

type Diag = (severity: SpecDiagnostic['severity'], code: SpecDiagnostic['code'], message: string, range: SpecRange, extra?: Partial<SpecDiagnostic>) => void;

function checkPlacement(spec: VmSpec, segments: ImageFacts['segments'], elf: boolean, diag: Diag, at: (p: Array<string | number>) => SpecRange): void {
  const what = (s: { start: number; end: number }) => `${elf ? 'segment' : 'image'} ${hex(s.start)}..${hex(s.end)}`;
  for (const s of segments) {
    const inRam = s.start < spec.memory;
    const region = spec.regions.findIndex((r) => s.start < r.gpa + r.size && r.gpa < s.end);
    if (region >= 0) {
      const r = spec.regions[region]!;
      const backed = r.kind !== 'mmio' && s.start >= r.gpa && s.end <= r.gpa + r.size;
      if (!backed) {
        diag('error', 'image-overlap', `${what(s)} of ${spec.boot.image} collides with region ${r.name} (${hex(r.gpa)}..${hex(r.gpa + r.size)}, ${r.kind})`, at(['regions', region, 'gpa']), {
          related: [{ message: 'the image is named here', range: at(['boot', 'image']) }],
        });
      }
      continue;
    }
    if (inRam && s.end > spec.memory) {
      diag('error', 'image-too-big', `${what(s)} of ${spec.boot.image} runs past the end of RAM (${hex(spec.memory)}); raise memory or relink`, at(['memory']));
    } else if (!inRam) {
      diag('error', 'image-too-big', `${what(s)} of ${spec.boot.image} is outside RAM (0..${hex(spec.memory)}) and every ram/rom region`, at([elf ? 'boot' : 'boot', elf ? 'image' : 'load']));
    }
  }
}

function checkEntry(spec: VmSpec, facts: ImageFacts, segments: ImageFacts['segments'], diag: Diag, at: (p: Array<string | number>) => SpecRange): void {
  let entry: bigint | undefined;
  const e = spec.boot.entry;
  if (typeof e === 'string') {
    if (!facts.elf) return; // symbol-needs-elf is the parser's
    entry = facts.symbols.get(e);
    if (entry === undefined) {
      const near = didYouMean(e, [...facts.symbols.keys()]);
      diag('error', 'unknown-symbol', `${spec.boot.image} has no symbol "${e}"${near ? ` (did you mean "${near}"?)` : ''}`, at(['boot', 'entry']), near ? { suggestion: near } : {});
      return;
    }
  } else {
    entry = e ?? (facts.elf ? facts.entry : BigInt(spec.boot.load));
  }
  if (entry === undefined) return;
  const inside = segments.some((s) => entry! >= s.vstart && entry! < s.vend);
  if (!inside) {
    diag('error', 'entry-outside-image', `the entry point ${hex(entry)} is outside every loaded ${facts.elf ? 'segment' : 'byte'} of ${spec.boot.image}`, at(['boot', e === undefined ? 'image' : 'entry']));
  }
}

/** Markdown facts about an image file, for hover: format, class, entry, segments, size. */
export function describeImage(file: string): string {
  const facts = imageFacts(file);
  if ('missing' in facts) return `\`${file}\` ${facts.missing}`;
  const lines = [`\`${file}\`: ${facts.elf ? `ELF${facts.bits ?? ''}` : 'flat binary'}, ${facts.size} bytes`];
  if (facts.broken) return `${lines[0]}; not a valid ELF: ${facts.broken}`;
  if (facts.elf) {
    if (facts.entry !== undefined) lines.push('', `Entry point \`${hex(facts.entry)}\`${symbolAt(facts, facts.entry)}`);
    lines.push('', '| segment (guest-physical) | virtual |', '|---|---|');
    for (const s of facts.segments) lines.push(`| \`${hex(s.start)}..${hex(s.end)}\` | \`${hex(s.vstart)}\` |`);
    lines.push('', `${facts.symbols.size} symbols`);
  }
  return lines.join('\n');
}

function symbolAt(facts: ImageFacts, addr: bigint): string {
  for (const [name, v] of facts.symbols) if (v === addr) return ` (\`${name}\`)`;
  return '';
}
