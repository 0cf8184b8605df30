/*
 * vmscope's Unicorn binding: one thin Node-API wrapper per Unicorn call, plus
 * the hook trampolines that carry Unicorn's callbacks to TypeScript. No policy
 * lives here: which ports need TypeScript, where breakpoints are, and what an
 * exit means are decided by vmm/emu/ in TypeScript.
 *
 * libunicorn is loaded with dlopen (ucLoad) rather than linked, so that the
 * addon builds and KVM works on hosts without Unicorn, and VMSCOPE_UNICORN can
 * choose another copy. Built only when Unicorn's headers were found at install
 * (VMSCOPE_HAVE_UNICORN); otherwise every call throws with the fix.
 *
 * Threads: an engine is driven (ucEmuStart, and the hooks it calls) by one
 * vCPU thread. The machine's thread reads and writes its registers only while
 * that vCPU is paused, which the runner's control words order (Atomics), so
 * the two never touch the engine at once. ucKick is the exception: it may run
 * on any thread at any time, and touches only an atomic flag.
 */
#include <node_api.h>

#include "napi-util.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef VMSCOPE_HAVE_UNICORN

static napi_value not_built(napi_env env, napi_callback_info info) {
  napi_throw_error(env, "EVMSCOPE_NO_UNICORN",
                   "vmscope was built without Unicorn's headers; get Unicorn 2.1+ (python3 -m pip download --no-deps unicorn==2.1.4, "
                   "or VMSCOPE_UNICORN=/path/to/libunicorn.so.2 with ../include), then npm rebuild");
  return NULL;
}

void vmscope_register_unicorn(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "ucLoad", NAPI_AUTO_LENGTH, not_built, NULL, &fn);
  napi_set_named_property(env, exports, "ucLoad", fn);
}

#else

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unicorn/unicorn.h>

/* ------------------------------------------------------- the dlopen'ed API */

static struct {
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
} U;

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
  napi_ref on_io, on_mmio, on_intr, on_invalid, on_cpuid, on_msr;
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

enum { STOP_NONE = 0, STOP_BREAKPOINT = 1, STOP_WATCH_READ = 2, STOP_WATCH_WRITE = 3, STOP_REQUESTED = 4 };

#define MAX_ENGINES 256
static engine *engines[MAX_ENGINES];
static pthread_mutex_t engines_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------- helpers */

static napi_value throw_uc(napi_env env, uc_err err, const char *call) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s failed: %s (UC_ERR %d)", call, U.strerror ? U.strerror(err) : "?", (int)err);
  napi_value code, message, error, num;
  napi_create_string_utf8(env, "EVMSCOPE_UNICORN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, (int)err, &num);
  napi_set_named_property(env, error, "ucErr", num);
  napi_throw(env, error);
  return NULL;
}

static napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value big(napi_env env, uint64_t x) {
  napi_value v;
  napi_create_bigint_uint64(env, x, &v);
  return v;
}

/* A u64 from a bigint or a non-negative safe integer. */
static bool get_u64(napi_env env, napi_value v, uint64_t *out) {
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

static bool get_i32(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

#define ARGS(n)                                                                \
  size_t argc = n;                                                             \
  napi_value argv[n];                                                          \
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));            \
  if (argc < n) {                                                              \
    napi_throw_type_error(env, NULL, "expected " #n " arguments");            \
    return NULL;                                                               \
  }

static engine *get_engine(napi_env env, napi_value v) {
  int32_t id;
  if (!get_i32(env, v, &id) || id < 0 || id >= MAX_ENGINES || !engines[id]) {
    napi_throw_error(env, "EVMSCOPE_UNICORN", "no such Unicorn engine (closed?)");
    return NULL;
  }
  return engines[id];
}

#define ENGINE(i)                                                              \
  engine *e = get_engine(env, argv[i]);                                        \
  if (!e) return NULL;

#define UC(call, name)                                                         \
  do {                                                                         \
    uc_err _err = (call);                                                      \
    if (_err != UC_ERR_OK) return throw_uc(env, _err, name);                   \
  } while (0)

/* ------------------------------------------------- calling back into JS */

/*
 * Calls one of the engine's handlers on the thread running uc_emu_start (the
 * hook runs inside that thread's ucEmuStart call, so `env` is live). A throw
 * stops emulation and is rethrown by ucEmuStart.
 */
static bool call_js(engine *e, napi_ref ref, size_t argc, napi_value *argv, napi_value *result) {
  napi_env env = e->env;
  if (!ref || e->js_error) return false;
  napi_value fn, global;
  napi_get_reference_value(env, ref, &fn);
  napi_get_global(env, &global);
  if (napi_call_function(env, global, fn, argc, argv, result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      /* A reference keeps the exception past this hook's handle scope; ucEmuStart rethrows and drops it. */
      napi_create_reference(env, ex, 1, &e->js_exception);
    }
    e->js_error = true;
    U.emu_stop(e->uc);
    return false;
  }
  return true;
}

/* ------------------------------------------------------------ hook bodies */

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *user) {
  engine *e = user;
  port &= 0xffff;
  if (!e->ports[port]) {
    uint32_t ones = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
    e->port_counts[4 * port]++;
    e->port_counts[4 * port + 2] = 0xffffffffu;
    e->port_counts[4 * port + 3] = (uint32_t)size;
    (*e->fast_io)++;
    return ones;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 0), num(e->env, port), num(e->env, size), num(e->env, 0)}, r;
  uint32_t value = 0xffffffffu;
  if (call_js(e, e->on_io, 4, argv, &r)) {
    double d = 0;
    napi_get_value_double(e->env, r, &d);
    value = (uint32_t)(int64_t)d;
  }
  napi_close_handle_scope(e->env, scope);
  return value;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user) {
  engine *e = user;
  port &= 0xffff;
  if (!e->ports[port]) {
    e->port_counts[4 * port + 1]++;
    e->port_counts[4 * port + 2] = value;
    e->port_counts[4 * port + 3] = (uint32_t)size;
    (*e->fast_io)++;
    return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 1), num(e->env, port), num(e->env, size), num(e->env, value)}, r;
  call_js(e, e->on_io, 4, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

/* One mapped MMIO range: its base, so callbacks can give absolute addresses. */
typedef struct mmio_range {
  engine *e;
  uint64_t base;
} mmio_range;

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user) {
  mmio_range *m = user;
  engine *e = m->e;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 0), big(e->env, m->base + offset), num(e->env, size), big(e->env, 0)}, r;
  uint64_t value = ~0ull;
  if (call_js(e, e->on_mmio, 4, argv, &r)) {
    bool lossless;
    if (napi_get_value_bigint_uint64(e->env, r, &value, &lossless) != napi_ok) value = ~0ull;
  }
  napi_close_handle_scope(e->env, scope);
  return value;
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user) {
  mmio_range *m = user;
  engine *e = m->e;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 1), big(e->env, m->base + offset), num(e->env, size), big(e->env, value)}, r;
  call_js(e, e->on_mmio, 4, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[1] = {num(e->env, intno)}, r;
  call_js(e, e->on_intr, 1, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

static bool hook_invalid(uc_engine *uc, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value r;
  bool handled = false;
  if (call_js(e, e->on_invalid, 0, NULL, &r)) napi_get_value_bool(e->env, r, &handled);
  napi_close_handle_scope(e->env, scope);
  return handled;
}

/* Returns 1: Unicorn skips the CPUID and keeps the registers the handler wrote. */
static int hook_cpuid(uc_engine *uc, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value r;
  bool handled = false;
  if (call_js(e, e->on_cpuid, 0, NULL, &r)) napi_get_value_bool(e->env, r, &handled);
  napi_close_handle_scope(e->env, scope);
  return handled ? 1 : 0;
}

/* An exec breakpoint (a code hook over exactly its address): stop before the instruction. */
static void hook_breakpoint(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->skip_armed && address == e->skip_addr) {
    e->skip_armed = false;
    return;
  }
  if (e->stop_kind != STOP_NONE) return;
  e->stop_kind = STOP_BREAKPOINT;
  e->stop_addr = address;
  U.emu_stop(uc);
}

/*
 * A code hook over every address, with nothing to do: its presence makes
 * Unicorn check for a stop request after each instruction, so a stop asked
 * for by an I/O or memory hook lands right after the instruction instead of
 * at the end of its translation block (see docs/backends.md).
 */
static void hook_precise(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->stop_next) {
    e->stop_next = false;
    if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
    U.emu_stop(uc);
  }
}

/*
 * RDMSR/WRMSR, which Unicorn 2.1 cannot hook: a code hook over every address
 * that looks at 2- and 3-byte instructions (0F 32 / 0F 30, with at most one
 * prefix) and calls the msr handler (1 = write) before the instruction runs.
 * Installed only while MSR exit filters are on: the cost model of KVM's MSR filter.
 */
static void hook_msr_scan(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->stop_next) {
    e->stop_next = false;
    if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
    U.emu_stop(uc);
    return;
  }
  if (size != 2 && size != 3) return;
  uint8_t b[3];
  if (U.vmem_read(uc, address, UC_PROT_EXEC, b, size) != UC_ERR_OK) return;
  const uint8_t *op = b + size - 2;
  if (op[0] != 0x0f || (op[1] != 0x30 && op[1] != 0x32)) return;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[1] = {num(e->env, op[1] == 0x30 ? 1 : 0)}, r;
  call_js(e, e->on_msr, 1, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

/*
 * A block hook over every address: where kicks take effect. Unicorn stores
 * the guest's rip at the start of every translation block it hooks, and a
 * stop asked for here, on the engine's own thread at a block boundary, leaves
 * rip exactly at the next instruction to run. A uc_emu_stop from another
 * thread does not: the run can return with rip where an earlier block left
 * it, so instructions since then run again (measured: `lock xadd` counted
 * twice in test/guests/smp-xadd.S). So ucKick only sets `kicked`, and this
 * hook turns it into a stop.
 */
static void hook_block_kick(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (atomic_load_explicit(&e->kicked, memory_order_relaxed)) U.emu_stop(uc);
}

/*
 * A data watchpoint (a memory hook over its bytes): stop after the accessing
 * instruction. Not with uc_emu_stop here: that leaves rip on the instruction,
 * which has already run, so it would run again on resume. The code hook over
 * every address (on while watchpoints are set) stops before the next one.
 */
static void hook_watch(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user) {
  engine *e = user;
  if (e->stop_kind != STOP_NONE) return;
  e->stop_kind = type == UC_MEM_WRITE ? STOP_WATCH_WRITE : STOP_WATCH_READ;
  e->stop_addr = address;
  e->stop_data = (uint64_t)size;
  e->stop_next = true;
}

/* ------------------------------------------------------------- functions */

#define SYM(name)                                                              \
  do {                                                                         \
    *(void **)(&U.name) = dlsym(h, "uc_" #name);                               \
    if (!U.name) {                                                             \
      snprintf(msg, sizeof msg, "%s has no uc_" #name, path);                  \
      goto fail;                                                               \
    }                                                                          \
  } while (0)

/* ucLoad(path) -> version (major<<24 | minor<<16 | patch<<8 | extra). Once per process. */
static napi_value ucLoad(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[4096];
  size_t len;
  CHECK_NAPI(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  char msg[4300];
  if (!U.handle) {
    /* RTLD_LOCAL: Unicorn's (QEMU's) symbols stay out of Node's namespace. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      snprintf(msg, sizeof msg, "%s", dlerror());
      napi_throw_error(env, "EVMSCOPE_UNICORN_LOAD", msg);
      return NULL;
    }
    SYM(version);
    /* Older than 2.1 lacks calls vmscope needs (uc_vmem_*): say which version it is, not which symbol is missing. */
    unsigned int v = U.version(NULL, NULL);
    if ((v >> 24) < 2 || ((v >> 24) == 2 && ((v >> 16) & 0xff) < 1)) {
      snprintf(msg, sizeof msg, "UNICORN_TOO_OLD %u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
      goto fail;
    }
    SYM(open); SYM(close); SYM(strerror); SYM(ctl); SYM(query);
    SYM(reg_write); SYM(reg_read); SYM(reg_read2); SYM(reg_write2); SYM(mem_read); SYM(mem_write); SYM(vmem_read); SYM(vmem_translate);
    SYM(emu_start); SYM(emu_stop); SYM(hook_add); SYM(hook_del); SYM(mem_map_ptr); SYM(mmio_map);
    SYM(context_alloc); SYM(context_save); SYM(context_restore); SYM(context_size); SYM(context_free);
    U.handle = h;
    goto ok;
  fail:
    memset(&U, 0, sizeof U);
    dlclose(h);
    napi_throw_error(env, "EVMSCOPE_UNICORN_LOAD", msg);
    return NULL;
  }
ok:
  return num(env, U.version(NULL, NULL));
}

/* ucOpen(mode) -> engine id. Opens an x86 engine in UC_MODE_16/32/64. */
static napi_value ucOpen(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t mode;
  if (!U.handle) {
    napi_throw_error(env, "EVMSCOPE_UNICORN", "ucLoad first");
    return NULL;
  }
  get_i32(env, argv[0], &mode);
  engine *e = calloc(1, sizeof *e);
  if (!e) return throw_uc(env, UC_ERR_NOMEM, "calloc");
  uc_err err = U.open(UC_ARCH_X86, (uc_mode)mode, &e->uc);
  if (err != UC_ERR_OK) {
    free(e);
    return throw_uc(env, err, "uc_open");
  }
  pthread_mutex_lock(&engines_lock);
  int id = -1;
  for (int i = 0; i < MAX_ENGINES; i++)
    if (!engines[i]) {
      engines[i] = e;
      id = i;
      break;
    }
  pthread_mutex_unlock(&engines_lock);
  if (id < 0) {
    U.close(e->uc);
    free(e);
    napi_throw_error(env, "EVMSCOPE_UNICORN", "too many Unicorn engines open");
    return NULL;
  }
  return num(env, id);
}

static void drop_ref(napi_env env, napi_ref *r) {
  if (*r) napi_delete_reference(env, *r);
  *r = NULL;
}

/* ucClose(id). The handler references belong to the thread that set them: close on that thread. */
static napi_value ucClose(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  int32_t id;
  get_i32(env, argv[0], &id);
  pthread_mutex_lock(&engines_lock);
  engines[id] = NULL;
  pthread_mutex_unlock(&engines_lock);
  if (e->env == env) {
    drop_ref(env, &e->on_io); drop_ref(env, &e->on_mmio); drop_ref(env, &e->on_intr);
    drop_ref(env, &e->on_invalid); drop_ref(env, &e->on_cpuid); drop_ref(env, &e->on_msr);
  }
  if (e->ctx) U.context_free(e->ctx);
  U.close(e->uc);
  free(e);
  return undef(env);
}

/* ucCtl(id, op, arg?) : the uc_ctl calls vmscope uses: 'cpu-model' (write), 'flush-tb', 'no-exits'. */
static napi_value ucCtl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ENGINE(0);
  char op[32];
  size_t len;
  CHECK_NAPI(napi_get_value_string_utf8(env, argv[1], op, sizeof op, &len));
  if (!strcmp(op, "flush-tb")) {
    UC(U.ctl(e->uc, UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0)), "uc_ctl(TB_FLUSH)");
  } else if (!strcmp(op, "no-exits")) {
    /*
     * Exit addresses replace uc_emu_start's `until`, and none are set: with an
     * `until`, Unicorn probes that address's page on the way, which sets the
     * guest's CR2 when the page is not mapped (seen as CR2 = until - 1).
     */
    UC(U.ctl(e->uc, UC_CTL_WRITE(UC_CTL_UC_USE_EXITS, 1), 1), "uc_ctl(USE_EXITS)");
  } else if (!strcmp(op, "cpu-model") && argc > 2) {
    int32_t model;
    get_i32(env, argv[2], &model);
    UC(U.ctl(e->uc, UC_CTL_WRITE(UC_CTL_CPU_MODEL, 1), model), "uc_ctl(CPU_MODEL)");
  } else {
    napi_throw_error(env, "EVMSCOPE_UNICORN", "unknown ucCtl operation");
    return NULL;
  }
  return undef(env);
}

/* ucMemMapPtr(id, gpa, size, perms, hva): Unicorn sees the runner's own guest memory. */
static napi_value ucMemMapPtr(napi_env env, napi_callback_info info) {
  ARGS(5);
  ENGINE(0);
  uint64_t gpa, size, hva;
  int32_t perms;
  get_u64(env, argv[1], &gpa);
  get_u64(env, argv[2], &size);
  get_i32(env, argv[3], &perms);
  get_u64(env, argv[4], &hva);
  /* Safe: hva is a mapping the runner made (mmapAnonymous) of at least size bytes, unmapped only after ucClose. */
  UC(U.mem_map_ptr(e->uc, gpa, size, (uint32_t)perms, (void *)(uintptr_t)hva), "uc_mem_map_ptr");
  return undef(env);
}

/* ucMmioMap(id, gpa, size): accesses call the engine's mmio handler synchronously. */
static napi_value ucMmioMap(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  uint64_t gpa, size;
  get_u64(env, argv[1], &gpa);
  get_u64(env, argv[2], &size);
  /* Lives as long as the process: Unicorn keeps the pointer until uc_close, and ranges are few. */
  mmio_range *m = malloc(sizeof *m);
  m->e = e;
  m->base = gpa;
  UC(U.mmio_map(e->uc, gpa, size, mmio_read, m, mmio_write, m), "uc_mmio_map");
  return undef(env);
}

/*
 * ucSetHandlers(id, {io, mmio, intr, invalid, cpuid, msr}, portsHva, countsHva, fastHva):
 * installs the hooks, bound to the calling thread, which must be the one that
 * runs the engine. The three addresses are host memory the runner mapped:
 * 65536 policy bytes, 4*65536 u32 counters, one u64.
 */
static napi_value ucSetHandlers(napi_env env, napi_callback_info info) {
  ARGS(5);
  ENGINE(0);
  e->env = env;
  const char *names[] = {"io", "mmio", "intr", "invalid", "cpuid", "msr"};
  napi_ref *refs[] = {&e->on_io, &e->on_mmio, &e->on_intr, &e->on_invalid, &e->on_cpuid, &e->on_msr};
  for (int i = 0; i < 6; i++) {
    napi_value fn;
    CHECK_NAPI(napi_get_named_property(env, argv[1], names[i], &fn));
    drop_ref(env, refs[i]);
    CHECK_NAPI(napi_create_reference(env, fn, 1, refs[i]));
  }
  uint64_t ports, counts, fast;
  get_u64(env, argv[2], &ports);
  get_u64(env, argv[3], &counts);
  get_u64(env, argv[4], &fast);
  /* Safe: runner-owned mappings that outlive the engine (see struct engine). */
  e->ports = (const uint8_t *)(uintptr_t)ports;
  e->port_counts = (uint32_t *)(uintptr_t)counts;
  e->fast_io = (uint64_t *)(uintptr_t)fast;
  for (int i = 0; i < e->nhooks; i++) U.hook_del(e->uc, e->hooks[i]);
  e->nhooks = 0;
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_in, e, 1, 0, UC_X86_INS_IN), "uc_hook_add(IN)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_out, e, 1, 0, UC_X86_INS_OUT), "uc_hook_add(OUT)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_cpuid, e, 1, 0, UC_X86_INS_CPUID), "uc_hook_add(CPUID)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INTR, (void *)hook_intr, e, 1, 0), "uc_hook_add(INTR)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN_INVALID, (void *)hook_invalid, e, 1, 0), "uc_hook_add(INSN_INVALID)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_BLOCK, (void *)hook_block_kick, e, 1, 0), "uc_hook_add(BLOCK)");
  return undef(env);
}

/* ucHookBreakpoint(id, addr) -> hook: a code hook over exactly [addr, addr]. */
static napi_value ucHookBreakpoint(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t addr;
  get_u64(env, argv[1], &addr);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_breakpoint, e, addr, addr), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookPrecise(id) -> hook: a do-nothing code hook over every address (see hook_precise). */
static napi_value ucHookPrecise(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_precise, e, 1, 0), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookMsr(id) -> hook: the RDMSR/WRMSR scan over every address (see hook_msr_scan). */
static napi_value ucHookMsr(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_msr_scan, e, 1, 0), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookWatch(id, addr, len, write, read) -> hook: memory hooks over [addr, addr+len). */
static napi_value ucHookWatch(napi_env env, napi_callback_info info) {
  ARGS(5);
  ENGINE(0);
  uint64_t addr, len;
  bool w, r;
  get_u64(env, argv[1], &addr);
  get_u64(env, argv[2], &len);
  napi_get_value_bool(env, argv[3], &w);
  napi_get_value_bool(env, argv[4], &r);
  int type = (w ? UC_HOOK_MEM_WRITE : 0) | (r ? UC_HOOK_MEM_READ : 0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, type, (void *)hook_watch, e, addr, addr + len - 1), "uc_hook_add(MEM)");
  return big(env, h);
}

static napi_value ucHookDel(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t h;
  get_u64(env, argv[1], &h);
  UC(U.hook_del(e->uc, (uc_hook)h), "uc_hook_del");
  return undef(env);
}

/* ucSkipOnce(id, addr): the breakpoint hook at addr lets the next execution of it pass. */
static napi_value ucSkipOnce(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  get_u64(env, argv[1], &e->skip_addr);
  e->skip_armed = true;
  return undef(env);
}

/*
 * ucEmuStart(id, begin, timeoutUs, count) -> [ucErr, stopKind, stopAddr, stopData, kicked, timedOut].
 * A kick that arrived before this call makes it return at once (kicked = 1).
 */
static napi_value ucEmuStart(napi_env env, napi_callback_info info) {
  ARGS(4);
  ENGINE(0);
  uint64_t begin, timeout, count;
  get_u64(env, argv[1], &begin);
  get_u64(env, argv[2], &timeout);
  get_u64(env, argv[3], &count);
  e->env = env;
  e->stop_kind = STOP_NONE;
  e->stop_addr = e->stop_data = 0;
  e->js_error = false;
  e->js_exception = NULL;
  e->stop_next = false;
  uc_err err = UC_ERR_OK;
  int kicked = atomic_exchange(&e->kicked, 0);
  size_t timed_out = 0;
  if (!kicked) {
    err = U.emu_start(e->uc, begin, ~0ull, timeout, (size_t)count);
    kicked = atomic_exchange(&e->kicked, 0);
    /* The breakpoint to pass once is the one at `begin`: whether or not it was reached, the run is over. */
    e->skip_armed = false;
    if (timeout) U.query(e->uc, UC_QUERY_TIMEOUT, &timed_out);
  }
  if (e->js_error) {
    if (e->js_exception) {
      napi_value ex;
      napi_get_reference_value(env, e->js_exception, &ex);
      napi_delete_reference(env, e->js_exception);
      e->js_exception = NULL;
      napi_throw(env, ex);
    } else napi_throw_error(env, "EVMSCOPE_UNICORN", "a vmscope hook handler failed");
    return NULL;
  }
  napi_value out;
  napi_create_array_with_length(env, 6, &out);
  napi_set_element(env, out, 0, num(env, err));
  napi_set_element(env, out, 1, num(env, e->stop_kind));
  napi_set_element(env, out, 2, big(env, e->stop_addr));
  napi_set_element(env, out, 3, num(env, (double)e->stop_data));
  napi_set_element(env, out, 4, num(env, kicked));
  napi_set_element(env, out, 5, num(env, (double)timed_out));
  return out;
}

/* ucEmuStop(id): from a handler, on the engine's own thread. */
static napi_value ucEmuStop(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
  U.emu_stop(e->uc);
  return undef(env);
}

/*
 * ucStopNext(id): from a hook, stop before the next instruction. Precise where
 * a code hook covers every address (hook_precise or hook_msr_scan is on).
 */
static napi_value ucStopNext(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  e->stop_next = true;
  return undef(env);
}

/*
 * ucKick(id): from any thread. Only sets `kicked`: the engine's block hook
 * stops the run at the next block boundary (see hook_block_kick), and
 * ucEmuStart returns at once for a kick that came before it started.
 */
static napi_value ucKick(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t id;
  get_i32(env, argv[0], &id);
  if (id < 0 || id >= MAX_ENGINES) return undef(env);
  pthread_mutex_lock(&engines_lock);
  engine *e = engines[id];
  if (e) atomic_store(&e->kicked, 1);
  pthread_mutex_unlock(&engines_lock);
  return undef(env);
}

/* ucRegRead(id, regid) -> bigint (registers of up to 8 bytes). */
static napi_value ucRegRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  int32_t reg;
  get_i32(env, argv[1], &reg);
  uint64_t v = 0;
  UC(U.reg_read(e->uc, reg, &v), "uc_reg_read");
  return big(env, v);
}

static napi_value ucRegWrite(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  int32_t reg;
  uint64_t v;
  get_i32(env, argv[1], &reg);
  get_u64(env, argv[2], &v);
  UC(U.reg_write(e->uc, reg, &v), "uc_reg_write");
  return undef(env);
}

/* ucRegReadBytes(id, regid, buf): registers wider than 8 bytes (x87, XMM), into buf. */
static napi_value ucRegReadBytes(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  int32_t reg;
  get_i32(env, argv[1], &reg);
  void *data;
  size_t len;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  CHECK_NAPI(napi_get_typedarray_info(env, argv[2], &t, &len, &data, &ab, &off));
  size_t size = len;
  UC(U.reg_read2(e->uc, reg, data, &size), "uc_reg_read2");
  return num(env, (double)size);
}

/* ucMmrRead(id, regid) -> [selector, base, limit, flags] (GDTR/IDTR/LDTR/TR/segments). */
static napi_value ucMmrRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  int32_t reg;
  get_i32(env, argv[1], &reg);
  uc_x86_mmr m = {0};
  UC(U.reg_read(e->uc, reg, &m), "uc_reg_read(mmr)");
  napi_value out;
  napi_create_array_with_length(env, 4, &out);
  napi_set_element(env, out, 0, num(env, m.selector));
  napi_set_element(env, out, 1, big(env, m.base));
  napi_set_element(env, out, 2, num(env, m.limit));
  napi_set_element(env, out, 3, num(env, m.flags));
  return out;
}

static napi_value ucMmrWrite(napi_env env, napi_callback_info info) {
  ARGS(6);
  ENGINE(0);
  int32_t reg, selector, limit, flags;
  uint64_t base;
  get_i32(env, argv[1], &reg);
  get_i32(env, argv[2], &selector);
  get_u64(env, argv[3], &base);
  napi_get_value_int32(env, argv[4], &limit);
  napi_get_value_int32(env, argv[5], &flags);
  uc_x86_mmr m = {.selector = (uint16_t)selector, .base = base, .limit = (uint32_t)limit, .flags = (uint32_t)flags};
  UC(U.reg_write(e->uc, reg, &m), "uc_reg_write(mmr)");
  return undef(env);
}

/*
 * ucVmemTranslate(id, gva) -> bigint GPA, or -1n when QEMU's MMU finds no
 * mapping for a read. A failed walk sets the guest's CR2 as a #PF would: the
 * caller restores it (vmm/emu/state.ts).
 */
static napi_value ucVmemTranslate(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t gva, gpa = 0;
  get_u64(env, argv[1], &gva);
  if (U.vmem_translate(e->uc, gva, UC_PROT_READ, &gpa) != UC_ERR_OK) gpa = ~0ull;
  return big(env, gpa);
}

/* ucMsrRead(id, index) -> bigint; ucMsrWrite(id, index, value). */
static napi_value ucMsrRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t idx;
  get_u64(env, argv[1], &idx);
  uc_x86_msr m = {.rid = (uint32_t)idx, .value = 0};
  UC(U.reg_read(e->uc, UC_X86_REG_MSR, &m), "uc_reg_read(MSR)");
  return big(env, m.value);
}

static napi_value ucMsrWrite(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  uint64_t idx, v;
  get_u64(env, argv[1], &idx);
  get_u64(env, argv[2], &v);
  uc_x86_msr m = {.rid = (uint32_t)idx, .value = v};
  UC(U.reg_write(e->uc, UC_X86_REG_MSR, &m), "uc_reg_write(MSR)");
  return undef(env);
}

/*
 * The saved CPU state as bytes. uc_context_save copies QEMU's CPUX86State into
 * the context after a header of CONTEXT_HEADER bytes (Unicorn 2.1's struct
 * uc_context); uc_context_size counts the header. TypeScript checks the layout
 * against known register values before trusting any offset (vmm/emu/context.ts).
 */
#define CONTEXT_HEADER 40

/* ucContextSave(id) -> ArrayBuffer copy of the state bytes. */
static napi_value ucContextSave(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  if (!e->ctx) UC(U.context_alloc(e->uc, &e->ctx), "uc_context_alloc");
  UC(U.context_save(e->uc, e->ctx), "uc_context_save");
  size_t size = U.context_size(e->uc) - CONTEXT_HEADER;
  void *data;
  napi_value ab;
  CHECK_NAPI(napi_create_arraybuffer(env, size, &data, &ab));
  memcpy(data, (char *)e->ctx + CONTEXT_HEADER, size);
  return ab;
}

/* ucContextRestore(id, ArrayBuffer): writes the state bytes back (from ucContextSave, edited). */
static napi_value ucContextRestore(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  void *data;
  size_t len;
  CHECK_NAPI(napi_get_arraybuffer_info(env, argv[1], &data, &len));
  if (!e->ctx) UC(U.context_alloc(e->uc, &e->ctx), "uc_context_alloc");
  UC(U.context_save(e->uc, e->ctx), "uc_context_save");
  size_t size = U.context_size(e->uc) - CONTEXT_HEADER;
  if (len != size) {
    napi_throw_range_error(env, NULL, "context buffer has the wrong size");
    return NULL;
  }
  memcpy((char *)e->ctx + CONTEXT_HEADER, data, size);
  UC(U.context_restore(e->uc, e->ctx), "uc_context_restore");
  return undef(env);
}

#define EXPORT(name)                                                           \
  do {                                                                         \
    napi_value fn;                                                             \
    napi_create_function(env, #name, NAPI_AUTO_LENGTH, name, NULL, &fn);       \
    napi_set_named_property(env, exports, #name, fn);                          \
  } while (0)

#define CONST(name)                                                            \
  do {                                                                         \
    napi_value v;                                                              \
    napi_create_int64(env, (int64_t)(name), &v);                               \
    napi_set_named_property(env, consts, #name, v);                            \
  } while (0)

void vmscope_register_unicorn(napi_env env, napi_value exports) {
  EXPORT(ucLoad); EXPORT(ucOpen); EXPORT(ucClose); EXPORT(ucCtl); EXPORT(ucMemMapPtr); EXPORT(ucMmioMap);
  EXPORT(ucSetHandlers); EXPORT(ucHookBreakpoint); EXPORT(ucHookPrecise); EXPORT(ucHookWatch); EXPORT(ucHookMsr); EXPORT(ucHookDel);
  EXPORT(ucSkipOnce); EXPORT(ucEmuStart); EXPORT(ucEmuStop); EXPORT(ucStopNext); EXPORT(ucKick); EXPORT(ucRegRead); EXPORT(ucRegWrite);
  EXPORT(ucRegReadBytes); EXPORT(ucMmrRead); EXPORT(ucMmrWrite); EXPORT(ucMsrRead); EXPORT(ucMsrWrite); EXPORT(ucVmemTranslate);
  EXPORT(ucContextSave); EXPORT(ucContextRestore);
  /* Constants from Unicorn's own headers, so TypeScript never re-declares them. */
  napi_value consts;
  napi_create_object(env, &consts);
  CONST(UC_MODE_16); CONST(UC_MODE_32); CONST(UC_MODE_64);
  CONST(UC_PROT_READ); CONST(UC_PROT_WRITE); CONST(UC_PROT_EXEC); CONST(UC_PROT_ALL);
  CONST(UC_ERR_OK); CONST(UC_ERR_READ_UNMAPPED); CONST(UC_ERR_WRITE_UNMAPPED); CONST(UC_ERR_FETCH_UNMAPPED);
  CONST(UC_ERR_INSN_INVALID); CONST(UC_ERR_EXCEPTION);
  CONST(UC_CPU_X86_QEMU64); CONST(UC_CPU_X86_HASWELL); CONST(UC_CPU_X86_BROADWELL);
  CONST(STOP_NONE); CONST(STOP_BREAKPOINT); CONST(STOP_WATCH_READ); CONST(STOP_WATCH_WRITE); CONST(STOP_REQUESTED);
  CONST(CONTEXT_HEADER);
  CONST(UC_X86_REG_RAX); CONST(UC_X86_REG_RBX); CONST(UC_X86_REG_RCX); CONST(UC_X86_REG_RDX);
  CONST(UC_X86_REG_RSI); CONST(UC_X86_REG_RDI); CONST(UC_X86_REG_RSP); CONST(UC_X86_REG_RBP);
  CONST(UC_X86_REG_R8); CONST(UC_X86_REG_R9); CONST(UC_X86_REG_R10); CONST(UC_X86_REG_R11);
  CONST(UC_X86_REG_R12); CONST(UC_X86_REG_R13); CONST(UC_X86_REG_R14); CONST(UC_X86_REG_R15);
  CONST(UC_X86_REG_RIP); CONST(UC_X86_REG_EIP); CONST(UC_X86_REG_IP); CONST(UC_X86_REG_RFLAGS); CONST(UC_X86_REG_EFLAGS);
  CONST(UC_X86_REG_CS); CONST(UC_X86_REG_DS); CONST(UC_X86_REG_ES); CONST(UC_X86_REG_FS); CONST(UC_X86_REG_GS); CONST(UC_X86_REG_SS);
  CONST(UC_X86_REG_TR); CONST(UC_X86_REG_LDTR); CONST(UC_X86_REG_GDTR); CONST(UC_X86_REG_IDTR);
  CONST(UC_X86_REG_CR0); CONST(UC_X86_REG_CR2); CONST(UC_X86_REG_CR3); CONST(UC_X86_REG_CR4); CONST(UC_X86_REG_CR8);
  CONST(UC_X86_REG_DR0); CONST(UC_X86_REG_DR1); CONST(UC_X86_REG_DR2); CONST(UC_X86_REG_DR3); CONST(UC_X86_REG_DR6); CONST(UC_X86_REG_DR7);
  CONST(UC_X86_REG_FS_BASE); CONST(UC_X86_REG_GS_BASE);
  CONST(UC_X86_REG_FPCW); CONST(UC_X86_REG_FPSW); CONST(UC_X86_REG_FPTAG); CONST(UC_X86_REG_MXCSR);
  CONST(UC_X86_REG_ST0); CONST(UC_X86_REG_XMM0);
  napi_set_named_property(env, exports, "ucConstants", consts);
}

#endif
