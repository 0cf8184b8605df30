// A plain byte array standing in for guest memory, for unit tests of the boot
// structures (no KVM needed).

export function fakeMemory(size: number) {
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  return {
    bytes,
    writeU64: (a: number, v: bigint) => dv.setBigUint64(a, v, true),
    fill: (a: number, len: number, v: number) => void bytes.fill(v, a, a + len),
    readU64: (a: number) => dv.getBigUint64(a, true),
  };
}
