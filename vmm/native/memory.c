/*
 * Host memory for guests: anonymous mappings, and zero-copy views of them
 * (and of kvm_run pages) for JavaScript. Both backends use it: KVM gets the
 * memory as a slot, Unicorn with ucMemMapPtr. Shared declarations:
 * kvm-internal.h.
 */
#include "kvm-internal.h"

#include <errno.h>
#include <sys/mman.h>

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
napi_value n_mmap_anonymous(napi_env env, napi_callback_info info) {
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

napi_value n_munmap(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t addr, size;
  if (!arg_u64(env, argv[0], &addr) || !arg_u64(env, argv[1], &size)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected address and size");
    return NULL;
  }
  if (munmap((void *)(uintptr_t)addr, size) < 0) return throw_errno(env, errno, "munmap");
  return js_undefined(env);
}

static void no_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data; (void)hint;
}

/* A zero-copy view of memory this addon mapped (see the contract above). */
napi_value external_view(napi_env env, void *data, size_t size) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, data, size, no_finalize, NULL, &ab) != napi_ok) {
    napi_throw_error(env, "EVMSCOPE_EXTERNAL",
                     "this JavaScript runtime refuses external buffers (V8 sandbox); "
                     "run vmscope under plain Node.js");
    return NULL;
  }
  return ab;
}

/* externalBuffer(addr, size): a view of guest memory from mmapAnonymous. */
napi_value n_external_buffer(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t addr, size;
  if (!arg_u64(env, argv[0], &addr) || !arg_u64(env, argv[1], &size)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected address and size");
    return NULL;
  }
  return external_view(env, (void *)(uintptr_t)addr, size);
}
