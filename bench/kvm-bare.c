/*
 * The baselines for vmscope's benchmarks: the smallest C program that runs a
 * real-mode flat image on KVM. Whatever vmscope adds on top shows as the
 * ratio between it and this.
 *
 *   kvm-bare loop <image>          run until a write to port 0xf4, looping on
 *                                  KVM_EXIT_IO; prints "<exits> <seconds>"
 *   kvm-bare step <image> <steps>  single-step <steps> instructions
 *                                  (KVM_GUESTDBG_SINGLESTEP, KVM_RUN to
 *                                  KVM_EXIT_DEBUG); prints "<steps> <seconds>"
 *
 * Only the run loop is timed.
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

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
  int step = argc == 4 && strcmp(argv[1], "step") == 0;
  if (!step && !(argc == 3 && strcmp(argv[1], "loop") == 0)) {
    fprintf(stderr, "usage: %s loop <image> | step <image> <steps>\n", argv[0]);
    return 2;
  }
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000);
  unsigned char *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  FILE *f = fopen(argv[2], "rb");
  if (!f) die(argv[2]);
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

  struct timespec t0;
  unsigned long count = 0;
  if (step) {
    long steps = atol(argv[3]);
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof dbg);
    dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0) die("KVM_SET_GUEST_DEBUG");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((long)count < steps) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      if (run->exit_reason == KVM_EXIT_DEBUG) count++;
      else if (run->exit_reason != KVM_EXIT_IO) {
        fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
        return 1;
      }
    }
  } else {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      count++;
      if (run->exit_reason != KVM_EXIT_IO) {
        fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
        return 1;
      }
      if (run->io.port == 0xf4) break;
    }
  }
  printf("%lu %.6f\n", count, seconds_since(&t0));
  return 0;
}
