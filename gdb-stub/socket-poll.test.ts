// SocketPoll over a real loopback connection: reads straight off the socket,
// gives up after its budget, stops polling when polls keep coming back
// empty and starts again when a packet shows it would pay, and writes that
// keep their order when the socket buffer fills.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { SPINNING_PAYS } from '../vmm/machine';
import { SocketPoll } from './socket-poll';

/**
 * A connected pair: `server` is the stub's end, `client` gdb's. Over loopback
 * a write is in the peer's socket buffer when it returns; the server's
 * stream reads it only at a turn of the event loop, so a poll before any
 * turn sees it first.
 */
async function pair(): Promise<{ server: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect(port, '127.0.0.1');
  const server = await accepted;
  await new Promise<void>((resolve) => (client.connecting ? client.once('connect', () => resolve()) : resolve()));
  return {
    server,
    client,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

const spins = SPINNING_PAYS;

/** Lets time pass without a turn of the event loop. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('a poll reads what the client sent straight off the socket, and an empty one returns after its budget', { skip: !spins && 'one CPU: SocketPoll does not spin' }, async () => {
  const { server, client, close } = await pair();
  try {
    const poll = new SocketPoll(server, 5_000);
    client.write('$g#67');
    assert.equal(poll.poll()?.toString('latin1'), '$g#67');
    const t0 = performance.now();
    assert.equal(poll.poll(), undefined);
    const ms = performance.now() - t0;
    assert.ok(ms >= 5 && ms < 1000, `an empty poll took ${ms} ms with a 5 ms budget`);
  } finally {
    close();
  }
});

test('after eight empty polls in a row it stops polling, until a packet comes soon after a reply', { skip: !spins && 'one CPU: SocketPoll does not spin' }, async () => {
  const { server, client, close } = await pair();
  try {
    const poll = new SocketPoll(server, 2_000);
    for (let i = 0; i < 8; i++) assert.equal(poll.poll(), undefined);
    client.write('$m0,1#fa');
    // Off: the bytes wait for the stream.
    assert.equal(poll.poll(), undefined);
    // A packet that came long after the last reply does not turn it back on.
    poll.write(Buffer.from('$OK#9a'));
    busyWait(20);
    poll.arrivedThroughStream();
    assert.equal(poll.poll(), undefined);
    // One that came within the budget of a reply does.
    poll.write(Buffer.from('$OK#9a'));
    poll.arrivedThroughStream();
    assert.equal(poll.poll()?.toString('latin1'), '$m0,1#fa');
  } finally {
    close();
  }
});

test('writes arrive whole and in order, also past a full socket buffer', async () => {
  const { server, client, close } = await pair();
  try {
    const poll = new SocketPoll(server, 1_000);
    const big = Buffer.alloc(8 << 20, 0x61);
    const received: Buffer[] = [];
    let total = 0;
    const all = new Promise<void>((resolve) =>
      client.on('data', (d) => {
        received.push(d);
        total += d.length;
        if (total === big.length + 3) resolve();
      }),
    );
    // 8 MiB does not fit the socket buffer: the rest goes through the stream, and what follows waits behind it.
    poll.write(big);
    poll.write(Buffer.from('end'));
    await all;
    const got = Buffer.concat(received);
    assert.equal(got.length, big.length + 3);
    assert.equal(got.subarray(0, big.length).every((b) => b === 0x61), true);
    assert.equal(got.subarray(big.length).toString(), 'end');
  } finally {
    close();
  }
});
