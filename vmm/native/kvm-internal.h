/*
 * What the files of vmscope's KVM binding share. The binding is one thin
 * Node-API wrapper per /dev/kvm ioctl, mirroring the kernel's fd hierarchy
 * (system -> VM -> vCPU). No policy lives here: the runner in TypeScript
 * decides what to call and when.
 *
 *   kvm-ioctl.c   errors, buffer arguments, and the two generic ioctl shapes
 *   kvm-vm.c      the system (/dev/kvm) and VM fds, and the MSR filter
 *   kvm-vcpu.c    vCPU state ioctls, the kvm_run page, KVM_RUN and kicks
 *   kvm-layout.c  struct layouts and constants from <linux/kvm.h>
 *   memory.c      host memory for guests (also the emulator's), as views
 *   addon.c       the module's init and the KVM export table
 *
 * Struct-carrying ioctls take a caller-owned ArrayBuffer/TypedArray whose
 * layout TypeScript reads through the offsets exported in `layout` (computed
 * in kvm-layout.c with offsetof against the same header the ioctl uses), so
 * the two sides cannot drift apart.
 *
 * Errors are thrown as JS Errors with `code` (errno name), `errno` and
 * `syscall` (the ioctl's name); the runner turns them into user-facing text.
 *
 * Include this first: _GNU_SOURCE must come before any system header.
 */
#ifndef VMSCOPE_KVM_INTERNAL_H
#define VMSCOPE_KVM_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/kvm.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "napi-util.h"

/* The signal that kicks a vCPU thread out of KVM_RUN (see kvm-vcpu.c); exported in `constants`. */
#define KICK_SIGNAL (SIGRTMIN + 3)

/* ---------------------------------------------------------------- helpers */

/* Throws a JS Error for errno `err` from `syscall` (see above); returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *syscall);

static inline napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static inline int arg_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static inline int arg_u64(napi_env env, napi_value v, uint64_t *out) {
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

/* Resolves an ArrayBuffer or any TypedArray/DataView to (pointer, length); see kvm-ioctl.c. */
int arg_bytes(napi_env env, napi_value v, void **data, size_t *len);

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

/* ------------------------------------------------------ the generic ioctls */

/* ioctl with an integer argument (or none) returning a non-negative int. */
napi_value ioctl_int(napi_env env, napi_callback_info info, unsigned long req,
                     const char *name, int has_arg);

#define IOCTL_INT(fn, req, has_arg)                                            \
  napi_value fn(napi_env env, napi_callback_info info) {                      \
    return ioctl_int(env, info, req, #req, has_arg);                           \
  }

/*
 * ioctl that reads and/or writes one struct in a caller buffer. min_size is
 * the struct's fixed size; variable-length structs (kvm_msrs, kvm_cpuid2)
 * additionally check their element count against the buffer length.
 */
enum var_kind { FIXED, VAR_MSRS, VAR_CPUID };

napi_value ioctl_buf(napi_env env, napi_callback_info info, unsigned long req,
                     const char *name, size_t min_size, enum var_kind kind);

#define IOCTL_BUF(fn, req, type, kind)                                         \
  napi_value fn(napi_env env, napi_callback_info info) {                      \
    return ioctl_buf(env, info, req, #req, sizeof(type), kind);                \
  }

/* A zero-copy view of memory this addon mapped, or NULL after throwing (memory.c). */
napi_value external_view(napi_env env, void *data, size_t size);

/* ---------------------------------------------------- the exported wrappers */

#define KVM_WRAPPER(name) napi_value name(napi_env env, napi_callback_info info)

/* kvm-vm.c */
KVM_WRAPPER(n_open_device); KVM_WRAPPER(n_close); KVM_WRAPPER(n_get_api_version);
KVM_WRAPPER(n_check_extension); KVM_WRAPPER(n_get_vcpu_mmap_size); KVM_WRAPPER(n_get_supported_cpuid);
KVM_WRAPPER(n_get_msr_index_list); KVM_WRAPPER(n_create_vm); KVM_WRAPPER(n_set_tss_addr);
KVM_WRAPPER(n_set_identity_map_addr); KVM_WRAPPER(n_create_irqchip); KVM_WRAPPER(n_set_user_memory_region);
KVM_WRAPPER(n_create_vcpu); KVM_WRAPPER(n_enable_cap); KVM_WRAPPER(n_set_msr_filter);
/* memory.c */
KVM_WRAPPER(n_mmap_anonymous); KVM_WRAPPER(n_munmap); KVM_WRAPPER(n_external_buffer);
/* kvm-vcpu.c */
KVM_WRAPPER(n_map_run); KVM_WRAPPER(n_unmap_run); KVM_WRAPPER(n_run); KVM_WRAPPER(n_kick); KVM_WRAPPER(n_set_deadline);
KVM_WRAPPER(n_get_regs); KVM_WRAPPER(n_set_regs); KVM_WRAPPER(n_get_sregs); KVM_WRAPPER(n_set_sregs);
KVM_WRAPPER(n_get_msrs); KVM_WRAPPER(n_set_msrs); KVM_WRAPPER(n_get_fpu); KVM_WRAPPER(n_set_fpu);
KVM_WRAPPER(n_get_xsave); KVM_WRAPPER(n_set_xsave); KVM_WRAPPER(n_get_vcpu_events);
KVM_WRAPPER(n_set_vcpu_events); KVM_WRAPPER(n_get_debugregs); KVM_WRAPPER(n_set_debugregs);
KVM_WRAPPER(n_set_cpuid2); KVM_WRAPPER(n_set_guest_debug); KVM_WRAPPER(n_translate);
KVM_WRAPPER(n_interrupt); KVM_WRAPPER(n_get_mp_state); KVM_WRAPPER(n_set_mp_state);
KVM_WRAPPER(n_get_nested_state);

/* kvm-layout.c: the `layout` and `constants` exports. */
napi_value build_layout(napi_env env);
napi_value build_constants(napi_env env);

#endif
