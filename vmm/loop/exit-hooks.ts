// What a vCPU thread does with an exit besides handling it: record it in the
// exit trace ring and run the exit filters (break or log on matching exits).
// Both backends call it through the ExitSink, on the vCPU's own thread, so a
// filter costs no hop to the machine. The filters themselves (conditions, hit
// counts) are prepared in vmm/exit-trace.ts.

import { hex } from '../../common/address';
import type { LoopEvent } from '../backend';
import { describeExitInfo, exitContext, exitVariables, prepareFilters, TraceRing, type ExitFilter, type ExitFilterSpec, type ExitInfo } from '../exit-trace';
import { interpolate } from '../expr/interpolate';
import { compile } from '../expr/evaluate';

export type ExitBreak = Extract<LoopEvent, { kind: 'exit-break' }>;

export class ExitHooks {
  private readonly ring: TraceRing;
  /** Adds to this thread's performance.now() to give ms since the machine started, as on every thread. */
  private readonly clockOffset: number;
  private tracing = false;
  private filtersByCode: Array<ExitFilter[] | undefined> = [];
  private anything = false;

  /**
   * @param trace this vCPU's trace ring (a TraceRing buffer)
   * @param startedAt epoch ms the machine started
   * @param log where logpoint messages and filter errors go (to the machine)
   */
  constructor(
    trace: SharedArrayBuffer,
    startedAt: number,
    private readonly log: (filter: string, text: string) => void,
  ) {
    this.ring = new TraceRing(trace);
    this.clockOffset = performance.timeOrigin - startedAt;
  }

  /** Anything to do per exit besides handling it (keeps the backends' hot path to one check). */
  get active(): boolean {
    return this.anything;
  }

  /** Exit filters are set: an exit may stop the vCPU (tracing alone never does). */
  get filtering(): boolean {
    return this.filtersByCode.some((f) => f !== undefined);
  }

  /**
   * Takes new filters and turns the trace on or off. `setTracing` tells the
   * backend in between: after the filters and the trace switch, before
   * `active` changes. The emulator's next entry then sees `active` change and
   * re-plans its hooks (and drops code translated without them).
   */
  configure(filters: readonly ExitFilterSpec[], trace: boolean, setTracing: (on: boolean) => void): void {
    const prepared = prepareFilters(filters);
    for (const err of prepared.errors) this.log('config', err);
    this.filtersByCode = prepared.byCode;
    this.tracing = trace;
    setTracing(trace);
    this.anything = trace || this.filtersByCode.some((f) => f !== undefined);
  }

  /** Records the exit and runs the filters; returns a break if one matched. */
  onExit(code: number, exit: ExitInfo, registerOf: (name: string) => bigint | undefined, rip: () => bigint): ExitBreak | undefined {
    if (this.tracing) this.ring.push(performance.now() + this.clockOffset, code, rip(), exit);
    const filters = this.filtersByCode[code];
    if (!filters) return undefined;
    const vars = exitVariables(exit);
    let hit: ExitBreak | undefined;
    for (const f of filters) {
      let match = true;
      if (f.compiled) {
        try {
          match = f.compiled.evaluate(exitContext(vars, registerOf)) !== 0n;
        } catch (e) {
          this.log(f.id, `condition "${f.condition}" failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (!match) continue;
      const hits = ++f.hits;
      if (f.hitTest && !f.hitTest(hits)) continue;
      if (f.logMessage !== undefined) {
        // An empty message logs the exit itself: `out 0x3f8, 1 byte, value 0x48 at rip 0x10008a`.
        const text = f.logMessage
          ? interpolate(f.logMessage, (expr) => hex(compile(expr).evaluate(exitContext(vars, registerOf))))
          : `${exit.reason} ${describeExitInfo(exit)} at rip ${hex(rip())}`;
        this.log(f.id, text);
        continue;
      }
      hit ??= { kind: 'exit-break', filter: f.id, code, exit, hits };
    }
    return hit;
  }
}
