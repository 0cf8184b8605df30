import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exposureWarning, formatGdbAddress, isLoopback, parseGdbAddress } from './gdb-address';

test('a port alone (string or number) listens on loopback; a host or [IPv6] may be named', () => {
  assert.deepEqual(parseGdbAddress('1234'), { host: '127.0.0.1', port: 1234 });
  assert.deepEqual(parseGdbAddress(0), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseGdbAddress(':4000'), { host: '127.0.0.1', port: 4000 });
  assert.deepEqual(parseGdbAddress('0.0.0.0:1234'), { host: '0.0.0.0', port: 1234 });
  assert.deepEqual(parseGdbAddress('[::1]:1234'), { host: '::1', port: 1234 });
  assert.deepEqual(parseGdbAddress('localhost:9'), { host: 'localhost', port: 9 });
});

test('malformed addresses and ports out of range are refused', () => {
  for (const bad of ['', 'x', '1234x', '70000', 'host:', '::1:1234', '-1']) assert.equal(parseGdbAddress(bad), undefined, bad);
  for (const bad of [-1, 65536, 1.5, Number.NaN]) assert.equal(parseGdbAddress(bad), undefined, String(bad));
});

test('only loopback addresses go without a warning, and the warning names the address', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
    assert.ok(isLoopback(h), h);
    assert.equal(exposureWarning({ host: h, port: 1 }), undefined);
  }
  for (const h of ['0.0.0.0', '192.168.1.5', '::', 'example.org']) assert.ok(!isLoopback(h), h);
  assert.match(exposureWarning({ host: '::', port: 1234 })!, /anyone who can reach \[::\]:1234 controls this VM/);
  assert.equal(formatGdbAddress({ host: '10.0.0.1', port: 5 }), '10.0.0.1:5');
});
