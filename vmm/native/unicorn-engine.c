/*
 * vmscope's Unicorn binding, the engine itself: loading libunicorn, opening
 * and closing engines, mapping guest memory, and running, stopping and kicking
 * a run. Shared declarations and the threading contract: unicorn-internal.h.
 *
 * libunicorn is loaded with dlopen (ucLoad) rather than linked, so that the
 * addon builds and KVM works on hosts without Unicorn, and VMSCOPE_UNICORN can
 * choose another copy.
 */
#include "unicorn-internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unicorn_api U;

#define MAX_ENGINES 256
static engine *engines[MAX_ENGINES];
static pthread_mutex_t engines_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------- helpers */

napi_value throw_uc(napi_env env, uc_err err, const char *call) {
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

engine *get_engine(napi_env env, napi_value v) {
  int32_t id;
  if (!get_i32(env, v, &id) || id < 0 || id >= MAX_ENGINES || !engines[id]) {
    napi_throw_error(env, "EVMSCOPE_UNICORN", "no such Unicorn engine (closed?)");
    return NULL;
  }
  return engines[id];
}

/* ---------------------------------------------------- loading and engines */

#define SYM(name)                                                              \
  do {                                                                         \
    *(void **)(&U.name) = dlsym(h, "uc_" #name);                               \
    if (!U.name) {                                                             \
      snprintf(msg, sizeof msg, "%s has no uc_" #name, path);                  \
      goto fail;                                                               \
    }                                                                          \
  } while (0)

/* ucLoad(path) -> version (major<<24 | minor<<16 | patch<<8 | extra). Once per process. */
napi_value ucLoad(napi_env env, napi_callback_info info) {
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
napi_value ucOpen(napi_env env, napi_callback_info info) {
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

/* ucClose(id). The handler references belong to the thread that set them: close on that thread. */
napi_value ucClose(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  int32_t id;
  get_i32(env, argv[0], &id);
  pthread_mutex_lock(&engines_lock);
  engines[id] = NULL;
  pthread_mutex_unlock(&engines_lock);
  if (e->env == env) {
    drop_ref(env, &e->on_io); drop_ref(env, &e->on_mmio); drop_ref(env, &e->on_intr);
    drop_ref(env, &e->on_invalid); drop_ref(env, &e->on_cpuid); drop_ref(env, &e->on_msr); drop_ref(env, &e->on_syscall);
  }
  if (e->ctx) U.context_free(e->ctx);
  U.close(e->uc);
  free(e);
  return js_undefined(env);
}

/* ucCtl(id, op, arg?) : the uc_ctl calls vmscope uses: 'cpu-model' (write), 'flush-tb', 'no-exits'. */
napi_value ucCtl(napi_env env, napi_callback_info info) {
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
  return js_undefined(env);
}

/* ucMemMapPtr(id, gpa, size, perms, hva): Unicorn sees the runner's own guest memory. */
napi_value ucMemMapPtr(napi_env env, napi_callback_info info) {
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
  return js_undefined(env);
}

/* ------------------------------------------------------------ running */

/*
 * ucEmuStart(id, begin, timeoutUs, count) -> [ucErr, stopKind, stopAddr, stopData, kicked, timedOut].
 * A kick that arrived before this call makes it return at once (kicked = 1).
 */
napi_value ucEmuStart(napi_env env, napi_callback_info info) {
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
napi_value ucEmuStop(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
  U.emu_stop(e->uc);
  return js_undefined(env);
}

/*
 * ucStopNext(id): from a hook, stop before the next instruction. Precise where
 * a code hook covers every address (hook_precise or hook_msr_scan is on).
 */
napi_value ucStopNext(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  e->stop_next = true;
  return js_undefined(env);
}

/*
 * ucSetDeadline(id, ns): on the engine's thread. The next runs stop at a
 * block boundary once CLOCK_MONOTONIC reaches `ns` (0: no deadline), and
 * return as kicked. The runner passes its next device-timer time.
 */
napi_value ucSetDeadline(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t ns;
  get_u64(env, argv[1], &ns);
  e->deadline_ns = ns;
  return js_undefined(env);
}

/*
 * ucKick(id): from any thread. Only sets `kicked`: the engine's block hook
 * stops the run at the next block boundary (see hook_block_kick), and
 * ucEmuStart returns at once for a kick that came before it started.
 */
napi_value ucKick(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t id;
  get_i32(env, argv[0], &id);
  if (id < 0 || id >= MAX_ENGINES) return js_undefined(env);
  pthread_mutex_lock(&engines_lock);
  engine *e = engines[id];
  if (e) atomic_store(&e->kicked, 1);
  pthread_mutex_unlock(&engines_lock);
  return js_undefined(env);
}
