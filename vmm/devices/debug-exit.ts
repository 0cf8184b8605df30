// The debug-exit port: the guest writes a status byte and the VM stops; the
// CLI exits with that status. Reads return 0.

import type { Device, DeviceFactory } from './types';

export const debugExit: DeviceFactory<{ kind: 'debug-exit'; name: string; port: number }> = {
  stateBytes: () => 0,
  create: (config, _state, ctx): Device => ({
    name: config.name,
    pio: [
      {
        base: config.port,
        length: 1,
        handler: {
          read: () => 0,
          write: (_offset, _size, value) => ctx.emit({ kind: 'debug-exit', device: config.name, status: value & 0xff }),
        },
      },
    ],
  }),
};
