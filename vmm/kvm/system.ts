// Opening /dev/kvm and asking what it offers, with the reason and the fix when
// it cannot be used.

import * as fs from 'node:fs';
import { KvmCap, type KvmCapName } from './constants';
import { isNativeError, loadNative, type KvmNative } from './native';
import { KvmUnavailable } from '../errors';
import type { BackendImplementation, BackendName } from '../backend';
import { explainKvmOpenError, KVM_DEVICE, type KvmHostFacts } from '../../common/kvm-device';

export { KVM_DEVICE };
export const KVM_API_VERSION = 12;

export interface KvmSystem {
  native: KvmNative;
  fd: number;
  apiVersion: number;
  vcpuMmapSize: number;
  close(): void;
}

/** Explains why `path` cannot be opened, as one line with the fix (common/kvm-device.ts reads the host). */
export function explainOpenError(path: string, code: string, facts?: KvmHostFacts): string {
  return explainKvmOpenError(path, code, facts);
}

export function openKvm(path = KVM_DEVICE, native?: KvmNative): KvmSystem {
  const n = native ?? loadNative();
  let fd: number;
  try {
    fd = n.openDevice(path);
  } catch (e) {
    if (isNativeError(e)) throw new KvmUnavailable(explainOpenError(path, e.code));
    throw e;
  }
  let apiVersion: number;
  try {
    apiVersion = n.getApiVersion(fd);
  } catch (e) {
    n.close(fd);
    // A file or another device (`--kvm /dev/null`) opens but does not answer KVM's ioctls: the user's path, not a bug.
    if (isNativeError(e) && (e.code === 'ENOTTY' || e.code === 'EINVAL')) {
      throw new KvmUnavailable(`${path} is not KVM's device (it does not answer KVM_GET_API_VERSION)`, `point --kvm at KVM's device node (normally ${KVM_DEVICE})`);
    }
    throw e;
  }
  if (apiVersion !== KVM_API_VERSION) {
    n.close(fd);
    throw new KvmUnavailable(`${path} speaks KVM API version ${apiVersion}, vmscope needs ${KVM_API_VERSION}`);
  }
  return { native: n, fd, apiVersion, vcpuMmapSize: n.getVcpuMmapSize(fd), close: () => n.close(fd) };
}

export function capabilities(sys: KvmSystem): Record<KvmCapName, number> {
  const out = {} as Record<KvmCapName, number>;
  for (const [name, cap] of Object.entries(KvmCap) as Array<[KvmCapName, number]>) {
    out[name] = sys.native.checkExtension(sys.fd, cap);
  }
  return out;
}

/** KVM's implementation on this host (a BackendImplementation other than the emulator). */
export type KvmBackend = Exclude<BackendImplementation, 'emu'>;

/**
 * Why `accel: auto` passes over a usable /dev/kvm for the emulator, or
 * undefined. PVM runs every guest instruction through KVM's instruction
 * emulator: measured 2026-12-06 on a PVM host, about 1.7 M instructions/s
 * (the emulator: about 450 M), and internal errors on instructions it cannot
 * emulate (iret in protected mode, some of Linux's boot code).
 */
export function autoAvoidsKvm(backend: KvmBackend): string | undefined {
  return backend === 'pvm'
    ? 'KVM here is PVM, which runs guest code through its instruction emulator: hundreds of times slower than vmscope\'s, and unable to emulate every instruction; --accel kvm uses it anyway'
    : undefined;
}

/**
 * What `accel: auto` runs on, the one rule for the runner and for `vmscope
 * info`: KVM where /dev/kvm is usable, unless autoAvoidsKvm passes it over
 * and the emulator can run; else the emulator where it can run; else
 * nothing. `emuUsable` is asked only when the answer depends on it (loading
 * the emulator is not free).
 */
export function autoBackend(kvmUsable: boolean, kvmBackend: KvmBackend, emuUsable: () => boolean): { name: BackendName | null; avoidsKvm?: string } {
  if (kvmUsable) {
    const avoid = autoAvoidsKvm(kvmBackend);
    return avoid && emuUsable() ? { name: 'emu', avoidsKvm: avoid } : { name: 'kvm' };
  }
  return { name: emuUsable() ? 'emu' : null };
}

/**
 * Which KVM implementation serves /dev/kvm: the loaded vendor module decides
 * (kvm_intel = VMX, kvm_amd = SVM, kvm_pvm = PVM, a software "pvm" for guests
 * without hardware virtualization); the CPU flags are the fallback.
 */
export function detectBackend(sysModule = '/sys/module', cpuinfo = '/proc/cpuinfo'): { backend: KvmBackend; evidence: string } {
  const modules: Array<[string, KvmBackend]> = [
    ['kvm_pvm', 'pvm'],
    ['kvm_intel', 'vmx'],
    ['kvm_amd', 'svm'],
  ];
  for (const [mod, backend] of modules) {
    if (fs.existsSync(`${sysModule}/${mod}`)) return { backend, evidence: `module ${mod} is loaded` };
  }
  try {
    const flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync(cpuinfo, 'utf8'))?.[1]?.split(/\s+/) ?? [];
    if (flags.includes('vmx')) return { backend: 'vmx', evidence: 'CPU flag vmx (no vendor module found under /sys/module)' };
    if (flags.includes('svm')) return { backend: 'svm', evidence: 'CPU flag svm (no vendor module found under /sys/module)' };
  } catch {
    // No /proc/cpuinfo: fall through to unknown.
  }
  return { backend: 'unknown', evidence: 'no kvm_intel, kvm_amd or kvm_pvm module and no vmx/svm CPU flag' };
}
