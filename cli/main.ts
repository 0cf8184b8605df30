// vmscope's headless CLI: `run` a spec and stream the guest's serial output,
// `check` specs, and report what the host's KVM offers with `info`. Exit codes
// are documented in docs/cli.md; no stack trace ever reaches the user.

import { parseCommandArgs } from './args';
import { runCommand } from './run';
import { checkCommand } from './check';
import { infoCommand } from './info';
import { DEFAULT_GDB_ADDRESS, parseGdbAddress } from './gdb';
import { ExitCode, reportError, UsageError } from './common';

const HELP = `usage: vmscope <command> [options]

commands:
  run <spec> [--accel auto|kvm|emu] [--timeout <s>] [--stats] [--kvm <path>]
          [--gdb [host:]port] [--gdb-wait]
      run the VM; the guest's serial output goes to stdout, and vmscope exits
      with the guest's debug-exit status. --accel picks the backend (default:
      the spec's accel, else auto: KVM where usable, else the emulator).
      --gdb serves gdb's remote protocol (\`target remote host:port\`; the host
      defaults to 127.0.0.1); --gdb-wait holds the vCPUs until a client
      attaches (alone, it listens on 127.0.0.1:1234)
  check <spec>...
      check specs and the images they name, print problems as file:line:col;
      exits 1 when there are errors
  info [--json]
      what this host offers: KVM (access, API version, capabilities) and the
      emulator (Unicorn: where from, version), and why either is unusable

exit codes: the guest's debug-exit status; 0 the guest powered off (ACPI) or
reset the machine; 123 the guest halted without either;
124 timeout; 125 vmscope could not run (spec, image, no usable backend); 126 the
guest crashed (triple fault, entry failure, internal or emulation error); 2 bad usage`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `vmscope run --help` asks for help, not for an option run lacks (options end at `--`).
  const beforeDashes = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'));
  if (command !== undefined && (beforeDashes.includes('--help') || beforeDashes.includes('-h'))) {
    process.stdout.write(HELP + '\n');
    return ExitCode.ok;
  }
  switch (command) {
    case 'run': {
      const { values, positionals } = parseCommandArgs('run', rest, {
        timeout: { type: 'string', takes: 'a positive number of seconds' },
        stats: { type: 'boolean' },
        kvm: { type: 'string', takes: "the path of KVM's device (/dev/kvm)" },
        accel: { type: 'string', takes: 'auto, kvm or emu' },
        gdb: { type: 'string', takes: '[host:]port' },
        'gdb-wait': { type: 'boolean' },
      });
      if (positionals.length !== 1) throw new UsageError(positionals.length ? `run takes one spec file, not ${positionals.length} (${positionals.map((p) => `"${p}"`).join(', ')})` : 'run needs a spec file');
      const accel = values.accel;
      if (accel !== undefined && accel !== 'auto' && accel !== 'kvm' && accel !== 'emu') throw new UsageError(`--accel is auto, kvm or emu, not "${accel}"`);
      let timeoutMs: number | undefined;
      if (values.timeout !== undefined) {
        const s = Number(values.timeout);
        if (!Number.isFinite(s) || s <= 0) throw new UsageError(`--timeout needs a positive number of seconds, not "${values.timeout}"`);
        timeoutMs = s * 1000;
      }
      const gdbWait = values['gdb-wait'] ?? false;
      const gdb = values.gdb !== undefined ? parseGdbAddress(values.gdb) : gdbWait ? DEFAULT_GDB_ADDRESS : undefined;
      return runCommand(positionals[0]!, { timeoutMs, stats: values.stats ?? false, kvmPath: values.kvm, accel, gdb, gdbWait });
    }
    case 'check': {
      const { positionals } = parseCommandArgs('check', rest, {});
      if (positionals.length === 0) throw new UsageError('check needs at least one spec file');
      return checkCommand(positionals);
    }
    case 'info': {
      const { values, positionals } = parseCommandArgs('info', rest, { json: { type: 'boolean' }, kvm: { type: 'string', takes: "the path of KVM's device (/dev/kvm)" } });
      if (positionals.length > 0) throw new UsageError(`info takes no arguments, not "${positionals[0]}"`);
      return infoCommand({ json: values.json ?? false, kvmPath: values.kvm });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP + '\n');
      return command === undefined ? ExitCode.usage : ExitCode.ok;
    case '--version':
    case '-V':
      process.stdout.write(`vmscope ${VERSION}\n`);
      return ExitCode.ok;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

declare const VMSCOPE_VERSION: string | undefined;
const VERSION = typeof VMSCOPE_VERSION === 'string' ? VMSCOPE_VERSION : 'dev';

// A closed stdout (`vmscope run … | head`) is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
