// Framing of the GDB remote protocol: checksums, acks, escapes, interrupts,
// and garbage that must leave the reader usable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, fromHex, littleEndianHex, PacketReader, parseHexNumber, type InboundEvent } from './packets';

const feed = (r: PacketReader, s: string | Uint8Array): InboundEvent[] => r.feed(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

test('a packet with its checksum is read; acks and Ctrl-C between packets are events', () => {
  const r = new PacketReader();
  assert.deepEqual(feed(r, '+$g#67-\x03'), [{ kind: 'ack' }, { kind: 'packet', data: 'g' }, { kind: 'nack' }, { kind: 'interrupt' }]);
});

test('a packet split across chunks is read once it is whole', () => {
  const r = new PacketReader();
  const whole = encodePacket('qSupported:multiprocess+;swbreak+');
  const events: InboundEvent[] = [];
  for (const b of whole) events.push(...r.feed(Uint8Array.of(b)));
  assert.deepEqual(events, [{ kind: 'packet', data: 'qSupported:multiprocess+;swbreak+' }]);
});

test('a bad checksum is reported and the next packet still reads', () => {
  const r = new PacketReader();
  assert.deepEqual(feed(r, '$g#00$m10,4#'), [{ kind: 'bad-checksum' }]);
  assert.deepEqual(feed(r, encodePacket('m10,4').subarray(7)), [{ kind: 'packet', data: 'm10,4' }]);
  // A checksum that is not hex is a bad checksum, not a crash.
  assert.deepEqual(feed(r, '$?#zz'), [{ kind: 'bad-checksum' }]);
});

test('without acks, checksums are not checked', () => {
  const r = new PacketReader();
  r.checkChecksums = false;
  assert.deepEqual(feed(r, '$?#00'), [{ kind: 'packet', data: '?' }]);
});

test('escapes round-trip: encodePacket escapes $ # } * and the reader undoes it', () => {
  const data = 'X1000,4:$#}*';
  const framed = encodePacket(data);
  assert.ok(!framed.subarray(1, framed.length - 3).includes(0x23), 'no bare # in the body');
  assert.deepEqual(new PacketReader().feed(framed), [{ kind: 'packet', data }]);
});

test('a $ in the middle of a packet restarts it; noise between packets is ignored', () => {
  const r = new PacketReader();
  assert.deepEqual(feed(r, Buffer.concat([Buffer.from('xyz$abc'), encodePacket('?')])), [{ kind: 'packet', data: '?' }]);
});

test('an endless packet is dropped as too long and the reader recovers', () => {
  const r = new PacketReader();
  const events = feed(r, '$' + 'a'.repeat(100_000) + '#00');
  assert.deepEqual(events, [{ kind: 'too-long' }]);
  assert.deepEqual(r.feed(encodePacket('?')), [{ kind: 'packet', data: '?' }]);
});

test('hex helpers reject what is not hex', () => {
  assert.equal(fromHex('0g'), undefined);
  assert.equal(fromHex('abc'), undefined);
  assert.deepEqual(fromHex('0aff'), Uint8Array.of(10, 255));
  assert.equal(parseHexNumber(''), undefined);
  assert.equal(parseHexNumber('-1'), undefined);
  assert.equal(parseHexNumber('ffffffff80000000'), 0xffffffff80000000n);
  assert.equal(littleEndianHex(0x1234n, 4), '34120000');
  assert.equal(littleEndianHex(-1n, 2), 'ffff');
});
