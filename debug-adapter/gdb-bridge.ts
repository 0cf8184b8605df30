// A gdb stub beside the debug session, on the session's own machine: started
// by the gdbServer launch attribute or the startGdbServer request, moved to
// the fresh machine when the session restarts, gone with the session. The
// rules for two debuggers on one VM (docs/gdb.md, "From VS Code"):
// - breakpoints: each keeps its own (the machine's debug owners, DAP_OWNER and
//   the stub's), and both stay in force;
// - stops: every stop that is not resumed at once reaches both: VS Code gets a
//   stopped event (for a stop gdb caused too), and gdb its stop reply when it
//   waits for one (stop-policy.ts resumes silently only where no other owner
//   has a breakpoint);
// - resumes: a gdb continue or step shows in VS Code as a continued event; a
//   VS Code pause reaches a waiting gdb as a Ctrl-C would (SIGINT).

import type * as net from 'node:net';
import { exposureWarning, formatGdbAddress, type GdbAddress } from '../common/gdb-address';
import { GdbServer } from '../gdb-stub/server';
import { VmscopeError } from '../vmm/errors';
import type { VmContext } from './context';

/** What the startGdbServer request answers, and what vmInfo shows. */
export interface GdbServerInfo {
  host: string;
  port: number;
  /** `host:port` as gdb's `target remote` takes it. */
  address: string;
  /** The gdb command that attaches: `target remote host:port`. */
  targetRemote: string;
  /** The stub was already listening (the request asked for nothing new). */
  alreadyListening: boolean;
  loopback: boolean;
}

export class GdbBridge {
  private server: GdbServer | undefined;
  /** Where the stub listens now (the port the system chose, for port 0). */
  private bound: GdbAddress | undefined;
  private moving: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: VmContext) {}

  /** Where it listens, if it does. */
  get address(): GdbAddress | undefined {
    return this.bound;
  }

  /** Starts the stub on the session's machine at `at`; when it already listens, says where. */
  async start(at: GdbAddress): Promise<GdbServerInfo> {
    await this.moving;
    if (this.bound) {
      if (at.port !== 0 && (at.port !== this.bound.port || at.host !== this.bound.host)) {
        throw new VmscopeError(`the gdb stub already listens on ${formatGdbAddress(this.bound)}`, 'one stub per session: attach gdb there');
      }
      return this.info(true);
    }
    const warning = exposureWarning(at);
    if (warning) this.ctx.console(`warning: ${warning}\n`);
    await this.listen(at);
    this.ctx.console(`vmscope: gdb stub listening on ${formatGdbAddress(this.bound!)}; in gdb: target remote ${formatGdbAddress(this.bound!)}\n`);
    return this.info(false);
  }

  private async listen(at: GdbAddress): Promise<void> {
    const machine = this.ctx.machine;
    if (!machine || this.ctx.ended) throw new VmscopeError('no VM is running');
    const server = new GdbServer(machine, { host: at.host, port: at.port, log: (line) => this.ctx.console(`vmscope: ${line}\n`) });
    let bound: net.AddressInfo;
    try {
      bound = await server.listen();
    } catch (e) {
      server.close();
      throw new VmscopeError(`the gdb stub cannot listen on ${formatGdbAddress(at)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.server = server;
    this.bound = { host: at.host, port: bound.port };
  }

  /**
   * The session restarted on a fresh machine: the stub follows it, on the same
   * address (the old one stopped listening when its machine ended; a client
   * attached to it was told the inferior exited).
   */
  machineReplaced(): void {
    const at = this.bound;
    if (!at) return;
    this.server?.close();
    this.server = undefined;
    this.moving = this.moving.then(async () => {
      // The old listening socket closes on the next turn of the event loop: retry briefly while the port is busy.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.listen(at);
          this.ctx.console(`vmscope: gdb stub listening on ${formatGdbAddress(at)} for the restarted VM\n`);
          return;
        } catch (e) {
          if (attempt >= 20 || !/EADDRINUSE/.test(String(e))) {
            this.bound = undefined;
            this.ctx.console(`vmscope: ${e instanceof Error ? e.message : String(e)}\n`);
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
  }

  /** VS Code paused the VM: a gdb that waits for a stop hears of it, as after its own Ctrl-C. */
  interrupt(): void {
    this.server?.interrupt();
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
    this.bound = undefined;
  }

  private info(alreadyListening: boolean): GdbServerInfo {
    const at = this.bound!;
    const address = formatGdbAddress(at);
    return { host: at.host, port: at.port, address, targetRemote: `target remote ${address}`, alreadyListening, loopback: exposureWarning(at) === undefined };
  }
}
