// Entry point of a vCPU thread: runs the synchronous loop for one vCPU over
// the backend the machine chose, and reports to the machine over the
// report port the machine gave it.

import { isMainThread, workerData } from 'node:worker_threads';
import { loadNative } from './kvm/native';
import { KvmVcpu } from './kvm/vcpu';
import { EmuVcpu } from './emu/vcpu';
import { Ctl } from './loop/control';
import { runVcpuLoop, type VcpuLoopConfig } from './vcpu-loop';
import type { WorkerMessage } from './exits';

if (isMainThread) throw new Error('vcpu-worker must run as a worker thread');
const cfg = workerData as VcpuLoopConfig;
const ctl = new Int32Array(cfg.control);
runVcpuLoop(
  (sink) => {
    switch (cfg.backend) {
      case 'kvm':
        return new KvmVcpu(loadNative(), cfg.fd, cfg.mmapSize, sink);
      case 'emu':
        if (!cfg.emu) throw new Error('an emulated vCPU needs its engine configuration');
        return new EmuVcpu(cfg.emu, sink);
    }
  },
  cfg,
  (m: WorkerMessage) => {
    cfg.reports.postMessage(m);
    Atomics.add(ctl, Ctl.REPORTS, 1);
  },
);
