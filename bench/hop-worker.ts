// The design vmscope did not take, kept as a benchmark: a vCPU thread that
// runs KVM_RUN but hands every exit to the main thread and waits for it to be
// handled (what a native vCPU thread calling back into the JS event loop
// costs). Compared in `npm run bench` against the runner's in-thread handling.

import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../vmm/kvm/native';

const native = loadNative();
const { fd, mmapSize, control } = workerData as { fd: number; mmapSize: number; control: SharedArrayBuffer };
const ctl = new Int32Array(control);
const run = new DataView(native.mapRun(fd, mmapSize));
const L = native.layout.kvm_run as Record<string, number>;
let exits = 0;
const t0 = performance.now();
for (;;) {
  native.run(fd);
  exits++;
  if (run.getUint16(L.io_port!, true) === 0xf4) break;
  // Hand the exit over and wait until the main thread says it is handled.
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  Atomics.wait(ctl, 0, 1);
}
const loopMs = performance.now() - t0;
native.unmapRun(fd);
Atomics.store(ctl, 0, 2);
Atomics.notify(ctl, 0);
parentPort!.postMessage({ exits, loopMs });
