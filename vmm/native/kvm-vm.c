/*
 * vmscope's KVM binding, the system and VM fds: opening /dev/kvm, what the
 * host supports, creating a VM and its vCPUs, memory slots, and the MSR
 * filter. Shared declarations: kvm-internal.h.
 */
#include "kvm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ------------------------------------------------------- system-level ops */

napi_value n_open_device(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[256];
  size_t len;
  CHECK_NAPI(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open");
  return make_int(env, fd);
}

napi_value n_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  if (close(fd) < 0) return throw_errno(env, errno, "close");
  return js_undefined(env);
}

IOCTL_INT(n_get_api_version, KVM_GET_API_VERSION, 0)
IOCTL_INT(n_check_extension, KVM_CHECK_EXTENSION, 1)
IOCTL_INT(n_get_vcpu_mmap_size, KVM_GET_VCPU_MMAP_SIZE, 0)
IOCTL_INT(n_create_vm, KVM_CREATE_VM, 1)
IOCTL_BUF(n_get_supported_cpuid, KVM_GET_SUPPORTED_CPUID, struct kvm_cpuid2, VAR_CPUID)
IOCTL_BUF(n_get_msr_index_list, KVM_GET_MSR_INDEX_LIST, struct kvm_msr_list, FIXED)

/* ----------------------------------------------------------------- VM ops */

IOCTL_INT(n_create_vcpu, KVM_CREATE_VCPU, 1)
IOCTL_INT(n_set_tss_addr, KVM_SET_TSS_ADDR, 1)
IOCTL_INT(n_create_irqchip, KVM_CREATE_IRQCHIP, 0)
IOCTL_BUF(n_set_user_memory_region, KVM_SET_USER_MEMORY_REGION,
          struct kvm_userspace_memory_region, FIXED)
IOCTL_BUF(n_enable_cap, KVM_ENABLE_CAP, struct kvm_enable_cap, FIXED)

napi_value n_set_identity_map_addr(napi_env env, napi_callback_info info) {
  ARGS(2);
  ARG_FD(0, fd);
  uint64_t addr;
  if (!arg_u64(env, argv[1], &addr)) {
    napi_throw_type_error(env, "EVMSCOPE_ARGS", "expected an address");
    return NULL;
  }
  if (ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
    return throw_errno(env, errno, "KVM_SET_IDENTITY_MAP_ADDR");
  return js_undefined(env);
}

/*
 * KVM_X86_SET_MSR_FILTER with up to 16 ranges [base, base+nmsrs) whose MSRs
 * are all denied (read and write) or, with no ranges, no filter at all. The
 * bitmaps the ranges point to are built here: KVM copies them during the
 * ioctl, so they only need to live until it returns. args: fd, array of
 * [base, nmsrs] pairs.
 */
napi_value n_set_msr_filter(napi_env env, napi_callback_info info) {
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
  return js_undefined(env);
}
