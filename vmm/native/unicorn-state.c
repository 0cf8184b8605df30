/*
 * vmscope's Unicorn binding, the vCPU state: registers (up to 8 bytes, wider
 * ones as bytes, descriptor-table and segment registers), MSRs, address
 * translation, and the saved CPU state as bytes. Called from the machine's
 * thread only while the engine's vCPU is paused (see unicorn-internal.h).
 */
#include "unicorn-internal.h"

#include <string.h>

/* ucRegRead(id, regid) -> bigint (registers of up to 8 bytes). */
napi_value ucRegRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  int32_t reg;
  get_i32(env, argv[1], &reg);
  uint64_t v = 0;
  UC(U.reg_read(e->uc, reg, &v), "uc_reg_read");
  return big(env, v);
}

napi_value ucRegWrite(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  int32_t reg;
  uint64_t v;
  get_i32(env, argv[1], &reg);
  get_u64(env, argv[2], &v);
  UC(U.reg_write(e->uc, reg, &v), "uc_reg_write");
  return js_undefined(env);
}

/* ucRegReadBytes(id, regid, buf): registers wider than 8 bytes (x87, XMM), into buf. */
napi_value ucRegReadBytes(napi_env env, napi_callback_info info) {
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
napi_value ucMmrRead(napi_env env, napi_callback_info info) {
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

napi_value ucMmrWrite(napi_env env, napi_callback_info info) {
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
  return js_undefined(env);
}

/*
 * ucVmemTranslate(id, gva) -> bigint GPA, or -1n when QEMU's MMU finds no
 * mapping for a read. A failed walk sets the guest's CR2 as a #PF would: the
 * caller restores it (vmm/emu/state.ts).
 */
napi_value ucVmemTranslate(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t gva, gpa = 0;
  get_u64(env, argv[1], &gva);
  if (U.vmem_translate(e->uc, gva, UC_PROT_READ, &gpa) != UC_ERR_OK) gpa = ~0ull;
  return big(env, gpa);
}

/* ucMsrRead(id, index) -> bigint; ucMsrWrite(id, index, value). */
napi_value ucMsrRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t idx;
  get_u64(env, argv[1], &idx);
  uc_x86_msr m = {.rid = (uint32_t)idx, .value = 0};
  UC(U.reg_read(e->uc, UC_X86_REG_MSR, &m), "uc_reg_read(MSR)");
  return big(env, m.value);
}

napi_value ucMsrWrite(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  uint64_t idx, v;
  get_u64(env, argv[1], &idx);
  get_u64(env, argv[2], &v);
  uc_x86_msr m = {.rid = (uint32_t)idx, .value = v};
  UC(U.reg_write(e->uc, UC_X86_REG_MSR, &m), "uc_reg_write(MSR)");
  return js_undefined(env);
}

/*
 * ucContextSave(id) -> ArrayBuffer copy of the state bytes, which follow
 * Unicorn's own context header (see CONTEXT_HEADER in unicorn-internal.h).
 */
napi_value ucContextSave(napi_env env, napi_callback_info info) {
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

/*
 * ucContextRead(id, ArrayBuffer): the state bytes as ucContextSave gives them,
 * copied into the caller's buffer (as many as fit), so reading the CPU state
 * allocates nothing: the interrupt and exception delivery path reads it for
 * every event.
 */
napi_value ucContextRead(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  void *data;
  size_t len;
  CHECK_NAPI(napi_get_arraybuffer_info(env, argv[1], &data, &len));
  if (!e->ctx) UC(U.context_alloc(e->uc, &e->ctx), "uc_context_alloc");
  UC(U.context_save(e->uc, e->ctx), "uc_context_save");
  size_t size = U.context_size(e->uc) - CONTEXT_HEADER;
  memcpy(data, (char *)e->ctx + CONTEXT_HEADER, len < size ? len : size);
  return js_undefined(env);
}

/* ucContextRestore(id, ArrayBuffer): writes the state bytes back (from ucContextSave, edited). */
napi_value ucContextRestore(napi_env env, napi_callback_info info) {
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
  return js_undefined(env);
}
