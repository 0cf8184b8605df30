// A bounds-checked cursor over a DWARF section. Every read checks against the
// reader's end (a section, or a unit inside it), so malformed input surfaces
// as a DwarfError naming the section and offset instead of a RangeError from
// DataView or a silent read of the next unit's bytes.

/** Malformed or unsupported DWARF. The message names the section and the offset. */
export class DwarfError extends Error {
  override name = 'DwarfError';
}

export class ByteReader {
  private readonly dv: DataView;
  /** Offset from the start of `bytes`, which is the section: errors report it as the section offset. */
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    /** Section (and unit) the bytes belong to, for error messages. */
    readonly what: string,
    start = 0,
    readonly end = bytes.length,
  ) {
    if (start < 0 || end > bytes.length || start > end) throw new DwarfError(`${what}: bad range ${start}..${end} of ${bytes.length} bytes`);
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, at = this.pos): never {
    throw new DwarfError(`${this.what}: ${message} (at offset 0x${at.toString(16)})`);
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) this.fail(`truncated ${what}: needs ${n} bytes, ${this.end - this.pos} left`);
  }

  skip(n: number, what = 'data'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A reader over the next `n` bytes, which this reader then steps past. */
  sub(n: number, what: string, label = this.what): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.bytes, label, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.dv.getUint8(this.pos++);
  }

  i8(what = 'byte'): number {
    this.need(1, what);
    return this.dv.getInt8(this.pos++);
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A little-endian unsigned integer of 1..8 bytes (addresses of any width the producer chose). */
  uintN(size: number, what: string): bigint {
    if (size < 1 || size > 8) this.fail(`${what} has an unsupported size of ${size} bytes`);
    this.need(size, what);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[this.pos + i]!);
    this.pos += size;
    return v;
  }

  /** A section offset (4 bytes in 32-bit DWARF, 8 in 64-bit DWARF) that must fit a JS number. */
  offset(size: 4 | 8, what: string): number {
    const at = this.pos;
    if (size === 4) return this.u32(what);
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} 0x${v.toString(16)} is too large`, at);
    return Number(v);
  }

  /** ULEB128 that must fit a JS number (counts, indexes, lengths, line advances). */
  uleb(what = 'ULEB128'): number {
    const at = this.pos;
    const first = this.u8(what);
    if (first < 0x80) return first;
    let result = first & 0x7f;
    let shift = 7;
    for (;;) {
      const b = this.u8(what);
      const low = b & 0x7f;
      if (low !== 0) {
        // 2**shift stays exact up to 2**52; anything larger cannot be a safe integer.
        if (shift > 52) this.fail(`${what} does not fit in 53 bits`, at);
        result += low * 2 ** shift;
      }
      if (b < 0x80) break;
      shift += 7;
    }
    if (!Number.isSafeInteger(result)) this.fail(`${what} does not fit in 53 bits`, at);
    return result;
  }

  /** SLEB128 that must fit a JS number (line advances). */
  sleb(what = 'SLEB128'): number {
    const at = this.pos;
    const first = this.u8(what);
    if (first < 0x80) return first & 0x40 ? first - 0x80 : first;
    let result = BigInt(first & 0x7f);
    let shift = 7n;
    let b: number;
    do {
      b = this.u8(what);
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b >= 0x80);
    if (b & 0x40) result -= 1n << shift;
    if (result > BigInt(Number.MAX_SAFE_INTEGER) || result < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`${what} does not fit in 53 bits`, at);
    return Number(result);
  }

  /** Steps over a LEB128 of any length (values the reader never uses). */
  skipLeb(what = 'LEB128'): void {
    while (this.u8(what) >= 0x80) {
      // continuation bit set: keep going
    }
  }

  /** A NUL-terminated UTF-8 string; the terminator must lie inside the reader's range. */
  cstr(what = 'string'): string {
    const start = this.pos;
    const len = this.bytes.subarray(start, this.end).indexOf(0);
    if (len < 0) this.fail(`unterminated ${what}`, start);
    const nul = start + len;
    this.pos = nul + 1;
    return decodeUtf8(this.bytes, start, nul);
  }
}

export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/** The string at `offset` in a string section (.debug_str, .debug_line_str). */
export function stringAt(section: Uint8Array | undefined, name: string, offset: number): string {
  if (!section) throw new DwarfError(`a string refers to ${name}, which the file does not have`);
  if (offset >= section.length) throw new DwarfError(`${name}: string offset 0x${offset.toString(16)} is past the end of the section (${section.length} bytes)`);
  return new ByteReader(section, name, offset).cstr(`string in ${name}`);
}

/**
 * The initial length field of a unit: 32-bit DWARF, or 0xffffffff followed by a
 * 64-bit length (64-bit DWARF). Returns the unit's end, checked against the reader.
 */
export function readUnitLength(r: ByteReader): { end: number; offsetSize: 4 | 8 } {
  const at = r.pos;
  const len32 = r.u32('unit length');
  let len: number;
  let offsetSize: 4 | 8 = 4;
  if (len32 === 0xffffffff) {
    offsetSize = 8;
    len = r.offset(8, 'unit length');
  } else if (len32 >= 0xfffffff0) {
    r.fail(`reserved unit length 0x${len32.toString(16)}`, at);
  } else {
    len = len32;
  }
  if (len > r.remaining) r.fail(`unit length 0x${len.toString(16)} runs past the end (${r.remaining} bytes left)`, at);
  return { end: r.pos + len, offsetSize };
}
