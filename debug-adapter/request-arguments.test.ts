import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArguments } from './request-arguments';

test('well-formed arguments pass, fields the adapter does not read are not checked', () => {
  assert.equal(checkArguments('stackTrace', { threadId: 0, levels: 20 }), undefined);
  assert.equal(checkArguments('setBreakpoints', { source: { path: '/a.c' }, breakpoints: [{ line: 3, condition: 'rax == 1' }], other: 'x' }), undefined);
  assert.equal(checkArguments('threads', undefined), undefined);
  assert.equal(checkArguments('vmInfo', {}), undefined);
  assert.equal(checkArguments('launch', { spec: 'a.vmspec', memory: '64MiB' }), undefined);
  assert.equal(checkArguments('launch', { spec: 'a.vmspec', memory: 1 << 24 }), undefined);
});

test('a malformed field is named in one line, with what it must be and what came', () => {
  assert.equal(checkArguments('scopes', { frameId: 'x' }), 'scopes: "frameId" must be an integer (got "x")');
  assert.equal(checkArguments('setBreakpoints', { source: { path: '/a.c' }, breakpoints: 'x' }), 'setBreakpoints: "breakpoints" must be an array (got "x")');
  assert.equal(checkArguments('setBreakpoints', { source: { path: '/a.c' }, breakpoints: [{ line: 1 }, { line: null }] }), 'setBreakpoints: "breakpoints[1].line" must be an integer (got null)');
  assert.equal(checkArguments('setExceptionBreakpoints', { filters: 'x' }), 'setExceptionBreakpoints: "filters" must be an array of strings (got "x")');
  assert.equal(checkArguments('setDataBreakpoints', {}), 'setDataBreakpoints: "breakpoints" is required');
  assert.equal(checkArguments('readMemory', { memoryReference: '0x1000', count: 2 ** 53 }), 'readMemory: "count" must be an integer (got 9007199254740992)');
  assert.equal(checkArguments('continue', { threadId: 0, singleThread: [1, 2] }), 'continue: "singleThread" must be true or false (got [1,2])');
  assert.equal(checkArguments('serialInput', { bytes: 'x' }), 'serialInput: "bytes" must be an array of integers (got "x")');
  assert.match(checkArguments('evaluate', { expression: 'a'.repeat(100).split('') })!, /^evaluate: "expression" must be a string \(got .{37}\.\.\.\)$/);
});

test('arguments that are not an object are refused for any command, unknown ones included', () => {
  assert.equal(checkArguments('disconnect', '\u{1f4a5}'), 'disconnect: the arguments must be an object (got "\u{1f4a5}")');
  assert.equal(checkArguments('frobnicate', [1]), 'frobnicate: the arguments must be an object (got [1])');
  assert.equal(checkArguments('initialize', null), 'initialize: the arguments must be an object (got null)');
  // Names of Object.prototype are not commands with shapes.
  assert.equal(checkArguments('constructor', {}), undefined);
  assert.equal(checkArguments('__proto__', {}), undefined);
});
