// Entry point of a vCPU thread: runs the synchronous loop for one vCPU and
// reports to the machine over the worker's message port.

import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from './kvm/native';
import { runVcpuLoop, type VcpuLoopConfig } from './vcpu-loop';
import type { WorkerMessage } from './exits';

if (!parentPort) throw new Error('vcpu-worker must run as a worker thread');
const port = parentPort;
runVcpuLoop(loadNative(), workerData as VcpuLoopConfig, (m: WorkerMessage) => port.postMessage(m));
