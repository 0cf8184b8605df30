/*
 * The emulation baseline for vmscope's benchmarks: the smallest C program that
 * runs a real-mode flat image on Unicorn the way the runner would (its own
 * 1 MiB of guest RAM, the image at 0x7c00, UC_MODE_16, start at 0x7c00).
 * Whatever vmscope's emulation backend adds on top shows as the ratio between
 * it and this (bench/emu.ts).
 *
 *   uc-bare outloop <image> [exit-port]  count every OUT in a hook that does
 *                                        nothing else; stop at the write to
 *                                        exit-port; prints "<outs> <seconds>"
 *                                        (outs includes the exit write, as in
 *                                        kvm-bare's exit count)
 *   uc-bare compute <image> [exit-port]  no hook but the exit port's; prints
 *                                        "<instructions> <seconds>", from the
 *                                        formula in bench/guests/compute.S
 *
 * exit-port defaults to 0xf4; bench/emu.ts passes the port of the guest's
 * .vmspec (devices.debug-exit.port). Only uc_emu_start is timed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unicorn/unicorn.h>

#define MEM_SIZE (1 << 20)
#define LOAD 0x7c00
/* bench/guests/compute.S: instructions = COMPUTE_FIXED + COMPUTE_PER_ITERATION * N. */
#define COMPUTE_FIXED 7
#define COMPUTE_PER_ITERATION 3

struct run {
  uint32_t exit_port;
  uint64_t outs;
  int exited;
  uint32_t status;
};

static void check(uc_err err, const char *what) {
  if (err != UC_ERR_OK) {
    fprintf(stderr, "uc-bare: %s: %s\n", what, uc_strerror(err));
    exit(1);
  }
}

/* outloop: count every OUT; compute: the only OUT is the exit. */
static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user) {
  struct run *r = user;
  (void)size;
  r->outs++;
  if (port == r->exit_port) {
    r->exited = 1;
    r->status = value & 0xff;
    /* Not precise (it takes effect at the end of the translation block), but
       after the exit write the guest only halts. */
    uc_emu_stop(uc);
  }
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
  int compute = argc >= 3 && strcmp(argv[1], "compute") == 0;
  if (argc < 3 || argc > 4 || (!compute && strcmp(argv[1], "outloop") != 0)) {
    fprintf(stderr, "usage: %s outloop|compute <image> [exit-port]\n", argv[0]);
    return 2;
  }
  struct run r = {.exit_port = argc == 4 ? (uint32_t)strtoul(argv[3], NULL, 0) : 0xf4};

  /* The runner maps guest memory it owns, so map a buffer of ours, not uc_mem_map's. */
  unsigned char *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  size_t n = fread(mem + LOAD, 1, MEM_SIZE - LOAD, f);
  fclose(f);
  if (n == 0) {
    fprintf(stderr, "uc-bare: %s is empty\n", argv[2]);
    return 1;
  }

  uc_engine *uc;
  check(uc_open(UC_ARCH_X86, UC_MODE_16, &uc), "uc_open");
  check(uc_mem_map_ptr(uc, 0, MEM_SIZE, UC_PROT_ALL, mem), "uc_mem_map_ptr");
  int zero = 0, sp = LOAD;
  check(uc_reg_write(uc, UC_X86_REG_CS, &zero), "write CS");
  check(uc_reg_write(uc, UC_X86_REG_DS, &zero), "write DS");
  check(uc_reg_write(uc, UC_X86_REG_ES, &zero), "write ES");
  check(uc_reg_write(uc, UC_X86_REG_SS, &zero), "write SS");
  check(uc_reg_write(uc, UC_X86_REG_SP, &sp), "write SP");
  uc_hook out;
  /* begin > end: the hook covers every address. */
  check(uc_hook_add(uc, &out, UC_HOOK_INSN, (void *)on_out, &r, 1, 0, UC_X86_INS_OUT), "uc_hook_add OUT");

  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* until = the end of RAM: never reached; the exit hook or the HLT ends the run. */
  uc_err err = uc_emu_start(uc, LOAD, MEM_SIZE - 1, 0, 0);
  double seconds = seconds_since(&t0);
  check(err, "uc_emu_start");
  if (!r.exited) {
    uint32_t ip = 0;
    uc_reg_read(uc, UC_X86_REG_EIP, &ip);
    fprintf(stderr, "uc-bare: the guest stopped at %#x without writing to the exit port %#x\n", ip, r.exit_port);
    return 1;
  }

  if (compute) {
    uint32_t ebx = 0, eax = 0;
    uc_reg_read(uc, UC_X86_REG_EBX, &ebx);
    uc_reg_read(uc, UC_X86_REG_EAX, &eax);
    uint32_t sum = (uint32_t)((uint64_t)ebx * (ebx + 1ull) / 2);
    if (eax != sum) {
      fprintf(stderr, "uc-bare: wrong result: N=%u, EAX=%#x, expected %#x\n", ebx, eax, sum);
      return 1;
    }
    printf("%llu %.6f\n", (unsigned long long)COMPUTE_FIXED + (unsigned long long)COMPUTE_PER_ITERATION * ebx, seconds);
  } else {
    printf("%llu %.6f\n", (unsigned long long)r.outs, seconds);
  }
  uc_close(uc);
  munmap(mem, MEM_SIZE);
  return 0;
}
