/*
 * The Unicorn half of the addon's export table: the wrappers, and constants
 * from Unicorn's own headers. Built with Unicorn's headers
 * (VMSCOPE_HAVE_UNICORN, set by binding.gyp where it found them at install,
 * together with the other unicorn-*.c files); otherwise the only export is a
 * ucLoad that throws with the fix.
 */
#include "napi-util.h"

#ifndef VMSCOPE_HAVE_UNICORN

static napi_value not_built(napi_env env, napi_callback_info info) {
  napi_throw_error(env, "EVMSCOPE_NO_UNICORN",
                   "vmscope was built without Unicorn's headers; get Unicorn 2.1+ (python3 -m pip download --no-deps unicorn==2.1.4, "
                   "or VMSCOPE_UNICORN=/path/to/libunicorn.so.2 with ../include), then npm rebuild");
  return NULL;
}

void vmscope_register_unicorn(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "ucLoad", NAPI_AUTO_LENGTH, not_built, NULL, &fn);
  napi_set_named_property(env, exports, "ucLoad", fn);
}

#else

#include "unicorn-internal.h"

#define EXPORT(name)                                                           \
  do {                                                                         \
    napi_value fn;                                                             \
    napi_create_function(env, #name, NAPI_AUTO_LENGTH, name, NULL, &fn);       \
    napi_set_named_property(env, exports, #name, fn);                          \
  } while (0)

#define CONST(name)                                                            \
  do {                                                                         \
    napi_value v;                                                              \
    napi_create_int64(env, (int64_t)(name), &v);                               \
    napi_set_named_property(env, consts, #name, v);                            \
  } while (0)

void vmscope_register_unicorn(napi_env env, napi_value exports) {
  EXPORT(ucLoad); EXPORT(ucOpen); EXPORT(ucClose); EXPORT(ucCtl); EXPORT(ucMemMapPtr); EXPORT(ucMmioMap);
  EXPORT(ucSetHandlers); EXPORT(ucHookBreakpoint); EXPORT(ucHookPrecise); EXPORT(ucHookWatch); EXPORT(ucHookMsr); EXPORT(ucHookDel);
  EXPORT(ucSkipOnce); EXPORT(ucEmuStart); EXPORT(ucEmuStop); EXPORT(ucStopNext); EXPORT(ucKick); EXPORT(ucSetDeadline); EXPORT(ucRegRead); EXPORT(ucRegWrite);
  EXPORT(ucRegReadBytes); EXPORT(ucMmrRead); EXPORT(ucMmrWrite); EXPORT(ucMsrRead); EXPORT(ucMsrWrite); EXPORT(ucVmemTranslate);
  EXPORT(ucContextSave); EXPORT(ucContextRead); EXPORT(ucContextRestore);
  /* Constants from Unicorn's own headers, so TypeScript never re-declares them. */
  napi_value consts;
  napi_create_object(env, &consts);
  CONST(UC_MODE_16); CONST(UC_MODE_32); CONST(UC_MODE_64);
  CONST(UC_PROT_READ); CONST(UC_PROT_WRITE); CONST(UC_PROT_EXEC); CONST(UC_PROT_ALL);
  CONST(UC_ERR_OK); CONST(UC_ERR_READ_UNMAPPED); CONST(UC_ERR_WRITE_UNMAPPED); CONST(UC_ERR_FETCH_UNMAPPED);
  CONST(UC_ERR_INSN_INVALID); CONST(UC_ERR_EXCEPTION);
  CONST(UC_CPU_X86_QEMU64); CONST(UC_CPU_X86_HASWELL); CONST(UC_CPU_X86_BROADWELL);
  CONST(STOP_NONE); CONST(STOP_BREAKPOINT); CONST(STOP_WATCH_READ); CONST(STOP_WATCH_WRITE); CONST(STOP_REQUESTED);
  CONST(CONTEXT_HEADER);
  CONST(UC_X86_REG_RAX); CONST(UC_X86_REG_RBX); CONST(UC_X86_REG_RCX); CONST(UC_X86_REG_RDX);
  CONST(UC_X86_REG_RSI); CONST(UC_X86_REG_RDI); CONST(UC_X86_REG_RSP); CONST(UC_X86_REG_RBP);
  CONST(UC_X86_REG_R8); CONST(UC_X86_REG_R9); CONST(UC_X86_REG_R10); CONST(UC_X86_REG_R11);
  CONST(UC_X86_REG_R12); CONST(UC_X86_REG_R13); CONST(UC_X86_REG_R14); CONST(UC_X86_REG_R15);
  CONST(UC_X86_REG_RIP); CONST(UC_X86_REG_EIP); CONST(UC_X86_REG_IP); CONST(UC_X86_REG_RFLAGS); CONST(UC_X86_REG_EFLAGS);
  CONST(UC_X86_REG_CS); CONST(UC_X86_REG_DS); CONST(UC_X86_REG_ES); CONST(UC_X86_REG_FS); CONST(UC_X86_REG_GS); CONST(UC_X86_REG_SS);
  CONST(UC_X86_REG_TR); CONST(UC_X86_REG_LDTR); CONST(UC_X86_REG_GDTR); CONST(UC_X86_REG_IDTR);
  CONST(UC_X86_REG_CR0); CONST(UC_X86_REG_CR2); CONST(UC_X86_REG_CR3); CONST(UC_X86_REG_CR4); CONST(UC_X86_REG_CR8);
  CONST(UC_X86_REG_DR0); CONST(UC_X86_REG_DR1); CONST(UC_X86_REG_DR2); CONST(UC_X86_REG_DR3); CONST(UC_X86_REG_DR6); CONST(UC_X86_REG_DR7);
  CONST(UC_X86_REG_FS_BASE); CONST(UC_X86_REG_GS_BASE);
  CONST(UC_X86_REG_FPCW); CONST(UC_X86_REG_FPSW); CONST(UC_X86_REG_FPTAG); CONST(UC_X86_REG_MXCSR);
  CONST(UC_X86_REG_ST0); CONST(UC_X86_REG_XMM0);
  napi_set_named_property(env, exports, "ucConstants", consts);
}

#endif
