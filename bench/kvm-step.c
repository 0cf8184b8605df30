/*
 * Baseline for vmscope's step benchmark: the raw cost of one KVM single step
 * (KVM_SET_GUEST_DEBUG with SINGLESTEP, then KVM_RUN until KVM_EXIT_DEBUG),
 * on a real-mode flat image, in a bare C loop.
 *
 * usage: kvm-step <image> <steps> ; prints "<steps> <seconds>".
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (1 << 20)
#define LOAD 0x7c00

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <image> <steps>\n", argv[0]);
    return 2;
  }
  long steps = atol(argv[2]);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000);
  unsigned char *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  FILE *f = fopen(argv[1], "rb");
  if (!f) die(argv[1]);
  if (fread(mem + LOAD, 1, MEM_SIZE - LOAD, f) == 0) die("empty image");
  fclose(f);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (unsigned long)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = LOAD;
  regs.rsp = 0x7c00;
  regs.rflags = 2;
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
  struct kvm_guest_debug dbg;
  memset(&dbg, 0, sizeof dbg);
  dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
  if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0) die("KVM_SET_GUEST_DEBUG");

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long done = 0;
  while (done < steps) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_DEBUG) done++;
    else if (run->exit_reason != KVM_EXIT_IO) {
      fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%ld %.6f\n", done, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
