/*
 * What the files of vmscope's Unicorn binding share: the table of dlopen'ed
 * Unicorn calls, the per-engine state, the argument helpers, and the wrappers
 * the export table names. The binding is one thin Node-API wrapper per Unicorn
 * call, plus the hook trampolines that carry Unicorn's callbacks to
 * TypeScript. No policy lives here: which ports need TypeScript, where
 * breakpoints are, and what an exit means are decided by vmm/emu/ in TypeScript.
 *
 *   unicorn-engine.c   loading libunicorn, engines, memory, running and kicks
 *   unicorn-hooks.c    the hook trampolines and the calls that install them
 *   unicorn-state.c    registers, MSRs, translation and the saved CPU state
 *   unicorn-exports.c  the export table (or, without Unicorn, the stub)
 *
 * Threads: an engine is driven (ucEmuStart, and the hooks it calls) by one
 * vCPU thread. The machine's thread reads and writes its registers only while
 * that vCPU is paused, which the runner's control words order (Atomics), so
 * the two never touch the engine at once. ucKick is the exception: it may run
 * on any thread at any time, and touches only an atomic flag.
 */
#ifndef VMSCOPE_UNICORN_INTERNAL_H
#define VMSCOPE_UNICORN_INTERNAL_H

#ifndef VMSCOPE_HAVE_UNICORN
#error "the Unicorn binding is built only with Unicorn's headers (binding.gyp adds these files and VMSCOPE_HAVE_UNICORN together)"
#endif

#include "napi-util.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unicorn/unicorn.h>

/* ------------------------------------------------------- the dlopen'ed API */

/* Filled by ucLoad (unicorn-engine.c); `handle` is NULL until then. */
struct unicorn_api {
  void *handle;
  unsigned int (*version)(unsigned int *, unsigned int *);
  uc_err (*open)(uc_arch, uc_mode, uc_engine **);
  uc_err (*close)(uc_engine *);
  const char *(*strerror)(uc_err);
  uc_err (*ctl)(uc_engine *, uc_control_type, ...);
  uc_err (*query)(uc_engine *, uc_query_type, size_t *);
  uc_err (*reg_write)(uc_engine *, int, const void *);
  uc_err (*reg_read)(uc_engine *, int, void *);
  uc_err (*reg_read2)(uc_engine *, int, void *, size_t *);
  uc_err (*reg_write2)(uc_engine *, int, const void *, size_t *);
  uc_err (*mem_read)(uc_engine *, uint64_t, void *, uint64_t);
  uc_err (*mem_write)(uc_engine *, uint64_t, const void *, uint64_t);
  uc_err (*vmem_read)(uc_engine *, uint64_t, uc_prot, void *, size_t);
  uc_err (*vmem_translate)(uc_engine *, uint64_t, uc_prot, uint64_t *);
  uc_err (*emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
  uc_err (*emu_stop)(uc_engine *);
  uc_err (*hook_add)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...);
  uc_err (*hook_del)(uc_engine *, uc_hook);
  uc_err (*mem_map_ptr)(uc_engine *, uint64_t, uint64_t, uint32_t, void *);
  uc_err (*mmio_map)(uc_engine *, uint64_t, uint64_t, uc_cb_mmio_read_t, void *, uc_cb_mmio_write_t, void *);
  uc_err (*context_alloc)(uc_engine *, uc_context **);
  uc_err (*context_save)(uc_engine *, uc_context *);
  uc_err (*context_restore)(uc_engine *, uc_context *);
  size_t (*context_size)(uc_engine *);
  uc_err (*context_free)(uc_context *);
};

extern struct unicorn_api U;

/* ------------------------------------------------------------ the engines */

/*
 * Per-engine state shared between Unicorn's callbacks and TypeScript.
 * `ports`, `port_counts` and `fast_io` point into host memory that TypeScript
 * mapped (mmapAnonymous) and views from its threads; it outlives the engine
 * (the runner unmaps it after ucClose).
 */
typedef struct engine {
  uc_engine *uc;
  uc_context *ctx;
  /* The env and handlers of the thread that runs the engine (set by ucSetHandlers). */
  napi_env env;
  napi_ref on_io, on_mmio, on_intr, on_invalid, on_cpuid, on_msr, on_syscall;
  /* Port policy: 0 = nobody claims the port and no exit hook wants it: count it here. */
  const uint8_t *ports;
  /* Per port with policy 0: [4*port] reads, [4*port+1] writes, [4*port+2] last value, [4*port+3] last size. */
  uint32_t *port_counts;
  /* I/O exits handled here without TypeScript. */
  uint64_t *fast_io;
  /* Why the last ucEmuStart returned, besides an error: see STOP_* */
  int stop_kind;
  uint64_t stop_addr;
  uint64_t stop_data;
  /* Set by ucKick (any thread); turned into a stop by hook_block_kick; cleared by ucEmuStart. */
  atomic_int kicked;
  /*
   * Host CLOCK_MONOTONIC time (ns) at which the run stops at a block boundary,
   * as a kick would: the next device timer (PIT, RTC). 0: none. Set by
   * ucSetDeadline on the engine's thread; the block hook reads the clock every
   * DEADLINE_BLOCKS blocks so the check costs next to nothing.
   */
  uint64_t deadline_ns;
  uint32_t blocks;
  /* Stop before the next instruction (set by ucStopNext; the code hooks carry it out). */
  bool stop_next;
  /* An exec breakpoint to pass over once (resuming from it). */
  uint64_t skip_addr;
  bool skip_armed;
  /* A JavaScript handler threw: emulation stopped; ucEmuStart rethrows. */
  bool js_error;
  napi_ref js_exception;
  uc_hook hooks[8];
  int nhooks;
} engine;

/* Blocks between two looks at the clock for the deadline (a power of two). */
#define DEADLINE_BLOCKS 64

/* CLOCK_MONOTONIC in ns: the clock the runner's devices use (libuv's hrtime reads the same one). */
static inline uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { STOP_NONE = 0, STOP_BREAKPOINT = 1, STOP_WATCH_READ = 2, STOP_WATCH_WRITE = 3, STOP_REQUESTED = 4 };

/*
 * The saved CPU state as bytes. uc_context_save copies QEMU's CPUX86State into
 * the context after a header of CONTEXT_HEADER bytes (Unicorn 2.1's struct
 * uc_context); uc_context_size counts the header. TypeScript checks the layout
 * against known register values before trusting any offset (vmm/emu/context.ts).
 */
#define CONTEXT_HEADER 40

/* ---------------------------------------------------------------- helpers */

/* Throws an EVMSCOPE_UNICORN error naming the call and Unicorn's error; returns NULL. */
napi_value throw_uc(napi_env env, uc_err err, const char *call);

/* The open engine argument v names, or NULL after throwing. */
engine *get_engine(napi_env env, napi_value v);

static inline napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static inline napi_value big(napi_env env, uint64_t x) {
  napi_value v;
  napi_create_bigint_uint64(env, x, &v);
  return v;
}

/* A u64 from a bigint or a non-negative safe integer. */
static inline bool get_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok;
  }
  if (t == napi_number) {
    double d;
    napi_get_value_double(env, v, &d);
    if (d < 0) return false;
    *out = (uint64_t)d;
    return true;
  }
  return false;
}

static inline bool get_i32(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

/* Drops a handler reference, if set (on the thread that created it). */
static inline void drop_ref(napi_env env, napi_ref *r) {
  if (*r) napi_delete_reference(env, *r);
  *r = NULL;
}

#define ARGS(n)                                                                \
  size_t argc = n;                                                             \
  napi_value argv[n];                                                          \
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));            \
  if (argc < n) {                                                              \
    napi_throw_type_error(env, NULL, "expected " #n " arguments");            \
    return NULL;                                                               \
  }

#define ENGINE(i)                                                              \
  engine *e = get_engine(env, argv[i]);                                        \
  if (!e) return NULL;

#define UC(call, name)                                                         \
  do {                                                                         \
    uc_err _err = (call);                                                      \
    if (_err != UC_ERR_OK) return throw_uc(env, _err, name);                   \
  } while (0)

/* ---------------------------------------------------- the exported wrappers */

#define UC_WRAPPER(name) napi_value name(napi_env env, napi_callback_info info)

/* unicorn-engine.c */
UC_WRAPPER(ucLoad); UC_WRAPPER(ucOpen); UC_WRAPPER(ucClose); UC_WRAPPER(ucCtl); UC_WRAPPER(ucMemMapPtr);
UC_WRAPPER(ucEmuStart); UC_WRAPPER(ucEmuStop); UC_WRAPPER(ucStopNext); UC_WRAPPER(ucKick); UC_WRAPPER(ucSetDeadline);
/* unicorn-hooks.c */
UC_WRAPPER(ucMmioMap); UC_WRAPPER(ucSetHandlers); UC_WRAPPER(ucHookBreakpoint); UC_WRAPPER(ucHookPrecise);
UC_WRAPPER(ucHookWatch); UC_WRAPPER(ucHookMsr); UC_WRAPPER(ucHookDel); UC_WRAPPER(ucSkipOnce);
/* unicorn-state.c */
UC_WRAPPER(ucRegRead); UC_WRAPPER(ucRegWrite); UC_WRAPPER(ucRegReadBytes); UC_WRAPPER(ucMmrRead); UC_WRAPPER(ucMmrWrite);
UC_WRAPPER(ucMsrRead); UC_WRAPPER(ucMsrWrite); UC_WRAPPER(ucVmemTranslate); UC_WRAPPER(ucContextSave); UC_WRAPPER(ucContextRead); UC_WRAPPER(ucContextRestore);

#endif
