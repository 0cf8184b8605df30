/*
 * What vmscope's two native files (kvm.c, unicorn.c) share: the Node-API
 * call check, and the registration hook by which kvm.c's module init adds
 * the emulator's functions to the one addon.
 */
#ifndef VMSCOPE_NAPI_UTIL_H
#define VMSCOPE_NAPI_UTIL_H

#include <node_api.h>

/* Throws a JS error naming the failed Node-API call and returns NULL from the calling wrapper. */
#define CHECK_NAPI(call)                                                       \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, "EVMSCOPE_NAPI", "Node-API call failed: " #call);  \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* Adds the Unicorn wrappers (vmm/native/unicorn.c) to the addon's exports. */
void vmscope_register_unicorn(napi_env env, napi_value exports);

#endif
