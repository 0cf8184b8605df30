// gdb's `monitor` commands (qRcmd) for vmscope's hypervisor views: the page
// walk, the derived VMCS, exit counts and trace, exit breakpoints and the VM's
// devices and memory map, each built by the same vmm/ functions that feed the
// debug adapter, so both give the same answer.

import { gva, hex } from '../common/address';
import type { Machine } from '../vmm/machine';
import type { GuestAccess } from '../vmm/guest-access';
import { formatTranslation, translateOn } from '../vmm/paging/translation';
import { guestVmcs } from '../vmm/vmx/guest-vmcs';
import { describeExitStop, EXIT_FILTERS, exitCountsByFilter } from '../vmm/exit-filters';
import { describeExitInfo, EXIT_CODES, splitCondition, type ExitFilterSpec, type ExitInfo } from '../vmm/exit-trace';
import { compile, type EvalContext } from '../vmm/expr/evaluate';
import { parseHitCondition } from '../vmm/expr/hit-condition';
import { devicesOf, memoryMapOf } from '../vmm/vm-info';
import { cpuModeName } from '../vmm/exits';
import { fromHex, toHex } from './packets';
import { GDB_OWNER } from './owner';

/** A command's refusal: the message goes to gdb as console output before the error reply. */
export class MonitorError extends Error {}

interface Command {
  name: string;
  usage: string;
  help: string;
  run(args: string, vcpu: number): string;
}

/** How many recent exits `monitor exits` lists. */
const TRACE_SHOWN = 20;

export class Monitor {
  /** What the exit filters set, as the machine has them. */
  private filters: ExitFilterSpec[] = [];
  /** The last exit-filter stop reported to gdb, for `monitor exits`. */
  private lastExitStop: string | undefined;
  private readonly commands: Command[];

  constructor(
    private readonly machine: Machine,
    private readonly access: GuestAccess,
  ) {
    this.commands = [
      { name: 'help', usage: 'help', help: 'lists these commands', run: () => this.help() },
      { name: 'translate', usage: 'translate <gva>', help: "walks a guest-virtual address (an expression: 0x..., $rip, rsp+8) through the current thread's page tables, level by level, to the GPA, HVA and HPA", run: (a, v) => this.translate(a, v) },
      { name: 'vmcs', usage: 'vmcs [field]', help: "the current thread's VMCS as vmscope derives it, each field with its encoding and where its value came from; a field name (or part of one) picks fields", run: (a, v) => this.vmcs(a, v) },
      { name: 'exits', usage: 'exits', help: `exit counts per reason, the last ${TRACE_SHOWN} exits and the exit filters`, run: () => this.exits() },
      {
        name: 'break-on-exit',
        usage: 'break-on-exit <kind> [condition] | break-on-exit clear',
        help: `stops the VM at an exit of <kind> (${EXIT_FILTERS.map((f) => f.id).join(', ')}) where the condition holds, e.g. "break-on-exit io port == 0x3f8"; gdb sees a SIGTRAP whose stop reply names the exit; "clear" removes them all`,
        run: (a) => this.breakOnExit(a),
      },
      { name: 'info', usage: 'info', help: 'the backend, the vCPUs, the devices and the memory map', run: () => this.info() },
    ];
  }

  /**
   * The replies to `qRcmd,<hex>`: console output as O packets (sent through `send`), then the final
   * reply: OK, or E01 for a command that failed (its message went out first).
   */
  packet(hexCommand: string, vcpu: number, send: (packet: string) => void): string {
    const bytes = fromHex(hexCommand);
    if (!bytes) return 'E01';
    let text: string;
    let ok = true;
    try {
      text = this.run(Buffer.from(bytes).toString('latin1'), vcpu);
    } catch (e) {
      text = `error: ${e instanceof Error ? e.message : String(e)}`;
      ok = false;
    }
    if (!text.endsWith('\n')) text += '\n';
    // O packets carry hex, two characters a byte: chunks keep each packet well under the packet size.
    const data = new TextEncoder().encode(text);
    for (let i = 0; i < data.length; i += 1024) send('O' + toHex(data.subarray(i, i + 1024)));
    return ok ? 'OK' : 'E01';
  }

  /** A command's output; throws MonitorError (or the runner's error) when it fails. */
  run(line: string, vcpu: number): string {
    const trimmed = line.trim();
    const space = trimmed.search(/\s/);
    const name = space < 0 ? trimmed : trimmed.slice(0, space);
    const args = space < 0 ? '' : trimmed.slice(space + 1).trim();
    const cmd = this.commands.find((c) => c.name === (name || 'help'));
    if (!cmd) throw new MonitorError(`unknown monitor command "${name}"; "monitor help" lists them`);
    return cmd.run(args, vcpu);
  }

  /** The reason part of a T packet for an exit-filter stop, remembered for `monitor exits`. gdb skips `name:value;` pairs whose name is no register and no keyword it knows (GDB manual, "Stop Reply Packets"). */
  exitStopReason(stop: { filter: string; code: number; exit: ExitInfo; hits: number }): string {
    const description = describeExitStop(stop.code, stop.exit, this.machine.implementation);
    this.lastExitStop = `${description} (filter ${stop.filter}, hit ${stop.hits})`;
    return `vmexit:${stopText(stop.exit)};`;
  }

  /** Removes the exit filters (the client left: nobody would see their stops). */
  release(): void {
    if (!this.filters.length) return;
    this.filters = [];
    this.machine.configureExits([], true, GDB_OWNER);
  }

  private help(): string {
    return ['vmscope monitor commands:', ...this.commands.map((c) => `  ${c.usage}\n      ${c.help}`)].join('\n');
  }

  private translate(args: string, vcpu: number): string {
    if (!args) throw new MonitorError('usage: monitor translate <gva>');
    const addr = this.evaluate(args, vcpu);
    return formatTranslation(translateOn(this.machine, vcpu, addr));
  }

  private vmcs(args: string, vcpu: number): string {
    const { fields, gaps } = guestVmcs(this.machine, vcpu, this.access, this.machine.implementation);
    const want = args.toUpperCase();
    const lines: string[] = [];
    for (const f of fields) {
      if (want && !f.name.includes(want)) continue;
      const unknown = f.unknownBits ? ` (bits ${hex(f.unknownBits)} unknown)` : '';
      lines.push(`${f.name} (${hex(f.encoding, 4)}) = ${hex(f.value)}${unknown} · ${f.provenance}${f.note ? ` · ${f.note}` : ''}`);
    }
    for (const g of gaps) {
      if (want && !g.name.includes(want)) continue;
      lines.push(`${g.name} (${hex(g.encoding, 4)}) not available: ${g.reason}`);
    }
    if (!lines.length) throw new MonitorError(`no VMCS field matches "${args}"`);
    return lines.join('\n');
  }

  private exits(): string {
    const counts = exitCountsByFilter(this.machine.exitCounts());
    const lines = ['exit counts:'];
    const names = Object.keys(counts).sort((a, b) => counts[b]! - counts[a]!);
    if (!names.length) lines.push('  (none yet)');
    for (const n of names) lines.push(`  ${n.padEnd(14)} ${counts[n]}`);
    const trace = this.machine.exitTrace(TRACE_SHOWN);
    lines.push(`last ${trace.length} exits:`);
    for (const e of trace) lines.push(`  ${e.time.toFixed(3).padStart(10)} ms  vcpu ${e.vcpu}  ${e.exit.reason.padEnd(6)} ${describeExitInfo(e.exit)}${e.rip !== undefined ? `  rip ${hex(e.rip)}` : ''}`);
    lines.push(this.filters.length ? `exit filters: ${this.filters.map((f) => `${f.id}${f.condition ? ` if ${f.condition}` : ''}`).join(', ')}` : 'exit filters: none');
    if (this.lastExitStop) lines.push(`last exit stop: ${this.lastExitStop}`);
    return lines.join('\n');
  }

  private breakOnExit(args: string): string {
    if (!args) return this.filters.length ? this.filters.map((f) => `${f.id}${f.condition ? ` if ${f.condition}` : ''}`).join('\n') : 'no exit filters';
    if (args === 'clear') {
      this.filters = [];
      this.machine.configureExits([], true, GDB_OWNER);
      return 'exit filters cleared';
    }
    const space = args.search(/\s/);
    const kind = space < 0 ? args : args.slice(0, space);
    const condition = space < 0 ? '' : args.slice(space + 1).trim();
    const def = EXIT_FILTERS.find((f) => f.id === kind);
    if (!def) throw new MonitorError(`unknown exit kind "${kind}"; one of ${EXIT_FILTERS.map((f) => f.id).join(', ')}`);
    if (condition) {
      // Checked here so a typo is an error now, not a log line at every exit.
      const { expr, hit } = splitCondition(condition);
      if (expr) compile(expr);
      if (hit) parseHitCondition(hit);
    }
    if ((kind === 'rdmsr' || kind === 'wrmsr') && !this.machine.trapMsrs(true)) throw new MonitorError('this backend cannot route MSR accesses to vmscope');
    this.filters = [...this.filters.filter((f) => f.id !== kind), { id: def.id, codes: [EXIT_CODES[def.id]], condition: condition || undefined }];
    this.machine.configureExits(this.filters, true, GDB_OWNER);
    return `break on ${def.label}${condition ? ` if ${condition}` : ''}\n  conditions: ${def.conditionHelp}`;
  }

  private info(): string {
    const m = this.machine;
    const lines = [`VM ${m.spec.name ?? ''}`.trimEnd(), `backend: ${m.backendName} (${m.backendDescription})`, `entry: ${hex(m.entry)}`, 'vCPUs:'];
    for (let i = 0; i < m.vcpuCount; i++) {
      const state = m.vcpuRunState(i);
      let cpu = '';
      if (state === 'paused') {
        const st = m.vcpuState(i);
        const s = st.getSregs();
        cpu = `  ${cpuModeName(s)}, CPL ${s.cs.selector & 3}, rip ${hex(s.cs.base + st.getRegs().rip)}`;
      }
      lines.push(`  ${i} (thread ${i + 1}): ${state}${cpu}`);
    }
    lines.push('memory map:');
    for (const r of memoryMapOf(m.spec)) lines.push(`  ${r.gpa.padStart(12)}  ${hex(BigInt(r.size)).padStart(10)} bytes  ${r.kind.padEnd(4)} ${r.name}`);
    lines.push('devices:');
    for (const d of devicesOf(m.spec, m)) {
      const live = d.model ? `  ${d.model}${d.active ? ', in use' : ', unused'}${d.interrupts ? `, ${d.interrupts} interrupts` : ''}` : '';
      lines.push(`  ${d.name} (${d.kind}${d.port ? ` at port ${d.port}` : ''})${live}`);
    }
    return lines.join('\n');
  }

  /** An address expression as the debug adapter takes one; gdb's `$reg` spelling works too (gdb sends monitor text unexpanded). */
  private evaluate(text: string, vcpu: number): bigint {
    const st = this.machine.vcpuState(vcpu);
    const regs = st.getRegs() as unknown as Record<string, bigint | undefined>;
    const sregs = st.getSregs() as unknown as Record<string, unknown>;
    const ctx: EvalContext = {
      register: (name) => {
        const r = regs[name];
        if (typeof r === 'bigint') return r;
        const s = sregs[name];
        return typeof s === 'bigint' ? s : undefined;
      },
      symbol: () => undefined,
      readVirtual: (addr, width) => this.access.readUint(vcpu, { space: 'virtual', addr: gva(addr) }, width),
      readPhysical: () => {
        throw new MonitorError('physical reads are not available here');
      },
    };
    return BigInt.asUintN(64, compile(text.replace(/\$(?=[a-z])/gi, '')).evaluate(ctx));
  }
}

/** An exit in one stop-reply value: no ';' or ':' (they delimit the pairs), e.g. `io out port 0x3f8 value 0x48`. */
function stopText(e: ExitInfo): string {
  const text = e.reason === 'io' ? `io ${e.direction} port ${hex(e.port)}${e.value !== undefined ? ` value ${hex(e.value)}` : ''}` : `${e.reason} ${describeExitInfo(e)}`;
  return text.replace(/[;:#$}*]/g, ' ').replace(/,/g, '').replace(/\s+/g, ' ').trim();
}
