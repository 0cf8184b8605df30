// One-time initialisation of a device's shared state. Every vCPU thread (and
// the main thread) creates its own instance over the same SharedArrayBuffer,
// in any order and possibly at once: the first creator writes the reset
// values, and any other waits until they are written before it returns.

const FRESH = 0;
const BUSY = 1;
const DONE = 2;

/** Runs `init` exactly once per state; `word` indexes an Int32 word reserved for this, zero in a new buffer. */
export function initOnce(words: Int32Array, word: number, init: () => void): void {
  if (Atomics.compareExchange(words, word, FRESH, BUSY) === FRESH) {
    init();
    Atomics.store(words, word, DONE);
    Atomics.notify(words, word);
    return;
  }
  // Node allows Atomics.wait on its main thread too; the wait is as long as the few stores init() does.
  while (Atomics.load(words, word) === BUSY) Atomics.wait(words, word, BUSY, 10);
}
