// The memory and disassembly requests: readMemory and writeMemory on memory
// references (guest-virtual through the focused vCPU's page tables, or
// `gpa:` guest-physical), and disassemble around an address with symbols
// and source lines, padded with placeholders where nothing decodes.

import { InvalidatedEvent, MemoryEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { gva, hex } from '../common/address';
import { VmscopeError } from '../vmm/errors';
import { formatMemoryReference, offsetReference, parseMemoryReference } from '../vmm/guest-access';
import { decode, disassemblyWindow, type DecodedInstruction } from '../vmm/disasm';
import type { VmContext } from './context';

export function readMemory(ctx: VmContext, args: DebugProtocol.ReadMemoryArguments): DebugProtocol.ReadMemoryResponse['body'] {
  ctx.requirePaused(ctx.focus);
  const start = offsetReference(parseMemoryReference(args.memoryReference), args.offset ?? 0);
  const bytes = ctx.memory.read(ctx.focus, start, args.count);
  return { address: formatMemoryReference(start), data: Buffer.from(bytes).toString('base64'), unreadableBytes: args.count - bytes.length };
}

export function writeMemory(ctx: VmContext, args: DebugProtocol.WriteMemoryArguments): DebugProtocol.WriteMemoryResponse['body'] {
  ctx.requirePaused(ctx.focus);
  const start = offsetReference(parseMemoryReference(args.memoryReference), args.offset ?? 0);
  const data = Buffer.from(args.data, 'base64');
  // Through the machine's breakpoint shadow: an int3 under the new bytes stays planted.
  const written = ctx.memory.write(ctx.focus, start, data);
  if (written === 0 && data.length > 0) throw new VmscopeError(`${formatMemoryReference(start)} is not writable guest memory`);
  ctx.guestStateChanged();
  return { bytesWritten: written };
}

/** The events that follow a memory write: the view of those bytes and the variables are stale. */
export function memoryWrittenEvents(args: DebugProtocol.WriteMemoryArguments, written: number): DebugProtocol.Event[] {
  return [new MemoryEvent(args.memoryReference, args.offset ?? 0, written), new InvalidatedEvent(['variables'])];
}

export function disassemble(ctx: VmContext, args: DebugProtocol.DisassembleArguments): DebugProtocol.DisassembledInstruction[] {
  const focus = ctx.focus;
  const { bits } = ctx.pcOf(focus);
  const base = offsetReference(parseMemoryReference(args.memoryReference), args.offset ?? 0).addr;
  const baseAddr = BigInt(base);
  const want = args.instructionCount;
  const syntax = ctx.args?.disassemblySyntax ?? 'intel';
  const symbolize = (a: bigint) => ctx.program.symbolize(a);
  const decodeFrom = (start: bigint, count: number, maxBytes = count * 15): DecodedInstruction[] => {
    const bytes = ctx.memory.read(focus, { space: 'virtual', addr: gva(BigInt.asUintN(64, start)) }, Math.min(maxBytes, count * 15));
    return bytes.length ? decode(bytes, start, bits, count, { syntax, symbolize }) : [];
  };
  const offset = args.instructionOffset ?? 0;
  const { before, from } = disassemblyWindow(baseAddr, offset, want, decodeFrom, (a) => ctx.program.functionStart(a));
  // Placeholders where nothing could be decoded, so that VS Code gets the count it asked for: before the first
  // decoded instruction (at descending addresses), and after the last.
  const negative = Math.max(0, Math.min(offset + want, 0) - offset);
  const list: DecodedInstruction[] = [...before, ...from];
  const placeholder = (address: bigint): DecodedInstruction => ({ address, bytes: new Uint8Array(), length: 1, text: '??', mnemonic: '??', kind: 'other', nextAddress: address + 1n, invalid: true });
  for (let k = before.length; k < negative; k++) {
    const low = list[0]?.address ?? baseAddr;
    list.unshift(placeholder(low > 0n ? low - 1n : 0n));
  }
  let lastFile: string | undefined;
  const instructions = list.slice(0, want).map((i): DebugProtocol.DisassembledInstruction => {
    const d: DebugProtocol.DisassembledInstruction = {
      address: hex(i.address),
      instruction: i.text,
      instructionBytes: Array.from(i.bytes, (b) => b.toString(16).padStart(2, '0')).join(' '),
    };
    const hit = ctx.program.symbols.lookup(i.address);
    if (hit && hit.offset === 0n) d.symbol = hit.symbol.name;
    const loc = ctx.program.location(i.address);
    if (loc) {
      if (loc.file !== lastFile) d.location = ctx.source(loc.file);
      lastFile = loc.file;
      d.line = loc.line;
      if (loc.column) d.column = loc.column;
    }
    if (i.invalid) d.presentationHint = 'invalid';
    return d;
  });
  while (instructions.length < want) {
    const last = instructions[instructions.length - 1];
    const next = last ? BigInt(last.address) + 1n : baseAddr;
    instructions.push({ address: hex(next), instruction: '??', presentationHint: 'invalid' });
  }
  return instructions;
}
