// Why KVM's device cannot be opened, as one line with the fix that matches
// this host: no module (modprobe the one for this CPU), modules loaded but no
// node (udev), a node without permission (the kvm group or a udev rule), or no
// hardware virtualization at all. Files only (sysfs, /proc, the node's mode),
// so the language server's host checks say the same as `vmscope info`.

import * as fs from 'node:fs';

export const KVM_DEVICE = '/dev/kvm';

/** What the host shows about KVM, read from sysfs and /proc; a test passes its own. */
export interface KvmHostFacts {
  /** Loaded (or built-in) KVM modules among kvm, kvm_intel, kvm_amd, kvm_pvm. */
  modules: ReadonlySet<string>;
  /** "major:minor" when the kernel registered the kvm misc device (/sys/class/misc/kvm/dev). */
  miscDevice?: string;
  /** The CPU's virtualization flag, if it has one. */
  cpuVirt?: 'vmx' | 'svm';
  /** The CPU flag `hypervisor`: this host is itself a VM. */
  inVm: boolean;
  /** The node's owner group (a name where /etc/group has it) and permission bits, when it exists. */
  node?: { group: string; mode: number };
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function groupName(gid: number): string {
  const line = read('/etc/group')
    ?.split('\n')
    .find((l) => l.split(':')[2] === String(gid));
  return line?.split(':')[0] ?? String(gid);
}

export function kvmHostFacts(path = KVM_DEVICE, sys = '/sys', cpuinfo = '/proc/cpuinfo'): KvmHostFacts {
  const modules = new Set(['kvm', 'kvm_intel', 'kvm_amd', 'kvm_pvm'].filter((m) => fs.existsSync(`${sys}/module/${m}`)));
  const flags = /^flags\s*:(.*)$/m.exec(read(cpuinfo) ?? '')?.[1]?.split(/\s+/) ?? [];
  const facts: KvmHostFacts = { modules, inVm: flags.includes('hypervisor') };
  if (flags.includes('vmx')) facts.cpuVirt = 'vmx';
  else if (flags.includes('svm')) facts.cpuVirt = 'svm';
  const misc = read(`${sys}/class/misc/kvm/dev`)?.trim();
  if (misc) facts.miscDevice = misc;
  try {
    const st = fs.statSync(path);
    facts.node = { group: groupName(st.gid), mode: st.mode & 0o777 };
  } catch {
    // No node (ENOENT) or no way to stat it: nothing to say about its mode.
  }
  return facts;
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** Why `path` cannot be opened (an errno code from open), as one line with the fix. */
export function explainKvmOpenError(path: string, code: string, facts: KvmHostFacts = kvmHostFacts(path)): string {
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist: ${whyNoNode(path, facts)}`;
    case 'EACCES':
    case 'EPERM': {
      const node = facts.node;
      if (node && node.group !== 'root' && node.group !== '0' && (node.mode & 0o060) === 0o060) {
        return `no permission to open ${path} (group ${node.group}, mode ${octal(node.mode)}): add yourself to the group (sudo usermod -aG ${node.group} $USER, then log in again)`;
      }
      const what = node ? ` (group ${node.group}, mode ${octal(node.mode)}: no udev rule gives a group access)` : '';
      return `no permission to open ${path}${what}: give the kvm group access (sudo chgrp kvm ${path} && sudo chmod 660 ${path}; to keep it, a udev rule KERNEL=="kvm", GROUP="kvm", MODE="0660"), then join it (sudo usermod -aG kvm $USER, then log in again)`;
    }
    case 'ENXIO':
    case 'ENODEV':
      return `${path} exists but no KVM driver answers: ${loadVendorModule(facts)}`;
    case 'EBUSY':
      return `${path} is busy: another hypervisor holds the virtualization extensions (VirtualBox or VMware?); stop it and try again`;
    case 'EISDIR':
      return `${path} is a directory, not KVM's device; point --kvm at the device node (normally ${KVM_DEVICE})`;
    default:
      return `cannot open ${path} (${code}); point --kvm at KVM's device node (normally ${KVM_DEVICE})`;
  }
}

/** The node is missing: why, from what is loaded, and the fix. */
function whyNoNode(path: string, f: KvmHostFacts): string {
  if (path !== KVM_DEVICE) return `fix the path given to --kvm (KVM's device is normally ${KVM_DEVICE})`;
  const vendor = f.modules.has('kvm_intel') ? 'kvm_intel' : f.modules.has('kvm_amd') ? 'kvm_amd' : undefined;
  if (f.miscDevice || vendor) {
    // The kernel made the device; only the node is missing.
    const [major, minor] = (f.miscDevice ?? '10:232').split(':');
    return `${f.miscDevice ? `the kernel offers KVM (misc device ${f.miscDevice})` : `${vendor} is loaded`} but no node was created; run sudo udevadm trigger, or create it: sudo mknod -m 660 ${path} c ${major} ${minor} && sudo chgrp kvm ${path}`;
  }
  if (f.modules.has('kvm_pvm')) return 'kvm_pvm is loaded but did not bind (this host is itself a PVM guest); run on a host or VM with hardware virtualization';
  return loadVendorModule(f);
}

/** No vendor module: the one this CPU needs, or why none will load. */
function loadVendorModule(f: KvmHostFacts): string {
  const loaded = f.modules.has('kvm') ? 'kvm is loaded but not its CPU module' : 'the KVM modules are not loaded';
  if (f.cpuVirt === 'vmx') return `${loaded}: sudo modprobe kvm_intel (if it fails, enable VT-x in the firmware)`;
  if (f.cpuVirt === 'svm') return `${loaded}: sudo modprobe kvm_amd (if it fails, enable SVM in the firmware)`;
  return f.inVm
    ? 'this VM\'s CPU has no hardware virtualization (no vmx or svm flag): enable nested virtualization on its host, or run under emulation'
    : 'this CPU shows no hardware virtualization (no vmx or svm flag): enable VT-x or AMD-V in the firmware, or run under emulation';
}
