// Checks a spec against the image it names: the file exists and is the
// declared format, its segments fit in RAM and miss the declared regions,
// the entry symbol exists and lies in a loaded segment, and the ELF class
// suits the boot mode. Reading files must not slow down typing, so what an
// image holds is cached by path, mtime and size.

import { hex } from '../common/address';
import * as fs from 'node:fs';
import { isElf, parseElf } from '../formats/elf';
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
}

const cache = new Map<string, { mtimeMs: number; size: number; facts: ImageFacts }>();

/** What an image holds, cached by path, mtime and size (shared by the checks, hover and completion). */
export function imageFacts(file: string): ImageFacts | { missing: string } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { missing: code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})` };
  }
  if (st.isDirectory()) return { missing: 'is a directory' };
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.facts;
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    return { missing: `cannot be read (${(e as NodeJS.ErrnoException).code})` };
  }
  const facts: ImageFacts = { elf: isElf(bytes), size: bytes.length, segments: [], symbols: new Map(), functions: new Map() };
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


/** Diagnostics that need the image file; empty when the spec itself did not parse. */
export function checkImage(result: SpecParseResult): SpecDiagnostic[] {
  const spec = result.spec;
  if (!spec) return [];
  const out: SpecDiagnostic[] = [];
  const at = (p: Array<string | number>): SpecRange => result.ranges.locate(p);
  const diag = (severity: SpecDiagnostic['severity'], code: SpecDiagnostic['code'], message: string, range: SpecRange, extra: Partial<SpecDiagnostic> = {}) =>
    out.push({ severity, code, message, range, ...extra });

  const facts = imageFacts(spec.boot.image);
  if ('missing' in facts) {
    diag('error', 'image-missing', `the image ${spec.boot.image} ${facts.missing}; build the guest first, or fix the path`, at(['boot', 'image']));
    return out;
  }
  if (spec.boot.format === 'elf' && !facts.elf) {
    diag('error', 'image-format', `boot.format is elf, but ${spec.boot.image} is not an ELF file`, at(['boot', 'format']));
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
