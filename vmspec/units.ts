// Sizes and addresses as written in a .vmspec, and how vmscope prints them back.
// Parsing is exact (bigint throughout); callers range-check and narrow to number where the value must fit.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** x86-64 MAXPHYADDR is at most 52, so every guest-physical address is below this (and exact as a JS number). */
export const GPA_LIMIT = 2 ** 52;
export const PAGE_SIZE = 4 * KiB;

export type UnitResult<T> =
  | { ok: true; value: T }
  /** `suggestion` is replacement text for the whole input, for a quick fix. */
  | { ok: false; message: string; suggestion?: string };

/** Binary suffixes, the only ones vmscope accepts (matched case-insensitively). */
const BINARY_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['B', 1n],
  ['byte', 1n],
  ['bytes', 1n],
  ['KiB', 1n << 10n],
  ['MiB', 1n << 20n],
  ['GiB', 1n << 30n],
  ['TiB', 1n << 40n],
];

// Suffixes people write out of habit. Each is ambiguous (SI 10^3 or binary 2^10), so rather than
// guess we reject them and name the binary spelling, which is what a memory size nearly always means.
const AMBIGUOUS_UNITS: Readonly<Record<string, string>> = {
  k: 'KiB', kb: 'KiB', ki: 'KiB',
  m: 'MiB', mb: 'MiB', mi: 'MiB',
  g: 'GiB', gb: 'GiB', gi: 'GiB',
  t: 'TiB', tb: 'TiB', ti: 'TiB',
};

const INTEGER_RE = /^([+-]?)(?:0x([0-9a-f]+(?:_[0-9a-f]+)*)|0o([0-7]+(?:_[0-7]+)*)|0b([01]+(?:_[01]+)*)|([0-9]+(?:_[0-9]+)*))$/i;

/**
 * An integer literal: decimal, 0x hex, 0o octal or 0b binary, with `_` allowed between digits
 * (as in `0xffff_ffff_8100_0000`). Surrounding whitespace is ignored.
 */
export function parseIntegerLiteral(text: string): UnitResult<bigint> {
  const m = INTEGER_RE.exec(text.trim());
  if (!m) return { ok: false, message: `"${text}" is not an integer` };
  const [, sign, hex, oct, bin, dec] = m;
  const digits = (hex ?? oct ?? bin ?? dec ?? '').replace(/_/g, '');
  const prefix = hex !== undefined ? '0x' : oct !== undefined ? '0o' : bin !== undefined ? '0b' : '';
  const magnitude = BigInt(prefix + digits);
  return { ok: true, value: sign === '-' ? -magnitude : magnitude };
}

/** Whether text starts like a number, so it cannot be a symbol name (C identifiers never start with a digit). */
export function looksNumeric(text: string): boolean {
  return /^\s*[+-]?[0-9]/.test(text);
}

const SIZE_RE = /^\s*([+-]?(?:0x[0-9a-f_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*(?:\.[0-9]+)?))\s*([a-z]*)\s*$/i;

/**
 * A size in bytes: an integer (YAML already gave it to us as bigint) or a string such as `16MiB`,
 * `4 KiB`, `0x10 MiB` or `1.5GiB` (a fraction is allowed when the result is a whole number of bytes).
 */
export function parseSize(input: string | bigint): UnitResult<bigint> {
  if (typeof input === 'bigint') return { ok: true, value: input };
  const m = SIZE_RE.exec(input);
  if (!m) {
    return { ok: false, message: `"${input}" is not a size; write bytes as an integer or use a binary suffix, as in 16MiB` };
  }
  const [, number = '', suffix = ''] = m;
  let multiplier = 1n;
  if (suffix !== '') {
    const unit = BINARY_UNITS.find(([name]) => name.toLowerCase() === suffix.toLowerCase());
    if (!unit) {
      const binary = AMBIGUOUS_UNITS[suffix.toLowerCase()];
      if (binary !== undefined) {
        const fixed = `${number}${binary}`;
        return {
          ok: false,
          message: `"${input.trim()}" is ambiguous: vmscope sizes are binary (1 MiB = 1048576 bytes); write ${fixed}`,
          suggestion: fixed,
        };
      }
      return { ok: false, message: `unknown size suffix "${suffix}" in "${input.trim()}"; use B, KiB, MiB, GiB or TiB` };
    }
    multiplier = unit[1];
  }
  const dot = number.indexOf('.');
  if (dot >= 0) {
    const whole = parseIntegerLiteral(number.slice(0, dot));
    if (!whole.ok) return { ok: false, message: `"${input.trim()}" is not a size: misplaced "_" in ${number}` };
    const fraction = number.slice(dot + 1);
    const scale = 10n ** BigInt(fraction.length);
    const scaled = BigInt(number.slice(0, dot).replace(/_/g, '') + fraction) * multiplier;
    if (scaled % scale !== 0n) {
      return { ok: false, message: `"${input.trim()}" is not a whole number of bytes` };
    }
    return { ok: true, value: scaled / scale };
  }
  const int = parseIntegerLiteral(number);
  if (!int.ok) return { ok: false, message: `"${input.trim()}" is not a size: misplaced "_" in ${number}` };
  return { ok: true, value: int.value * multiplier };
}

/**
 * An address: an integer literal, or a binary size such as `3GiB` (handy for guest-physical layouts).
 * Strings that are not numeric are not addresses; whether they may be symbol names is the caller's call.
 */
export function parseAddress(input: string | bigint): UnitResult<bigint> {
  if (typeof input === 'bigint') return { ok: true, value: input };
  const int = parseIntegerLiteral(input);
  if (int.ok) return int;
  const size = parseSize(input);
  if (size.ok) return size;
  if (size.suggestion !== undefined) return size;
  return { ok: false, message: `"${input.trim()}" is not an address; write an integer such as 0x100000` };
}

const SIZE_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['TiB', 1n << 40n],
  ['GiB', 1n << 30n],
  ['MiB', 1n << 20n],
  ['KiB', 1n << 10n],
];

/**
 * Exact and human: the largest binary unit in which the size is whole or has at most three exact
 * decimals (`16 MiB`, `1.5 KiB`), else bytes (`16777217 bytes`). Output always parses back with parseSize.
 */
export function formatSize(bytes: number | bigint): string {
  const n = BigInt(bytes);
  const magnitude = n < 0n ? -n : n;
  for (const [name, unit] of SIZE_UNITS) {
    if (magnitude < unit) continue;
    if ((magnitude * 1000n) % unit !== 0n) continue;
    const whole = n / unit;
    const rest = magnitude % unit;
    if (rest === 0n) return `${whole} ${name}`;
    const decimals = ((rest * 1000n) / unit).toString().padStart(3, '0').replace(/0+$/, '');
    return `${whole}.${decimals} ${name}`;
  }
  return `${n} ${magnitude === 1n ? 'byte' : 'bytes'}`;
}

export interface HexOptions {
  /** Minimum number of hex digits (zero-padded). */
  pad?: number;
  /** Group digits in fours with `_`, as in `0xffff_ffff_8100_0000`; the result still parses. */
  group?: boolean;
}

/** Lower-case `0x` hex; negative values keep their sign rather than wrapping, so mistakes stay visible. */
export function formatHex(value: number | bigint, options: HexOptions = {}): string {
  const n = BigInt(value);
  let digits = (n < 0n ? -n : n).toString(16).padStart(options.pad ?? 1, '0');
  if (options.group) {
    digits = digits.replace(/\B(?=([0-9a-f]{4})+$)/g, '_');
  }
  return `${n < 0n ? '-' : ''}0x${digits}`;
}

/** A half-open guest-physical range as vmscope prints it in messages: `[0xd0000000, 0xd0001000)`. */
export function formatRange(start: number | bigint, end: number | bigint): string {
  return `[${formatHex(start)}, ${formatHex(end)})`;
}
