/*
 * How every wrapper of vmscope's KVM binding reaches the kernel: errno errors,
 * buffer arguments, and the two generic ioctl shapes (an integer in and out,
 * one struct in a caller buffer). Shared declarations: kvm-internal.h.
 */
#include "kvm-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

napi_value throw_errno(napi_env env, int err, const char *syscall) {
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

/*
 * Resolves an ArrayBuffer or any TypedArray/DataView to (pointer, length).
 * The pointer is only used for the duration of one synchronous ioctl, during
 * which the JS value is kept alive by the call frame, so it cannot move or be
 * freed under us.
 */
int arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
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

napi_value ioctl_int(napi_env env, napi_callback_info info, unsigned long req,
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

napi_value ioctl_buf(napi_env env, napi_callback_info info, unsigned long req,
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
