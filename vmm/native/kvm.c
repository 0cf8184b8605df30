/*
 * vmscope's KVM addon: one thin Node-API wrapper per /dev/kvm ioctl, mirroring
 * the kernel's fd hierarchy (system -> VM -> vCPU). No policy lives here: the
 * runner in TypeScript decides what to call and when.
 *
 * Struct-carrying ioctls take a caller-owned ArrayBuffer/TypedArray whose
 * layout TypeScript reads through the offsets exported in `layout` (computed
 * here with offsetof against the same header the ioctl uses), so the two sides
 * cannot drift apart.
 *
 * Errors are thrown as JS Errors with `code` (errno name), `errno` and
 * `syscall` (the ioctl's name); the runner turns them into user-facing text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <node_api.h>

#include "napi-util.h"
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static napi_value make_undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

static int arg_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static int arg_u64(napi_env env, napi_value v, uint64_t *out) {
  bool lossless;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint)
    return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless;
  if (t == napi_number) {
    int64_t i;
    if (napi_get_value_int64(env, v, &i) != napi_ok || i < 0) return 0;
    *out = (uint64_t)i;
    return 1;
  }
  return 0;
}

/*
 * Resolves an ArrayBuffer or any TypedArray/DataView to (pointer, length).
 * The pointer is only used for the duration of one synchronous ioctl, during
 * which the JS value is kept alive by the call frame, so it cannot move or be
 * freed under us.
 */
static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is)
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    void *base;
    if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) return 0;
    static const size_t elem[] = {1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 8};
    *data = base;
    *len = length * (type <= napi_biguint64_array ? elem[type] : 1);
    return 1;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t offset;
    return napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok;
  }
  return 0;
}

/* Reads at least n arguments; argv has room for 4 so optional ones can follow. */
#define ARGS(n)                                                                \
  size_t argc = 4;                                                             \
  napi_value argv[4];                                                          \
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));            \
  if (argc < (n)) {                                                            \
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected " #n " arguments");  \
    return NULL;                                                               \
  }

#define ARG_FD(i, name)                                                        \
  int32_t name;                                                                \
  if (!arg_i32(env, argv[i], &name)) {                                         \
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "argument " #i " must be an fd"); \
    return NULL;                                                               \
  }

/* ------------------------------------------------- kick signal and vCPUs */

/*
 * kick(): a vCPU spinning in guest mode with no exits never returns from
 * KVM_RUN on its own. We set kvm_run.immediate_exit (covers the window before
 * the thread enters KVM_RUN) and send a signal with a no-op handler installed
 * without SA_RESTART (covers a thread already inside it: KVM_RUN returns
 * EINTR). A real-time signal is used because Node reserves SIGUSR1 for the
 * inspector.
 */
#define KICK_SIGNAL (SIGRTMIN + 3)
#define MAX_VCPU_FD 4096

struct vcpu_slot {
  struct kvm_run *run; /* mmap'd by map_run, unmapped by unmap_run */
  size_t run_size;
  pthread_t thread;    /* thread currently calling run(), valid while in_run */
  int in_run;          /* accessed with __atomic builtins */
};

static struct vcpu_slot slots[MAX_VCPU_FD];
/* Guards slot.run/run_size/thread changes against a concurrent kick(). */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t signal_once = PTHREAD_ONCE_INIT;

static void kick_handler(int sig) { (void)sig; }

static void install_kick_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = kick_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
  sigaction(KICK_SIGNAL, &sa, NULL);
}

static struct vcpu_slot *slot_for(napi_env env, int fd) {
  if (fd < 0 || fd >= MAX_VCPU_FD) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "vCPU fd out of range");
    return NULL;
  }
  return &slots[fd];
}

/* ------------------------------------------------------- system-level ops */

static napi_value n_open_device(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[256];
  size_t len;
  CHECK_NAPI(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open");
  return make_int(env, fd);
}

static napi_value n_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  if (close(fd) < 0) return throw_errno(env, errno, "close");
  return make_undefined(env);
}

/* ioctl with an integer argument (or none) returning a non-negative int. */
static napi_value ioctl_int(napi_env env, napi_callback_info info, unsigned long req,
                            const char *name, int has_arg) {
  ARGS(1);
  ARG_FD(0, fd);
  uint64_t arg = 0;
  if (has_arg) {
    if (argc < 2 || !arg_u64(env, argv[1], &arg)) {
      napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected an integer argument");
      return NULL;
    }
  }
  int r = ioctl(fd, req, (unsigned long)arg);
  if (r < 0) return throw_errno(env, errno, name);
  return make_int(env, r);
}

#define IOCTL_INT(fn, req, has_arg)                                            \
  static napi_value fn(napi_env env, napi_callback_info info) {               \
    return ioctl_int(env, info, req, #req, has_arg);                           \
  }

IOCTL_INT(n_get_api_version, KVM_GET_API_VERSION, 0)
IOCTL_INT(n_check_extension, KVM_CHECK_EXTENSION, 1)
IOCTL_INT(n_get_vcpu_mmap_size, KVM_GET_VCPU_MMAP_SIZE, 0)
IOCTL_INT(n_create_vm, KVM_CREATE_VM, 1)
IOCTL_INT(n_create_vcpu, KVM_CREATE_VCPU, 1)
IOCTL_INT(n_set_tss_addr, KVM_SET_TSS_ADDR, 1)
IOCTL_INT(n_create_irqchip, KVM_CREATE_IRQCHIP, 0)

static napi_value n_set_identity_map_addr(napi_env env, napi_callback_info info) {
  ARGS(2);
  ARG_FD(0, fd);
  uint64_t addr;
  if (!arg_u64(env, argv[1], &addr)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected an address");
    return NULL;
  }
  if (ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
    return throw_errno(env, errno, "KVM_SET_IDENTITY_MAP_ADDR");
  return make_undefined(env);
}

/*
 * ioctl that reads and/or writes one struct in a caller buffer. min_size is
 * the struct's fixed size; variable-length structs (kvm_msrs, kvm_cpuid2)
 * additionally check their element count against the buffer length.
 */
enum var_kind { FIXED, VAR_MSRS, VAR_CPUID };

static napi_value ioctl_buf(napi_env env, napi_callback_info info, unsigned long req,
                            const char *name, size_t min_size, enum var_kind kind) {
  ARGS(2);
  ARG_FD(0, fd);
  void *data;
  size_t len;
  if (!arg_bytes(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected an ArrayBuffer or typed array");
    return NULL;
  }
  if (len < min_size) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "buffer smaller than the ioctl's struct");
    return NULL;
  }
  if (kind == VAR_MSRS) {
    struct kvm_msrs *m = data;
    if (m->nmsrs > (len - sizeof *m) / sizeof(struct kvm_msr_entry)) {
      napi_throw_range_error(env, "EVMSCOPE_ARGS", "kvm_msrs.nmsrs exceeds the buffer");
      return NULL;
    }
  } else if (kind == VAR_CPUID) {
    struct kvm_cpuid2 *c = data;
    if (c->nent > (len - sizeof *c) / sizeof(struct kvm_cpuid_entry2)) {
      napi_throw_range_error(env, "EVMSCOPE_ARGS", "kvm_cpuid2.nent exceeds the buffer");
      return NULL;
    }
  }
  int r = ioctl(fd, req, data);
  if (r < 0) return throw_errno(env, errno, name);
  return make_int(env, r);
}

#define IOCTL_BUF(fn, req, type, kind)                                         \
  static napi_value fn(napi_env env, napi_callback_info info) {               \
    return ioctl_buf(env, info, req, #req, sizeof(type), kind);                \
  }

IOCTL_BUF(n_get_supported_cpuid, KVM_GET_SUPPORTED_CPUID, struct kvm_cpuid2, VAR_CPUID)
IOCTL_BUF(n_get_msr_index_list, KVM_GET_MSR_INDEX_LIST, struct kvm_msr_list, FIXED)
IOCTL_BUF(n_set_user_memory_region, KVM_SET_USER_MEMORY_REGION,
          struct kvm_userspace_memory_region, FIXED)
IOCTL_BUF(n_get_regs, KVM_GET_REGS, struct kvm_regs, FIXED)
IOCTL_BUF(n_set_regs, KVM_SET_REGS, struct kvm_regs, FIXED)
IOCTL_BUF(n_get_sregs, KVM_GET_SREGS, struct kvm_sregs, FIXED)
IOCTL_BUF(n_set_sregs, KVM_SET_SREGS, struct kvm_sregs, FIXED)
IOCTL_BUF(n_get_msrs, KVM_GET_MSRS, struct kvm_msrs, VAR_MSRS)
IOCTL_BUF(n_set_msrs, KVM_SET_MSRS, struct kvm_msrs, VAR_MSRS)
IOCTL_BUF(n_get_fpu, KVM_GET_FPU, struct kvm_fpu, FIXED)
IOCTL_BUF(n_set_fpu, KVM_SET_FPU, struct kvm_fpu, FIXED)
IOCTL_BUF(n_get_xsave, KVM_GET_XSAVE, struct kvm_xsave, FIXED)
IOCTL_BUF(n_set_xsave, KVM_SET_XSAVE, struct kvm_xsave, FIXED)
IOCTL_BUF(n_get_vcpu_events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events, FIXED)
IOCTL_BUF(n_set_vcpu_events, KVM_SET_VCPU_EVENTS, struct kvm_vcpu_events, FIXED)
IOCTL_BUF(n_get_debugregs, KVM_GET_DEBUGREGS, struct kvm_debugregs, FIXED)
IOCTL_BUF(n_set_debugregs, KVM_SET_DEBUGREGS, struct kvm_debugregs, FIXED)
IOCTL_BUF(n_set_cpuid2, KVM_SET_CPUID2, struct kvm_cpuid2, VAR_CPUID)
IOCTL_BUF(n_set_guest_debug, KVM_SET_GUEST_DEBUG, struct kvm_guest_debug, FIXED)
IOCTL_BUF(n_translate, KVM_TRANSLATE, struct kvm_translation, FIXED)
IOCTL_BUF(n_interrupt, KVM_INTERRUPT, struct kvm_interrupt, FIXED)
IOCTL_BUF(n_get_mp_state, KVM_GET_MP_STATE, struct kvm_mp_state, FIXED)
IOCTL_BUF(n_enable_cap, KVM_ENABLE_CAP, struct kvm_enable_cap, FIXED)
/*
 * KVM_X86_SET_MSR_FILTER with up to 16 ranges [base, base+nmsrs) whose MSRs
 * are all denied (read and write) or, with no ranges, no filter at all. The
 * bitmaps the ranges point to are built here: KVM copies them during the
 * ioctl, so they only need to live until it returns. args: fd, array of
 * [base, nmsrs] pairs.
 */
static napi_value n_set_msr_filter(napi_env env, napi_callback_info info) {
  ARGS(2);
  ARG_FD(0, fd);
  uint32_t n = 0;
  CHECK_NAPI(napi_get_array_length(env, argv[1], &n));
  if (n > KVM_MSR_FILTER_MAX_RANGES) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "too many MSR filter ranges");
    return NULL;
  }
  static uint8_t deny[KVM_MSR_FILTER_MAX_BITMAP_SIZE]; /* all zero: every MSR denied */
  struct kvm_msr_filter filter;
  memset(&filter, 0, sizeof filter);
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, v;
    uint32_t base, nmsrs;
    CHECK_NAPI(napi_get_element(env, argv[1], i, &pair));
    CHECK_NAPI(napi_get_element(env, pair, 0, &v));
    CHECK_NAPI(napi_get_value_uint32(env, v, &base));
    CHECK_NAPI(napi_get_element(env, pair, 1, &v));
    CHECK_NAPI(napi_get_value_uint32(env, v, &nmsrs));
    if (nmsrs == 0 || (nmsrs + 7) / 8 > sizeof deny) {
      napi_throw_range_error(env, "EVMSCOPE_ARGS", "MSR filter range too large");
      return NULL;
    }
    filter.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    filter.ranges[i].base = base;
    filter.ranges[i].nmsrs = nmsrs;
    /* KVM only reads the bitmap (memdup_user) during this ioctl. */
    filter.ranges[i].bitmap = deny;
  }
  if (ioctl(fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) return throw_errno(env, errno, "KVM_X86_SET_MSR_FILTER");
  return make_undefined(env);
}
/* The caller sets kvm_nested_state.size to the buffer's length (header + data). */
IOCTL_BUF(n_get_nested_state, KVM_GET_NESTED_STATE, struct kvm_nested_state, FIXED)
IOCTL_BUF(n_set_mp_state, KVM_SET_MP_STATE, struct kvm_mp_state, FIXED)

/* ------------------------------------------------------------ guest memory */

/*
 * Guest RAM is anonymous, private, MAP_NORESERVE memory so that a large guest
 * costs only the pages it touches. It is handed to KVM by address and shown to
 * JavaScript as external ArrayBuffers (possibly several, one per thread).
 *
 * Safety contract: the external buffers have no finalizer and do not own the
 * mapping; the runner must call munmap only after every vCPU thread that
 * holds a view has stopped and the memory slot has been removed. Accessing a
 * view after that is a use-after-free, which the runner's lifecycle forbids.
 */
static napi_value n_mmap_anonymous(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint64_t size;
  if (!arg_u64(env, argv[0], &size) || size == 0) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected a non-zero size");
    return NULL;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return throw_errno(env, errno, "mmap");
  napi_value out;
  CHECK_NAPI(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &out));
  return out;
}

static napi_value n_munmap(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t addr, size;
  if (!arg_u64(env, argv[0], &addr) || !arg_u64(env, argv[1], &size)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected address and size");
    return NULL;
  }
  if (munmap((void *)(uintptr_t)addr, size) < 0) return throw_errno(env, errno, "munmap");
  return make_undefined(env);
}

static void no_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data; (void)hint;
}

/* A zero-copy view of memory this addon mapped (see the contract above). */
static napi_value n_external_buffer(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t addr, size;
  if (!arg_u64(env, argv[0], &addr) || !arg_u64(env, argv[1], &size)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected address and size");
    return NULL;
  }
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, (void *)(uintptr_t)addr, size,
                                                    no_finalize, NULL, &ab);
  if (st != napi_ok) {
    napi_throw_error(env, "EVMSCOPE_EXTERNAL",
                     "this JavaScript runtime refuses external buffers (V8 sandbox); "
                     "run vmscope under plain Node.js");
    return NULL;
  }
  return ab;
}

/* --------------------------------------------------------- vCPU run state */

/*
 * Maps the vCPU's kvm_run page once and returns a view of it. Each thread
 * that needs one (the vCPU worker, the main thread) calls this; the mapping
 * is shared and lives until unmapRun.
 */
static napi_value n_map_run(napi_env env, napi_callback_info info) {
  ARGS(2);
  ARG_FD(0, fd);
  int32_t size;
  if (!arg_i32(env, argv[1], &size) || size < (int32_t)sizeof(struct kvm_run)) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "bad kvm_run mmap size");
    return NULL;
  }
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_mutex_lock(&slots_lock);
  if (!s->run) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      pthread_mutex_unlock(&slots_lock);
      return throw_errno(env, err, "mmap(kvm_run)");
    }
    s->run = p;
    s->run_size = (size_t)size;
  }
  struct kvm_run *run = s->run;
  pthread_mutex_unlock(&slots_lock);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, run, (size_t)size, no_finalize, NULL, &ab) != napi_ok) {
    napi_throw_error(env, "EVMSCOPE_EXTERNAL",
                     "this JavaScript runtime refuses external buffers (V8 sandbox); "
                     "run vmscope under plain Node.js");
    return NULL;
  }
  return ab;
}

/* Same lifetime contract as guest memory: call only after the vCPU thread stopped. */
static napi_value n_unmap_run(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_mutex_lock(&slots_lock);
  if (s->run) munmap(s->run, s->run_size);
  s->run = NULL;
  s->run_size = 0;
  __atomic_store_n(&s->in_run, 0, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&slots_lock);
  return make_undefined(env);
}

/*
 * KVM_RUN on the calling thread, synchronously. Returns 0, or -errno for
 * EINTR/EAGAIN (a kick) so the hot loop does not pay for an exception; other
 * errors throw. The caller reads the exit from its kvm_run view.
 */
static napi_value n_run(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  if (!__atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE) ||
      !pthread_equal(s->thread, pthread_self())) {
    /* First run on this thread: make sure the kick signal can reach it. */
    pthread_once(&signal_once, install_kick_handler);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_mutex_lock(&slots_lock);
    s->thread = pthread_self();
    __atomic_store_n(&s->in_run, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_lock);
  }
  int r = ioctl(fd, KVM_RUN, 0);
  if (r < 0) {
    int err = errno;
    if (err == EINTR || err == EAGAIN) return make_int(env, -err);
    return throw_errno(env, err, "KVM_RUN");
  }
  return make_int(env, 0);
}

/*
 * Forces the vCPU out of KVM_RUN as soon as possible, from any thread.
 * The thread registered by run() stays alive until the runner calls
 * unmapRun (which clears in_run under the lock), so pthread_kill never
 * targets an exited thread.
 */
static napi_value n_kick(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_once(&signal_once, install_kick_handler);
  pthread_mutex_lock(&slots_lock);
  int sent = 0;
  if (s->run) {
    __atomic_store_n(&s->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE)) {
      pthread_kill(s->thread, KICK_SIGNAL);
      sent = 1;
    }
  }
  pthread_mutex_unlock(&slots_lock);
  napi_value out;
  napi_get_boolean(env, sent, &out);
  return out;
}

/* -------------------------------------------------- layouts and constants */

static void set_num(napi_env env, napi_value obj, const char *key, int64_t v) {
  napi_set_named_property(env, obj, key, make_int(env, v));
}

#define OFF(obj, type, field) set_num(env, obj, #field, offsetof(type, field))

static napi_value build_layout(napi_env env) {
  napi_value layout, run, sizes;
  napi_create_object(env, &layout);
  napi_create_object(env, &run);
  napi_create_object(env, &sizes);

  set_num(env, sizes, "kvm_run", sizeof(struct kvm_run));
  set_num(env, sizes, "kvm_regs", sizeof(struct kvm_regs));
  set_num(env, sizes, "kvm_sregs", sizeof(struct kvm_sregs));
  set_num(env, sizes, "kvm_segment", sizeof(struct kvm_segment));
  set_num(env, sizes, "kvm_dtable", sizeof(struct kvm_dtable));
  set_num(env, sizes, "kvm_msrs", sizeof(struct kvm_msrs));
  set_num(env, sizes, "kvm_msr_entry", sizeof(struct kvm_msr_entry));
  set_num(env, sizes, "kvm_msr_list", sizeof(struct kvm_msr_list));
  set_num(env, sizes, "kvm_fpu", sizeof(struct kvm_fpu));
  set_num(env, sizes, "kvm_xsave", sizeof(struct kvm_xsave));
  set_num(env, sizes, "kvm_vcpu_events", sizeof(struct kvm_vcpu_events));
  set_num(env, sizes, "kvm_debugregs", sizeof(struct kvm_debugregs));
  set_num(env, sizes, "kvm_cpuid2", sizeof(struct kvm_cpuid2));
  set_num(env, sizes, "kvm_cpuid_entry2", sizeof(struct kvm_cpuid_entry2));
  set_num(env, sizes, "kvm_guest_debug", sizeof(struct kvm_guest_debug));
  set_num(env, sizes, "kvm_translation", sizeof(struct kvm_translation));
  set_num(env, sizes, "kvm_userspace_memory_region", sizeof(struct kvm_userspace_memory_region));
  set_num(env, sizes, "kvm_mp_state", sizeof(struct kvm_mp_state));
  set_num(env, sizes, "kvm_nested_state", sizeof(struct kvm_nested_state));
  set_num(env, sizes, "kvm_enable_cap", sizeof(struct kvm_enable_cap));

  napi_set_named_property(env, layout, "sizes", sizes);

  set_num(env, run, "immediate_exit", offsetof(struct kvm_run, immediate_exit));
  set_num(env, run, "exit_reason", offsetof(struct kvm_run, exit_reason));
  set_num(env, run, "if_flag", offsetof(struct kvm_run, if_flag));
  set_num(env, run, "ready_for_interrupt_injection", offsetof(struct kvm_run, ready_for_interrupt_injection));
  set_num(env, run, "request_interrupt_window", offsetof(struct kvm_run, request_interrupt_window));
  set_num(env, run, "cr8", offsetof(struct kvm_run, cr8));
  set_num(env, run, "apic_base", offsetof(struct kvm_run, apic_base));
  set_num(env, run, "io_direction", offsetof(struct kvm_run, io.direction));
  set_num(env, run, "io_size", offsetof(struct kvm_run, io.size));
  set_num(env, run, "io_port", offsetof(struct kvm_run, io.port));
  set_num(env, run, "io_count", offsetof(struct kvm_run, io.count));
  set_num(env, run, "io_data_offset", offsetof(struct kvm_run, io.data_offset));
  set_num(env, run, "mmio_phys_addr", offsetof(struct kvm_run, mmio.phys_addr));
  set_num(env, run, "mmio_data", offsetof(struct kvm_run, mmio.data));
  set_num(env, run, "mmio_len", offsetof(struct kvm_run, mmio.len));
  set_num(env, run, "mmio_is_write", offsetof(struct kvm_run, mmio.is_write));
  set_num(env, run, "fail_entry_reason", offsetof(struct kvm_run, fail_entry.hardware_entry_failure_reason));
  set_num(env, run, "fail_entry_cpu", offsetof(struct kvm_run, fail_entry.cpu));
  set_num(env, run, "internal_suberror", offsetof(struct kvm_run, internal.suberror));
  set_num(env, run, "internal_ndata", offsetof(struct kvm_run, internal.ndata));
  set_num(env, run, "internal_data", offsetof(struct kvm_run, internal.data));
  set_num(env, run, "debug_exception", offsetof(struct kvm_run, debug.arch.exception));
  set_num(env, run, "debug_pc", offsetof(struct kvm_run, debug.arch.pc));
  set_num(env, run, "debug_dr6", offsetof(struct kvm_run, debug.arch.dr6));
  set_num(env, run, "debug_dr7", offsetof(struct kvm_run, debug.arch.dr7));
  set_num(env, run, "system_event_type", offsetof(struct kvm_run, system_event.type));
  set_num(env, run, "system_event_ndata", offsetof(struct kvm_run, system_event.ndata));
  set_num(env, run, "system_event_data", offsetof(struct kvm_run, system_event.data));
  set_num(env, run, "hypercall_nr", offsetof(struct kvm_run, hypercall.nr));
  set_num(env, run, "hypercall_args", offsetof(struct kvm_run, hypercall.args));
  set_num(env, run, "hypercall_ret", offsetof(struct kvm_run, hypercall.ret));
  set_num(env, run, "msr_error", offsetof(struct kvm_run, msr.error));
  set_num(env, run, "msr_reason", offsetof(struct kvm_run, msr.reason));
  set_num(env, run, "msr_index", offsetof(struct kvm_run, msr.index));
  set_num(env, run, "msr_data", offsetof(struct kvm_run, msr.data));
  set_num(env, run, "kvm_valid_regs", offsetof(struct kvm_run, kvm_valid_regs));
  set_num(env, run, "kvm_dirty_regs", offsetof(struct kvm_run, kvm_dirty_regs));
  set_num(env, run, "sync_regs", offsetof(struct kvm_run, s.regs.regs));
  set_num(env, run, "sync_rip", offsetof(struct kvm_run, s.regs.regs.rip));
  napi_set_named_property(env, layout, "kvm_run", run);

  napi_value sregs, seg, dt, fpu, dbg, tr, cpuid, ev, gd;
  napi_create_object(env, &sregs);
  OFF(sregs, struct kvm_sregs, cs); OFF(sregs, struct kvm_sregs, ds);
  OFF(sregs, struct kvm_sregs, es); OFF(sregs, struct kvm_sregs, fs);
  OFF(sregs, struct kvm_sregs, gs); OFF(sregs, struct kvm_sregs, ss);
  OFF(sregs, struct kvm_sregs, tr); OFF(sregs, struct kvm_sregs, ldt);
  OFF(sregs, struct kvm_sregs, gdt); OFF(sregs, struct kvm_sregs, idt);
  OFF(sregs, struct kvm_sregs, cr0); OFF(sregs, struct kvm_sregs, cr2);
  OFF(sregs, struct kvm_sregs, cr3); OFF(sregs, struct kvm_sregs, cr4);
  OFF(sregs, struct kvm_sregs, cr8); OFF(sregs, struct kvm_sregs, efer);
  OFF(sregs, struct kvm_sregs, apic_base); OFF(sregs, struct kvm_sregs, interrupt_bitmap);
  napi_set_named_property(env, layout, "kvm_sregs", sregs);

  napi_create_object(env, &seg);
  OFF(seg, struct kvm_segment, base); OFF(seg, struct kvm_segment, limit);
  OFF(seg, struct kvm_segment, selector); OFF(seg, struct kvm_segment, type);
  OFF(seg, struct kvm_segment, present); OFF(seg, struct kvm_segment, dpl);
  OFF(seg, struct kvm_segment, db); OFF(seg, struct kvm_segment, s);
  OFF(seg, struct kvm_segment, l); OFF(seg, struct kvm_segment, g);
  OFF(seg, struct kvm_segment, avl); OFF(seg, struct kvm_segment, unusable);
  napi_set_named_property(env, layout, "kvm_segment", seg);

  napi_create_object(env, &dt);
  OFF(dt, struct kvm_dtable, base); OFF(dt, struct kvm_dtable, limit);
  napi_set_named_property(env, layout, "kvm_dtable", dt);

  napi_create_object(env, &fpu);
  OFF(fpu, struct kvm_fpu, fpr); OFF(fpu, struct kvm_fpu, fcw); OFF(fpu, struct kvm_fpu, fsw);
  OFF(fpu, struct kvm_fpu, ftwx); OFF(fpu, struct kvm_fpu, last_opcode);
  OFF(fpu, struct kvm_fpu, last_ip); OFF(fpu, struct kvm_fpu, last_dp);
  OFF(fpu, struct kvm_fpu, xmm); OFF(fpu, struct kvm_fpu, mxcsr);
  napi_set_named_property(env, layout, "kvm_fpu", fpu);

  napi_create_object(env, &dbg);
  OFF(dbg, struct kvm_debugregs, db); OFF(dbg, struct kvm_debugregs, dr6);
  OFF(dbg, struct kvm_debugregs, dr7); OFF(dbg, struct kvm_debugregs, flags);
  napi_set_named_property(env, layout, "kvm_debugregs", dbg);

  napi_create_object(env, &tr);
  OFF(tr, struct kvm_translation, linear_address); OFF(tr, struct kvm_translation, physical_address);
  OFF(tr, struct kvm_translation, valid); OFF(tr, struct kvm_translation, writeable);
  OFF(tr, struct kvm_translation, usermode);
  napi_set_named_property(env, layout, "kvm_translation", tr);

  napi_create_object(env, &cpuid);
  OFF(cpuid, struct kvm_cpuid_entry2, function); OFF(cpuid, struct kvm_cpuid_entry2, index);
  OFF(cpuid, struct kvm_cpuid_entry2, flags); OFF(cpuid, struct kvm_cpuid_entry2, eax);
  OFF(cpuid, struct kvm_cpuid_entry2, ebx); OFF(cpuid, struct kvm_cpuid_entry2, ecx);
  OFF(cpuid, struct kvm_cpuid_entry2, edx);
  napi_set_named_property(env, layout, "kvm_cpuid_entry2", cpuid);

  napi_create_object(env, &ev);
  set_num(env, ev, "exception_injected", offsetof(struct kvm_vcpu_events, exception.injected));
  set_num(env, ev, "exception_nr", offsetof(struct kvm_vcpu_events, exception.nr));
  set_num(env, ev, "exception_has_error_code", offsetof(struct kvm_vcpu_events, exception.has_error_code));
  set_num(env, ev, "exception_pending", offsetof(struct kvm_vcpu_events, exception.pending));
  set_num(env, ev, "exception_error_code", offsetof(struct kvm_vcpu_events, exception.error_code));
  set_num(env, ev, "interrupt_injected", offsetof(struct kvm_vcpu_events, interrupt.injected));
  set_num(env, ev, "interrupt_nr", offsetof(struct kvm_vcpu_events, interrupt.nr));
  set_num(env, ev, "interrupt_shadow", offsetof(struct kvm_vcpu_events, interrupt.shadow));
  set_num(env, ev, "nmi_injected", offsetof(struct kvm_vcpu_events, nmi.injected));
  set_num(env, ev, "nmi_pending", offsetof(struct kvm_vcpu_events, nmi.pending));
  set_num(env, ev, "nmi_masked", offsetof(struct kvm_vcpu_events, nmi.masked));
  set_num(env, ev, "sipi_vector", offsetof(struct kvm_vcpu_events, sipi_vector));
  set_num(env, ev, "flags", offsetof(struct kvm_vcpu_events, flags));
  napi_set_named_property(env, layout, "kvm_vcpu_events", ev);

  napi_create_object(env, &gd);
  OFF(gd, struct kvm_guest_debug, control);
  set_num(env, gd, "debugreg", offsetof(struct kvm_guest_debug, arch.debugreg));
  napi_set_named_property(env, layout, "kvm_guest_debug", gd);

  napi_value mr;
  napi_create_object(env, &mr);
  OFF(mr, struct kvm_userspace_memory_region, slot);
  OFF(mr, struct kvm_userspace_memory_region, flags);
  OFF(mr, struct kvm_userspace_memory_region, guest_phys_addr);
  OFF(mr, struct kvm_userspace_memory_region, memory_size);
  OFF(mr, struct kvm_userspace_memory_region, userspace_addr);
  napi_set_named_property(env, layout, "kvm_userspace_memory_region", mr);
  return layout;
}

/* Values from <linux/kvm.h>, exported so tests can check TypeScript's tables. */
static napi_value build_constants(napi_env env) {
  napi_value c;
  napi_create_object(env, &c);
#define K(name) set_num(env, c, #name, name)
  K(KVM_API_VERSION);
  K(KVM_EXIT_UNKNOWN); K(KVM_EXIT_EXCEPTION); K(KVM_EXIT_IO); K(KVM_EXIT_HYPERCALL);
  K(KVM_EXIT_DEBUG); K(KVM_EXIT_HLT); K(KVM_EXIT_MMIO); K(KVM_EXIT_IRQ_WINDOW_OPEN);
  K(KVM_EXIT_SHUTDOWN); K(KVM_EXIT_FAIL_ENTRY); K(KVM_EXIT_INTR); K(KVM_EXIT_SET_TPR);
  K(KVM_EXIT_TPR_ACCESS); K(KVM_EXIT_NMI); K(KVM_EXIT_INTERNAL_ERROR); K(KVM_EXIT_OSI);
  K(KVM_EXIT_SYSTEM_EVENT); K(KVM_EXIT_IOAPIC_EOI); K(KVM_EXIT_X86_RDMSR);
  K(KVM_EXIT_X86_WRMSR); K(KVM_EXIT_DIRTY_RING_FULL); K(KVM_EXIT_AP_RESET_HOLD);
  K(KVM_EXIT_X86_BUS_LOCK); K(KVM_EXIT_NOTIFY);
  K(KVM_EXIT_IO_IN); K(KVM_EXIT_IO_OUT);
  K(KVM_INTERNAL_ERROR_EMULATION); K(KVM_INTERNAL_ERROR_SIMUL_EX);
  K(KVM_INTERNAL_ERROR_DELIVERY_EV);
  K(KVM_SYSTEM_EVENT_SHUTDOWN); K(KVM_SYSTEM_EVENT_RESET); K(KVM_SYSTEM_EVENT_CRASH);
  K(KVM_GUESTDBG_ENABLE); K(KVM_GUESTDBG_SINGLESTEP); K(KVM_GUESTDBG_USE_SW_BP);
  K(KVM_GUESTDBG_USE_HW_BP); K(KVM_GUESTDBG_INJECT_DB); K(KVM_GUESTDBG_INJECT_BP);
  K(KVM_MEM_READONLY); K(KVM_MEM_LOG_DIRTY_PAGES);
  K(KVM_SYNC_X86_REGS); K(KVM_SYNC_X86_SREGS); K(KVM_SYNC_X86_EVENTS);
  K(KVM_MSR_EXIT_REASON_INVAL); K(KVM_MSR_EXIT_REASON_UNKNOWN); K(KVM_MSR_EXIT_REASON_FILTER);
  K(KVM_MSR_FILTER_DEFAULT_ALLOW); K(KVM_MSR_FILTER_DEFAULT_DENY);
  K(KVM_MP_STATE_RUNNABLE); K(KVM_MP_STATE_UNINITIALIZED); K(KVM_MP_STATE_HALTED);
  K(KVM_CAP_IRQCHIP); K(KVM_CAP_HLT); K(KVM_CAP_USER_MEMORY); K(KVM_CAP_SET_TSS_ADDR);
  K(KVM_CAP_EXT_CPUID); K(KVM_CAP_NR_VCPUS); K(KVM_CAP_NR_MEMSLOTS); K(KVM_CAP_MAX_VCPUS);
  K(KVM_CAP_SET_GUEST_DEBUG); K(KVM_CAP_SET_IDENTITY_MAP_ADDR); K(KVM_CAP_VCPU_EVENTS);
  K(KVM_CAP_DEBUGREGS); K(KVM_CAP_XSAVE); K(KVM_CAP_XCRS); K(KVM_CAP_READONLY_MEM);
  K(KVM_CAP_IMMEDIATE_EXIT); K(KVM_CAP_NESTED_STATE); K(KVM_CAP_EXIT_HYPERCALL);
  K(KVM_CAP_X86_USER_SPACE_MSR); K(KVM_CAP_X86_MSR_FILTER); K(KVM_CAP_SYNC_REGS);
  K(KVM_CAP_GET_MSR_FEATURES); K(KVM_CAP_MAX_VCPU_ID); K(KVM_CAP_TSC_CONTROL);
  K(KVM_CAP_X86_DISABLE_EXITS); K(KVM_CAP_XSAVE2); K(KVM_CAP_GUEST_DEBUG_HW_BPS);
#undef K
  set_num(env, c, "KICK_SIGNAL", KICK_SIGNAL);
  return c;
}

/* ------------------------------------------------------------------ module */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
    FN("openDevice", n_open_device),
    FN("close", n_close),
    FN("getApiVersion", n_get_api_version),
    FN("checkExtension", n_check_extension),
    FN("getVcpuMmapSize", n_get_vcpu_mmap_size),
    FN("getSupportedCpuid", n_get_supported_cpuid),
    FN("getMsrIndexList", n_get_msr_index_list),
    FN("createVm", n_create_vm),
    FN("setTssAddr", n_set_tss_addr),
    FN("setIdentityMapAddr", n_set_identity_map_addr),
    FN("createIrqchip", n_create_irqchip),
    FN("setUserMemoryRegion", n_set_user_memory_region),
    FN("createVcpu", n_create_vcpu),
    FN("mmapAnonymous", n_mmap_anonymous),
    FN("munmap", n_munmap),
    FN("externalBuffer", n_external_buffer),
    FN("mapRun", n_map_run),
    FN("unmapRun", n_unmap_run),
    FN("run", n_run),
    FN("kick", n_kick),
    FN("getRegs", n_get_regs),
    FN("setRegs", n_set_regs),
    FN("getSregs", n_get_sregs),
    FN("setSregs", n_set_sregs),
    FN("getMsrs", n_get_msrs),
    FN("setMsrs", n_set_msrs),
    FN("getFpu", n_get_fpu),
    FN("setFpu", n_set_fpu),
    FN("getXsave", n_get_xsave),
    FN("setXsave", n_set_xsave),
    FN("getVcpuEvents", n_get_vcpu_events),
    FN("setVcpuEvents", n_set_vcpu_events),
    FN("getDebugRegs", n_get_debugregs),
    FN("setDebugRegs", n_set_debugregs),
    FN("setCpuid2", n_set_cpuid2),
    FN("setGuestDebug", n_set_guest_debug),
    FN("translate", n_translate),
    FN("interrupt", n_interrupt),
    FN("getMpState", n_get_mp_state),
    FN("setMpState", n_set_mp_state),
    FN("getNestedState", n_get_nested_state),
    FN("enableCap", n_enable_cap),
    FN("setMsrFilter", n_set_msr_filter),
#undef FN
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "layout", build_layout(env));
  napi_set_named_property(env, exports, "constants", build_constants(env));
  /* The emulation backend's calls (vmm/native/unicorn.c) live in the same addon. */
  vmscope_register_unicorn(env, exports);
  return exports;
}
