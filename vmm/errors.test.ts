// Which errors are the user's (one line with the fix) and which are bugs (an internal error).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildError, NativeAddonMissing, userErrorMessage } from './errors';

const errno = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${code}: something`), { code, ...extra });

test('user errors: vmscope\'s own, the addon, and what the host refuses', () => {
  assert.equal(userErrorMessage(new BuildError('image x does not exist', 'build it')), 'image x does not exist; build it');
  assert.equal(userErrorMessage(new NativeAddonMissing('the addon is not built; run npm install')), 'the addon is not built; run npm install');
  assert.equal(userErrorMessage(errno('EADDRINUSE', { syscall: 'listen', address: '127.0.0.1', port: 1234 })), 'listen: the address is in use (127.0.0.1:1234); pick another port, or stop the program that holds it');
  assert.equal(userErrorMessage(errno('ENOMEM', { syscall: 'mmap' })), 'mmap: the host is out of memory; lower memory in the spec, or free memory on the host');
  assert.equal(userErrorMessage(errno('EACCES', { syscall: 'open', path: '/x' })), 'open: permission denied (/x); check the permissions of what it names');
});

test('bugs stay internal: no errno, or one that means vmscope misused a call', () => {
  assert.equal(userErrorMessage(new TypeError('Cannot convert undefined to a BigInt')), undefined);
  assert.equal(userErrorMessage(errno('EBADF', { syscall: 'ioctl' })), undefined);
  assert.equal(userErrorMessage(errno('EFAULT')), undefined);
  assert.equal(userErrorMessage('a string'), undefined);
});
