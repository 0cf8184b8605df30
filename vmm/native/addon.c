/*
 * The entry of vmscope's native addon: the module's init, which exports the
 * KVM wrappers (kvm-*.c, memory.c), their struct layouts and constants, and
 * then the emulator's (unicorn-exports.c). See kvm-internal.h for the files.
 */
#include "kvm-internal.h"

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
    FN("setDeadline", n_set_deadline),
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
  /* The emulation backend's calls (unicorn-*.c) live in the same addon. */
  vmscope_register_unicorn(env, exports);
  return exports;
}
