// The gdb stub's name among a machine's debug owners (vmm/debug-owners.ts):
// its breakpoints, watchpoints and exit filters are kept apart from a debug
// adapter's on the same machine, and both stay in force.

import type { DebugOwner } from '../vmm/debug-owners';

export const GDB_OWNER: DebugOwner = 'gdb';
