// The shape of each request's arguments, checked before the request reaches
// its handler: a client that sends a string where the protocol says integer
// (or no arguments where some are required) gets one line naming the field,
// rather than a JavaScript error from deep inside a handler. The shapes follow
// the Debug Adapter Protocol's specification for the requests this adapter
// implements, plus vmscope's launch attributes and custom requests; fields
// the adapter does not read are not checked.

/** A field's kind: a JSON type, `integer` (a safe integer), or an array of one; `|` joins alternatives, a trailing `!` makes it required. */
type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'string[]' | 'integer[]';
type FieldSpec = Kind | `${Kind}!` | `${Kind}|${Kind}` | Shape | [Shape] | { required: Shape } | { required: [Shape] };
interface Shape {
  [field: string]: FieldSpec;
}

const format = { hex: 'boolean' } as const;
const step: Shape = { threadId: 'integer!', singleThread: 'boolean', granularity: 'string' };

const SHAPES: Record<string, Shape> = {
  initialize: { adapterID: 'string!', clientID: 'string', linesStartAt1: 'boolean', columnsStartAt1: 'boolean', pathFormat: 'string' },
  launch: {
    spec: 'string!',
    stopOnEntry: 'boolean',
    image: 'string',
    memory: 'string|number',
    symbols: 'string[]',
    msrs: 'array',
    timeout: 'number',
    disassemblySyntax: 'string',
    breakOnExit: 'string[]',
    traceBufferSize: 'integer',
    accel: 'string',
    serialConsole: 'boolean',
  },
  terminate: { restart: 'boolean' },
  disconnect: { restart: 'boolean', terminateDebuggee: 'boolean', suspendDebuggee: 'boolean' },
  continue: step,
  next: step,
  stepIn: step,
  stepOut: step,
  pause: { threadId: 'integer!' },
  stackTrace: { threadId: 'integer!', startFrame: 'integer', levels: 'integer' },
  scopes: { frameId: 'integer!' },
  variables: { variablesReference: 'integer!', filter: 'string', start: 'integer', count: 'integer', format },
  setVariable: { variablesReference: 'integer!', name: 'string!', value: 'string!', format },
  evaluate: { expression: 'string!', frameId: 'integer', context: 'string', format },
  completions: { text: 'string!', column: 'integer!', line: 'integer', frameId: 'integer' },
  setBreakpoints: {
    source: { required: { path: 'string', name: 'string', sourceReference: 'integer' } },
    breakpoints: [{ line: 'integer!', column: 'integer', condition: 'string', hitCondition: 'string', logMessage: 'string', mode: 'string' }],
    lines: 'integer[]',
    sourceModified: 'boolean',
  },
  setFunctionBreakpoints: { breakpoints: { required: [{ name: 'string!', condition: 'string', hitCondition: 'string' }] } },
  setInstructionBreakpoints: { breakpoints: { required: [{ instructionReference: 'string!', offset: 'integer', condition: 'string', hitCondition: 'string', mode: 'string' }] } },
  setExceptionBreakpoints: { filters: 'string[]!', filterOptions: [{ filterId: 'string!', condition: 'string', mode: 'string' }], exceptionOptions: 'array' },
  dataBreakpointInfo: { variablesReference: 'integer', name: 'string!', frameId: 'integer', bytes: 'integer', asAddress: 'boolean', mode: 'string' },
  setDataBreakpoints: { breakpoints: { required: [{ dataId: 'string!', accessType: 'string', condition: 'string', hitCondition: 'string' }] } },
  readMemory: { memoryReference: 'string!', offset: 'integer', count: 'integer!' },
  writeMemory: { memoryReference: 'string!', offset: 'integer', allowPartial: 'boolean', data: 'string!' },
  disassemble: { memoryReference: 'string!', offset: 'integer', instructionOffset: 'integer', instructionCount: 'integer!', resolveSymbols: 'boolean' },
  // vmscope's own (custom-requests.ts).
  exitTrace: { max: 'integer' },
  exportExitTrace: { max: 'integer' },
  translate: { address: 'string', vcpu: 'integer', access: { write: 'boolean', user: 'boolean', execute: 'boolean' } },
  serialInput: { text: 'string', bytes: 'integer[]' },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isKind(v: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return Number.isSafeInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'integer[]':
      return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));
  }
}

const ARTICLE: Record<Kind, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  'string[]': 'an array of strings',
  'integer[]': 'an array of integers',
};

/** A value as a short, printable quote for a message. */
function shown(v: unknown): string {
  const s = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** What is wrong with `value` at `where` against `spec`, or undefined. */
function check(value: unknown, spec: FieldSpec, where: string): string | undefined {
  if (typeof spec === 'string') {
    const kinds = spec.replace(/!$/, '').split('|') as Kind[];
    if (value === undefined) return spec.endsWith('!') ? `"${where}" is required` : undefined;
    return kinds.some((k) => isKind(value, k)) ? undefined : `"${where}" must be ${kinds.map((k) => ARTICLE[k]).join(' or ')} (got ${shown(value)})`;
  }
  if ('required' in spec && Object.keys(spec).length === 1) {
    if (value === undefined) return `"${where}" is required`;
    return check(value, spec.required as Shape | [Shape], where);
  }
  if (value === undefined) return undefined;
  if (Array.isArray(spec)) {
    if (!Array.isArray(value)) return `"${where}" must be an array (got ${shown(value)})`;
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i], spec[0], `${where}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (!isObject(value)) return `"${where}" must be an object (got ${shown(value)})`;
  for (const [field, sub] of Object.entries(spec)) {
    const problem = check(value[field], sub as FieldSpec, where ? `${where}.${field}` : field);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * What is wrong with a request's arguments, in one line for the user, or undefined when they fit the protocol (or
 * the command has no arguments the adapter reads). Arguments, when present, must be an object.
 */
export function checkArguments(command: string, args: unknown): string | undefined {
  if (args !== undefined && !isObject(args)) return `${command}: the arguments must be an object (got ${shown(args)})`;
  const shape = Object.prototype.hasOwnProperty.call(SHAPES, command) ? SHAPES[command] : undefined;
  if (!shape) return undefined;
  const problem = check(args ?? {}, shape, '');
  return problem && `${command}: ${problem}`;
}
