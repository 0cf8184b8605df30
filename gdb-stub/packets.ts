// The GDB Remote Serial Protocol's framing (GDB manual, "Remote Protocol",
// "Overview"): `$data#cs` packets with a modulo-256 checksum, the '+'/'-'
// acknowledgements, the 0x03 interrupt byte between packets, and the '}'
// escape (next byte XOR 0x20). Pure: bytes in, events out, so that a test
// can feed it garbage without a socket.

/** What the byte stream from the client carried. */
export type InboundEvent =
  /** A packet whose checksum matched (or was not checked in no-ack mode); data is binary-safe latin1, unescaped. */
  | { kind: 'packet'; data: string }
  /** A packet whose checksum did not match: answer '-' so the client sends it again. */
  | { kind: 'bad-checksum' }
  /** A packet longer than the reader accepts: it was dropped whole. */
  | { kind: 'too-long' }
  /** The client's Ctrl-C (0x03 outside a packet). */
  | { kind: 'interrupt' }
  | { kind: 'ack' }
  | { kind: 'nack' };

/** The largest packet the stub takes (and advertises as PacketSize). */
export const MAX_PACKET = 0x4000;

const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const STAR = 0x2a;

type ReaderState = 'idle' | 'data' | 'escape' | 'checksum1' | 'checksum2';

/** Splits the client's byte stream into events; keeps partial packets across chunks. */
export class PacketReader {
  private state: ReaderState = 'idle';
  private bytes: number[] = [];
  private sum = 0;
  private checksumText = '';
  private overflow = false;

  /** Whether checksums are still checked (QStartNoAckMode turns both acks and the check off). */
  checkChecksums = true;

  feed(chunk: Uint8Array): InboundEvent[] {
    const out: InboundEvent[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case 'idle':
          if (b === DOLLAR) this.begin();
          else if (b === 0x03) out.push({ kind: 'interrupt' });
          else if (b === 0x2b) out.push({ kind: 'ack' });
          else if (b === 0x2d) out.push({ kind: 'nack' });
          // Anything else between packets is line noise; the protocol says to ignore it.
          break;
        case 'data':
          this.sum = (this.sum + b) & 0xff;
          if (b === HASH) {
            this.sum = (this.sum - b) & 0xff;
            this.state = 'checksum1';
          } else if (b === DOLLAR) {
            // A '$' inside a packet means the previous one was cut off; start over with the new one.
            this.begin();
          } else if (b === ESCAPE) this.state = 'escape';
          else this.push(b);
          break;
        case 'escape':
          this.sum = (this.sum + b) & 0xff;
          this.push(b ^ 0x20);
          this.state = 'data';
          break;
        case 'checksum1':
          this.checksumText = String.fromCharCode(b);
          this.state = 'checksum2';
          break;
        case 'checksum2': {
          this.checksumText += String.fromCharCode(b);
          this.state = 'idle';
          out.push(this.finish());
          break;
        }
      }
    }
    return out;
  }

  private begin(): void {
    this.state = 'data';
    this.bytes = [];
    this.sum = 0;
    this.overflow = false;
  }

  private push(b: number): void {
    if (this.bytes.length >= MAX_PACKET) this.overflow = true;
    else this.bytes.push(b);
  }

  private finish(): InboundEvent {
    if (this.overflow) return { kind: 'too-long' };
    if (this.checkChecksums) {
      const given = /^[0-9a-fA-F]{2}$/.test(this.checksumText) ? parseInt(this.checksumText, 16) : -1;
      if (given !== this.sum) return { kind: 'bad-checksum' };
    }
    return { kind: 'packet', data: String.fromCharCode(...this.bytes) };
  }
}

/** The modulo-256 sum of a packet's bytes as sent. */
export function checksum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

/**
 * Frames a reply. '$', '#', '}' and '*' are escaped: '*' too, because gdb
 * reads it in replies as run-length encoding. One pass into one buffer: the
 * stub frames a reply for every packet.
 */
export function encodePacket(data: string): Buffer {
  // One pass over the bytes with the escape test written out: a helper call in the loop measured as a deoptimisation
  // on about every other reply of a gdb session (V8 found no type feedback for it).
  const body = Buffer.from(data, 'latin1');
  let escapes = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === DOLLAR || c === HASH || c === ESCAPE || c === STAR) escapes++;
  }
  const out = Buffer.allocUnsafe(body.length + escapes + 4);
  out[0] = DOLLAR;
  let at = 1;
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === DOLLAR || c === HASH || c === ESCAPE || c === STAR) {
      out[at++] = ESCAPE;
      out[at++] = c ^ 0x20;
      sum += ESCAPE + (c ^ 0x20);
    } else {
      out[at++] = c;
      sum += c;
    }
  }
  out[at++] = HASH;
  out[at++] = HEX_DIGITS.charCodeAt((sum >> 4) & 0xf);
  out[at] = HEX_DIGITS.charCodeAt(sum & 0xf);
  return out;
}

const HEX_DIGITS = '0123456789abcdef';

/** Bytes as the protocol's lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Hex text to bytes, or undefined when it is not an even run of hex digits. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A hex number of the protocol (addresses, lengths, thread ids), or undefined. */
export function parseHexNumber(text: string): bigint | undefined {
  return /^[0-9a-fA-F]{1,16}$/.test(text) ? BigInt('0x' + text) : undefined;
}

/** `value` as `size` little-endian bytes in hex: how 'g' and 'p' carry registers. */
export function littleEndianHex(value: bigint, size: number): string {
  let v = BigInt.asUintN(size * 8, value);
  let s = '';
  for (let i = 0; i < size; i++) {
    s += Number(v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return s;
}
