// A command's options and arguments, with every mistake as one UsageError
// line. node:util's parseArgs does the splitting (non-strict, so it never
// throws its own multi-line messages, e.g. for `--timeout -1`); the checks
// here give each mistake its own sentence.

import { parseArgs } from 'node:util';
import { didYouMean } from '../vmspec/did-you-mean';
import { UsageError } from './common';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** What a string option takes, for "needs a value": e.g. "a number of seconds". */
  takes?: string;
}

type Values<O extends Record<string, OptionSpec>> = { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean };

/**
 * Parses `args` for `command`. A value that starts with '-' is taken as the
 * value (`--timeout -1` reaches the command's own range check), unless it is
 * one of the command's options (`--gdb --gdb-wait`: --gdb has no value).
 */
export function parseCommandArgs<O extends Record<string, OptionSpec>>(command: string, args: string[], options: O): { values: Values<O>; positionals: string[] } {
  const config: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, o] of Object.entries(options)) config[name] = { type: o.type };
  const { tokens } = parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const names = Object.keys(options);
  const isOption = (text: string) => text.startsWith('--') && names.includes(text.slice(2).split('=')[0]!);
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    if (t.kind === 'option-terminator') continue;
    const o = options[t.name];
    if (!o) {
      const known = names.map((n) => `--${n}`);
      const guess = t.rawName.startsWith('--') ? didYouMean(t.rawName, known) : undefined;
      const list = known.length ? `its options are ${known.join(', ')}` : 'it takes no options';
      throw new UsageError(`${command} has no option ${t.rawName}${guess ? ` (did you mean ${guess}?)` : `; ${list}`}`);
    }
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value (given "${t.value}")`);
      values[t.name] = true;
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && isOption(t.value))) {
      throw new UsageError(`${t.rawName} needs a value${o.takes ? `: ${o.takes}` : ''}`);
    }
    values[t.name] = t.value;
  }
  return { values: values as Values<O>, positionals };
}
