// QEMU's isa-debugcon: a one-port console for firmware and early boot code
// (SeaBIOS logs to 0x402, Bochs-style guests to 0xe9). Each byte written comes
// out as a debug-console event. Reads return 0xe9, as QEMU's readback does,
// so a guest can tell the port is there.

import type { Device, DeviceFactory, DeviceView } from './types';

/** What a read of the port returns (QEMU's default "readback" property). */
export const DEBUGCON_READBACK = 0xe9;

// Shared state (Int32 words): bytes written so far (0 until the guest uses it).
const W_BYTES = 0;
const WORDS = 1;

export const debugcon: DeviceFactory<{ kind: 'debugcon'; name: string; port: number }> = {
  stateBytes: () => WORDS * 4,
  create: (config, state, ctx): Device => {
    const w = new Int32Array(state, 0, WORDS);
    return {
      name: config.name,
      pio: [
        {
          base: config.port,
          length: 1,
          handler: {
            read: () => DEBUGCON_READBACK,
            write: (_offset, size, value) => {
              // A wider OUT sends its bytes low first, as QEMU's port I/O splits it.
              const bytes = new Uint8Array(size);
              for (let i = 0; i < size; i++) bytes[i] = (value >>> (8 * i)) & 0xff;
              Atomics.add(w, W_BYTES, size);
              ctx.emit({ kind: 'debug-console', device: config.name, bytes });
            },
          },
        },
      ],
      inspect: (): DeviceView => ({
        name: config.name,
        model: 'debug console (isa-debugcon)',
        active: Atomics.load(w, W_BYTES) > 0,
        interrupts: 0,
        fields: [
          { name: 'port', value: '0x' + config.port.toString(16) },
          { name: 'bytes written', value: String(Atomics.load(w, W_BYTES)) },
        ],
      }),
    };
  },
};
