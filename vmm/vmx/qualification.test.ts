// Exit-qualification bit layouts against values worked out by hand from the
// SDM's tables (Vol. 3C, 28.2.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  debugQualificationFromDr6,
  decodeEptViolationQualification,
  decodeIoQualification,
  encodeEptViolationQualification,
  encodeIoQualification,
  ioExitFromKvm,
  ioQualificationOf,
} from './qualification';

test('I/O qualifications of common instructions', () => {
  // out dx, al with dx = 0x3f8: size 0, OUT, DX encoding -> only the port.
  assert.equal(encodeIoQualification({ size: 1, in: false, string: false, rep: false, immediate: false, port: 0x3f8 }), 0x3f80000n);
  // in al, 0x61: direction bit 3, immediate bit 6.
  assert.equal(encodeIoQualification({ size: 1, in: true, string: false, rep: false, immediate: true, port: 0x61 }), (0x61n << 16n) | 8n | 0x40n);
  // in ax, dx (0x1f0): size code 1.
  assert.equal(encodeIoQualification({ size: 2, in: true, string: false, rep: false, immediate: false, port: 0x1f0 }), 0x1f00009n);
  // out 0x80, eax: size code 3, immediate.
  assert.equal(encodeIoQualification({ size: 4, in: false, string: false, rep: false, immediate: true, port: 0x80 }), 0x800043n);
  // rep outsb to 0x3f8: string bit 4, REP bit 5.
  assert.equal(encodeIoQualification({ size: 1, in: false, string: true, rep: true, immediate: false, port: 0x3f8 }), 0x3f80030n);
  // rep insd from 0xcfc.
  assert.equal(encodeIoQualification({ size: 4, in: true, string: true, rep: true, immediate: false, port: 0xcfc }), 0xcfc003bn);
});

test('I/O qualification decodes back, and rejects what the SDM reserves', () => {
  for (const q of [
    { size: 1, in: false, string: false, rep: false, immediate: false, port: 0x3f8 },
    { size: 2, in: true, string: true, rep: true, immediate: false, port: 0xffff },
    { size: 4, in: false, string: false, rep: false, immediate: true, port: 0 },
  ] as const) {
    assert.deepEqual(decodeIoQualification(encodeIoQualification(q)), q);
  }
  assert.deepEqual(decodeIoQualification(0x610048), { size: 1, in: true, string: false, rep: false, immediate: true, port: 0x61 });
  assert.throws(() => decodeIoQualification(0x2), /reserved size/);
  assert.throws(() => encodeIoQualification({ size: 3 as 1, in: false, string: false, rep: false, immediate: false, port: 1 }), /size/);
  assert.throws(() => encodeIoQualification({ size: 1, in: false, string: false, rep: false, immediate: false, port: 0x10000 }), /port/);
});

test('ioExitFromKvm takes string, REP and operand encoding from the instruction and checks it fits', () => {
  const outDx = ioExitFromKvm({ port: 0x3f8, size: 1, in: false, count: 1, value: 0x48 }, { mnemonic: 'out', hasRepPrefix: false, immediatePort: false, length: 1 });
  assert.equal(ioQualificationOf(outDx), 0x3f80000n);
  assert.equal(outDx.value, 0x48);
  const inImm = ioExitFromKvm({ port: 0x61, size: 1, in: true, count: 1 }, { mnemonic: 'in', hasRepPrefix: false, immediatePort: true, length: 2 });
  assert.equal(ioQualificationOf(inImm), 0x610048n);
  const repOuts = ioExitFromKvm({ port: 0x3f8, size: 1, in: false, count: 12 }, { mnemonic: 'rep outsb', hasRepPrefix: true, immediatePort: false, length: 2 });
  assert.equal(ioQualificationOf(repOuts), 0x3f80030n);
  // A REP prefix on plain OUT does nothing and does not set the REP bit.
  const repOut = ioExitFromKvm({ port: 0x80, size: 1, in: false, count: 1 }, { mnemonic: 'out', hasRepPrefix: true, immediatePort: false, length: 2 });
  assert.equal(repOut.rep, false);
  assert.throws(() => ioExitFromKvm({ port: 0x61, size: 1, in: true, count: 1 }, { mnemonic: 'out', hasRepPrefix: false, immediatePort: true, length: 2 }), /does not match/);
  assert.throws(() => ioExitFromKvm({ port: 0x61, size: 1, in: true, count: 1 }, { mnemonic: 'mov', hasRepPrefix: false, immediatePort: false, length: 2 }), /not an I\/O/);
});

test('EPT-violation qualification: known bits set, unknown ones reported', () => {
  // A data write through a valid linear address to its translation, EPT entry unknown.
  const w = encodeEptViolationQualification({ read: false, write: true, fetch: false, linearAddressValid: true, translatedAccess: true, nmiUnblocking: false });
  assert.equal(w.value, 0x182n);
  assert.equal(w.unknownBits, 0x78n | 0xe00n);
  // A read of a page whose EPT entry is readable and executable, not writable (a read-only slot).
  const r = encodeEptViolationQualification({
    read: true,
    write: false,
    fetch: false,
    entry: { readable: true, writable: false, executable: true, userExecutable: false },
    linearAddressValid: true,
    translatedAccess: true,
    advanced: { userMode: true, writablePage: false, executeDisable: false },
    nmiUnblocking: true,
  });
  assert.equal(r.value, 0x1n | 0x8n | 0x20n | 0x80n | 0x100n | 0x200n | 0x1000n);
  assert.equal(r.unknownBits, 0n);
  // Bit 8 means nothing without bit 7.
  assert.equal(encodeEptViolationQualification({ read: true, write: false, fetch: false, linearAddressValid: false, translatedAccess: true, nmiUnblocking: false }).value, 1n);

  const d = decodeEptViolationQualification(w.value, w.unknownBits);
  assert.equal(d.write, true);
  assert.equal(d.read, false);
  assert.equal(d.entry, undefined, 'unknown permissions decode as unknown, not as "no access"');
  assert.equal(d.advanced, undefined);
  assert.equal(d.linearAddressValid, true);
  assert.equal(d.translatedAccess, true);
  assert.deepEqual(decodeEptViolationQualification(r.value).entry, { readable: true, writable: false, executable: true, userExecutable: false });
});

test('#DB qualification keeps B0-B3, BD and BS from DR6', () => {
  // Single step as KVM reports it: DR6 = BS | the active-low ones.
  assert.deepEqual(debugQualificationFromDr6(0xffff4ff0n), { value: 0x4000n, unknownBits: 0x10000n });
  // DR1 hit.
  assert.equal(debugQualificationFromDr6(0xffff0ff2n).value, 0x2n);
  // BD and B0 carry over; BT (DR6 bit 15) has no place in the qualification.
  assert.equal(debugQualificationFromDr6(0xffffaff1n).value, 0x2001n);
});
