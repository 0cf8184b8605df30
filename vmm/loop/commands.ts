// The command channel from the machine to one vCPU thread: commands posted on
// a message port, read synchronously (a vCPU thread running guest code never
// turns its event loop), and the PENDING control word that says some wait.
// Commands change the vCPU's orders; the loop carries them out.

import type { DebugConfig, ResumeHow, VcpuCommand } from '../debug';
import type { ExitHooks } from './exit-hooks';
import { Ctl } from './control';

/** What a vCPU is to do, as the machine's commands set it. */
export interface LoopOrders {
  /** How to run on when next resumed (a continue unless a step was asked). */
  how: ResumeHow;
  /** Breakpoints, watchpoints and int3 routing in force. */
  debug: DebugConfig;
  /** A debug config arrived since the vCPU was last resumed. */
  debugChanged: boolean;
  /** External interrupts waiting for the guest to accept them, oldest first. */
  readonly irqs: number[];
}

export class CommandChannel {
  /**
   * @param ctl the vCPU's control words (PENDING)
   * @param receive the next posted command, or undefined when none is left
   * @param setTracing tells the backend when exit tracing turns on or off
   */
  constructor(
    private readonly ctl: Int32Array,
    private readonly receive: () => VcpuCommand | undefined,
    private readonly orders: LoopOrders,
    private readonly hooks: ExitHooks,
    private readonly setTracing: (on: boolean) => void,
  ) {}

  /** The machine posted commands since the last drain. */
  get pending(): boolean {
    return Atomics.load(this.ctl, Ctl.PENDING) !== 0;
  }

  /** Carries out every posted command, oldest first. */
  drain(): void {
    // Cleared first: a command posted while draining sets it again and is read now or next time.
    Atomics.store(this.ctl, Ctl.PENDING, 0);
    for (let c = this.receive(); c; c = this.receive()) this.apply(c);
  }

  private apply(c: VcpuCommand): void {
    const orders = this.orders;
    switch (c.kind) {
      case 'debug-config':
        orders.debug = c.config;
        orders.debugChanged = true;
        break;
      case 'resume':
        orders.how = c.how;
        break;
      case 'interrupt':
        orders.irqs.push(c.vector);
        break;
      case 'exit-config':
        this.hooks.configure(c.filters, c.trace, this.setTracing);
        break;
    }
  }
}
