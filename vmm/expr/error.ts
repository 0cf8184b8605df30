// The one error type of the expression evaluator: syntax errors from compile() and evaluation
// errors from evaluate(), both worded for users (the adapter shows `message` as is).

import { VmscopeError } from '../errors';

export interface EvalErrorOptions {
  /** 0-based offset into the expression text of what the error is about. */
  position?: number;
  /** How to fix it; appended to the message after "; ". */
  fix?: string;
  /** The context's own error, when an evaluation error wraps one. */
  cause?: unknown;
}

export class EvalError extends VmscopeError {
  /**
   * 0-based offset into the expression text: the unexpected character, the unknown name, the
   * operator that divided by zero, the memory read that failed. Syntax error messages also say
   * it, 1-based, as "at column N".
   */
  position?: number;

  constructor(message: string, options: EvalErrorOptions = {}) {
    super(message, options.fix);
    this.name = 'EvalError';
    if (options.position !== undefined) this.position = options.position;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** A syntax error at `position`; the message names the column so it reads well on its own. */
export function syntaxError(message: string, position: number, fix?: string): EvalError {
  return new EvalError(`${message} at column ${position + 1}`, fix === undefined ? { position } : { position, fix });
}
