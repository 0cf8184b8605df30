/*
 * What every file of vmscope's native addon shares: the Node-API call check,
 * JavaScript's undefined, and the registration hook by which the module's
 * init (addon.c) adds the emulator's functions to the one addon.
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

/* What a wrapper with nothing to return gives JavaScript. */
static inline napi_value js_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

/* Adds the Unicorn wrappers (vmm/native/unicorn-exports.c) to the addon's exports. */
void vmscope_register_unicorn(napi_env env, napi_value exports);

#endif
