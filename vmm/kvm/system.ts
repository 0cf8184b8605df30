// Opening /dev/kvm and asking what it offers, with the reason and the fix when
// it cannot be used.

import * as fs from 'node:fs';
import { KvmCap, type KvmCapName } from './constants';
import { isNativeError, loadNative, type KvmNative } from './native';
import { KvmUnavailable } from '../errors';
import type { BackendImplementation } from '../backend';

export const KVM_DEVICE = '/dev/kvm';
export const KVM_API_VERSION = 12;

export interface KvmSystem {
  native: KvmNative;
  fd: number;
  apiVersion: number;
  vcpuMmapSize: number;
  close(): void;
}

/** Explains why `path` cannot be opened, as one line with the fix. */
export function explainOpenError(path: string, code: string): string {
  switch (code) {
    case 'ENOENT': {
      // The fix depends on what is loaded: no module at all, or modules that did not make a device.
      const loaded = (m: string) => fs.existsSync(`/sys/module/${m}`);
      if (loaded('kvm_pvm') && !loaded('kvm_intel') && !loaded('kvm_amd')) {
        return `${path} does not exist: kvm_pvm is loaded but did not bind (this host is itself a PVM guest); run on a host or VM with hardware virtualization`;
      }
      if (loaded('kvm_intel') || loaded('kvm_amd')) {
        return `${path} does not exist although ${loaded('kvm_intel') ? 'kvm_intel' : 'kvm_amd'} is loaded; check that virtualization is enabled in the firmware and that udev created the device node`;
      }
      return `${path} does not exist: KVM is not available on this host; load the module (modprobe kvm_intel or kvm_amd), enable virtualization in the firmware, or run on a host/VM with nested virtualization`;
    }
    case 'EACCES':
    case 'EPERM':
      return `no permission to open ${path}: add your user to its group (sudo usermod -aG kvm $USER, then log in again) or grant access (sudo setfacl -m u:$USER:rw ${path})`;
    case 'ENXIO':
    case 'ENODEV':
      return `${path} exists but no KVM driver answers: load kvm_intel or kvm_amd (modprobe), and check that virtualization is enabled in the firmware`;
    case 'EBUSY':
      return `${path} is busy: another hypervisor holds the virtualization extensions (VirtualBox or VMware?); stop it and try again`;
    default:
      return `cannot open ${path} (${code})`;
  }
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
  const apiVersion = n.getApiVersion(fd);
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
