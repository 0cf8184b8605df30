/*
 * vmscope's Unicorn binding, the hooks: the trampolines Unicorn calls during
 * a run (port I/O with its fast path, MMIO, interrupts, invalid instructions,
 * CPUID, kicks, breakpoints, single-instruction stops, watchpoints, the MSR
 * scan), how they call back into TypeScript, and the calls that install them.
 * Shared declarations and the threading contract: unicorn-internal.h.
 */
#include "unicorn-internal.h"

#include <stdlib.h>

/* ------------------------------------------------- calling back into JS */

/*
 * Calls one of the engine's handlers on the thread running uc_emu_start (the
 * hook runs inside that thread's ucEmuStart call, so `env` is live). A throw
 * stops emulation and is rethrown by ucEmuStart.
 */
static bool call_js(engine *e, napi_ref ref, size_t argc, napi_value *argv, napi_value *result) {
  napi_env env = e->env;
  if (!ref || e->js_error) return false;
  napi_value fn, global;
  napi_get_reference_value(env, ref, &fn);
  napi_get_global(env, &global);
  if (napi_call_function(env, global, fn, argc, argv, result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      /* A reference keeps the exception past this hook's handle scope; ucEmuStart rethrows and drops it. */
      napi_create_reference(env, ex, 1, &e->js_exception);
    }
    e->js_error = true;
    U.emu_stop(e->uc);
    return false;
  }
  return true;
}

/* ------------------------------------------------------------ hook bodies */

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *user) {
  engine *e = user;
  port &= 0xffff;
  if (!e->ports[port]) {
    uint32_t ones = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
    e->port_counts[4 * port]++;
    e->port_counts[4 * port + 2] = 0xffffffffu;
    e->port_counts[4 * port + 3] = (uint32_t)size;
    (*e->fast_io)++;
    return ones;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 0), num(e->env, port), num(e->env, size), num(e->env, 0)}, r;
  uint32_t value = 0xffffffffu;
  if (call_js(e, e->on_io, 4, argv, &r)) {
    double d = 0;
    napi_get_value_double(e->env, r, &d);
    value = (uint32_t)(int64_t)d;
  }
  napi_close_handle_scope(e->env, scope);
  return value;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user) {
  engine *e = user;
  port &= 0xffff;
  if (!e->ports[port]) {
    e->port_counts[4 * port + 1]++;
    e->port_counts[4 * port + 2] = value;
    e->port_counts[4 * port + 3] = (uint32_t)size;
    (*e->fast_io)++;
    return;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 1), num(e->env, port), num(e->env, size), num(e->env, value)}, r;
  call_js(e, e->on_io, 4, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

/* One mapped MMIO range: its base, so callbacks can give absolute addresses. */
typedef struct mmio_range {
  engine *e;
  uint64_t base;
} mmio_range;

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user) {
  mmio_range *m = user;
  engine *e = m->e;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 0), big(e->env, m->base + offset), num(e->env, size), big(e->env, 0)}, r;
  uint64_t value = ~0ull;
  if (call_js(e, e->on_mmio, 4, argv, &r)) {
    bool lossless;
    if (napi_get_value_bigint_uint64(e->env, r, &value, &lossless) != napi_ok) value = ~0ull;
  }
  napi_close_handle_scope(e->env, scope);
  return value;
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user) {
  mmio_range *m = user;
  engine *e = m->e;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[4] = {num(e->env, 1), big(e->env, m->base + offset), num(e->env, size), big(e->env, value)}, r;
  call_js(e, e->on_mmio, 4, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[1] = {num(e->env, intno)}, r;
  call_js(e, e->on_intr, 1, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

static bool hook_invalid(uc_engine *uc, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value r;
  bool handled = false;
  if (call_js(e, e->on_invalid, 0, NULL, &r)) napi_get_value_bool(e->env, r, &handled);
  napi_close_handle_scope(e->env, scope);
  return handled;
}

/* Returns 1: Unicorn skips the CPUID and keeps the registers the handler wrote. */
static int hook_cpuid(uc_engine *uc, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value r;
  bool handled = false;
  if (call_js(e, e->on_cpuid, 0, NULL, &r)) napi_get_value_bool(e->env, r, &handled);
  napi_close_handle_scope(e->env, scope);
  return handled ? 1 : 0;
}

/*
 * SYSCALL: Unicorn runs the instruction hooks instead of the transition to
 * ring 0 (its helper_syscall), then adds the instruction's length to rip. The
 * handler carries out the transition the SDM describes (vmm/emu/vcpu.ts).
 */
static void hook_syscall(uc_engine *uc, void *user) {
  engine *e = user;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value r;
  call_js(e, e->on_syscall, 0, NULL, &r);
  napi_close_handle_scope(e->env, scope);
}

/* An exec breakpoint (a code hook over exactly its address): stop before the instruction. */
static void hook_breakpoint(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->skip_armed && address == e->skip_addr) {
    e->skip_armed = false;
    return;
  }
  if (e->stop_kind != STOP_NONE) return;
  e->stop_kind = STOP_BREAKPOINT;
  e->stop_addr = address;
  U.emu_stop(uc);
}

/*
 * A code hook over every address, with nothing to do: its presence makes
 * Unicorn check for a stop request after each instruction, so a stop asked
 * for by an I/O or memory hook lands right after the instruction instead of
 * at the end of its translation block (see docs/backends.md).
 */
static void hook_precise(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->stop_next) {
    e->stop_next = false;
    if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
    U.emu_stop(uc);
  }
}

/*
 * RDMSR/WRMSR, which Unicorn 2.1 cannot hook: a code hook over every address
 * that looks at 2- and 3-byte instructions (0F 32 / 0F 30, with at most one
 * prefix) and calls the msr handler (1 = write) before the instruction runs.
 * Installed only while MSR exit filters are on: the cost model of KVM's MSR filter.
 */
static void hook_msr_scan(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (e->stop_next) {
    e->stop_next = false;
    if (e->stop_kind == STOP_NONE) e->stop_kind = STOP_REQUESTED;
    U.emu_stop(uc);
    return;
  }
  if (size != 2 && size != 3) return;
  uint8_t b[3];
  if (U.vmem_read(uc, address, UC_PROT_EXEC, b, size) != UC_ERR_OK) return;
  const uint8_t *op = b + size - 2;
  if (op[0] != 0x0f || (op[1] != 0x30 && op[1] != 0x32)) return;
  napi_handle_scope scope;
  napi_open_handle_scope(e->env, &scope);
  napi_value argv[1] = {num(e->env, op[1] == 0x30 ? 1 : 0)}, r;
  call_js(e, e->on_msr, 1, argv, &r);
  napi_close_handle_scope(e->env, scope);
}

/*
 * A block hook over every address: where kicks take effect. Unicorn stores
 * the guest's rip at the start of every translation block it hooks, and a
 * stop asked for here, on the engine's own thread at a block boundary, leaves
 * rip exactly at the next instruction to run. A uc_emu_stop from another
 * thread does not: the run can return with rip where an earlier block left
 * it, so instructions since then run again (measured: `lock xadd` counted
 * twice in test/guests/smp-xadd.S). So ucKick only sets `kicked`, and this
 * hook turns it into a stop.
 */
static void hook_block_kick(uc_engine *uc, uint64_t address, uint32_t size, void *user) {
  engine *e = user;
  if (atomic_load_explicit(&e->kicked, memory_order_relaxed)) {
    U.emu_stop(uc);
    return;
  }
  /* A device timer is due: stop here as for a kick (same boundary, same exactness). */
  if (e->deadline_ns && (++e->blocks & (DEADLINE_BLOCKS - 1)) == 0 && monotonic_ns() >= e->deadline_ns) {
    atomic_store_explicit(&e->kicked, 1, memory_order_relaxed);
    U.emu_stop(uc);
  }
}

/*
 * A data watchpoint (a memory hook over its bytes): stop after the accessing
 * instruction. Not with uc_emu_stop here: that leaves rip on the instruction,
 * which has already run, so it would run again on resume. The code hook over
 * every address (on while watchpoints are set) stops before the next one.
 */
static void hook_watch(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user) {
  engine *e = user;
  if (e->stop_kind != STOP_NONE) return;
  e->stop_kind = type == UC_MEM_WRITE ? STOP_WATCH_WRITE : STOP_WATCH_READ;
  e->stop_addr = address;
  e->stop_data = (uint64_t)size;
  e->stop_next = true;
}

/* ------------------------------------------------------ installing hooks */

/* ucMmioMap(id, gpa, size): accesses call the engine's mmio handler synchronously. */
napi_value ucMmioMap(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE(0);
  uint64_t gpa, size;
  get_u64(env, argv[1], &gpa);
  get_u64(env, argv[2], &size);
  /* Lives as long as the process: Unicorn keeps the pointer until uc_close, and ranges are few. */
  mmio_range *m = malloc(sizeof *m);
  m->e = e;
  m->base = gpa;
  UC(U.mmio_map(e->uc, gpa, size, mmio_read, m, mmio_write, m), "uc_mmio_map");
  return js_undefined(env);
}

/*
 * ucSetHandlers(id, {io, mmio, intr, invalid, cpuid, msr, syscall}, portsHva, countsHva, fastHva):
 * installs the hooks, bound to the calling thread, which must be the one that
 * runs the engine. The three addresses are host memory the runner mapped:
 * 65536 policy bytes, 4*65536 u32 counters, one u64.
 */
napi_value ucSetHandlers(napi_env env, napi_callback_info info) {
  ARGS(5);
  ENGINE(0);
  e->env = env;
  const char *names[] = {"io", "mmio", "intr", "invalid", "cpuid", "msr", "syscall"};
  napi_ref *refs[] = {&e->on_io, &e->on_mmio, &e->on_intr, &e->on_invalid, &e->on_cpuid, &e->on_msr, &e->on_syscall};
  for (int i = 0; i < 7; i++) {
    napi_value fn;
    CHECK_NAPI(napi_get_named_property(env, argv[1], names[i], &fn));
    drop_ref(env, refs[i]);
    CHECK_NAPI(napi_create_reference(env, fn, 1, refs[i]));
  }
  uint64_t ports, counts, fast;
  get_u64(env, argv[2], &ports);
  get_u64(env, argv[3], &counts);
  get_u64(env, argv[4], &fast);
  /* Safe: runner-owned mappings that outlive the engine (see struct engine). */
  e->ports = (const uint8_t *)(uintptr_t)ports;
  e->port_counts = (uint32_t *)(uintptr_t)counts;
  e->fast_io = (uint64_t *)(uintptr_t)fast;
  for (int i = 0; i < e->nhooks; i++) U.hook_del(e->uc, e->hooks[i]);
  e->nhooks = 0;
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_in, e, 1, 0, UC_X86_INS_IN), "uc_hook_add(IN)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_out, e, 1, 0, UC_X86_INS_OUT), "uc_hook_add(OUT)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_cpuid, e, 1, 0, UC_X86_INS_CPUID), "uc_hook_add(CPUID)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN, (void *)hook_syscall, e, 1, 0, UC_X86_INS_SYSCALL), "uc_hook_add(SYSCALL)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INTR, (void *)hook_intr, e, 1, 0), "uc_hook_add(INTR)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_INSN_INVALID, (void *)hook_invalid, e, 1, 0), "uc_hook_add(INSN_INVALID)");
  UC(U.hook_add(e->uc, &e->hooks[e->nhooks++], UC_HOOK_BLOCK, (void *)hook_block_kick, e, 1, 0), "uc_hook_add(BLOCK)");
  return js_undefined(env);
}

/* ucHookBreakpoint(id, addr) -> hook: a code hook over exactly [addr, addr]. */
napi_value ucHookBreakpoint(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t addr;
  get_u64(env, argv[1], &addr);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_breakpoint, e, addr, addr), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookPrecise(id) -> hook: a do-nothing code hook over every address (see hook_precise). */
napi_value ucHookPrecise(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_precise, e, 1, 0), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookMsr(id) -> hook: the RDMSR/WRMSR scan over every address (see hook_msr_scan). */
napi_value ucHookMsr(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE(0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, UC_HOOK_CODE, (void *)hook_msr_scan, e, 1, 0), "uc_hook_add(CODE)");
  return big(env, h);
}

/* ucHookWatch(id, addr, len, write, read) -> hook: memory hooks over [addr, addr+len). */
napi_value ucHookWatch(napi_env env, napi_callback_info info) {
  ARGS(5);
  ENGINE(0);
  uint64_t addr, len;
  bool w, r;
  get_u64(env, argv[1], &addr);
  get_u64(env, argv[2], &len);
  napi_get_value_bool(env, argv[3], &w);
  napi_get_value_bool(env, argv[4], &r);
  int type = (w ? UC_HOOK_MEM_WRITE : 0) | (r ? UC_HOOK_MEM_READ : 0);
  uc_hook h;
  UC(U.hook_add(e->uc, &h, type, (void *)hook_watch, e, addr, addr + len - 1), "uc_hook_add(MEM)");
  return big(env, h);
}

napi_value ucHookDel(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  uint64_t h;
  get_u64(env, argv[1], &h);
  UC(U.hook_del(e->uc, (uc_hook)h), "uc_hook_del");
  return js_undefined(env);
}

/* ucSkipOnce(id, addr): the breakpoint hook at addr lets the next execution of it pass. */
napi_value ucSkipOnce(napi_env env, napi_callback_info info) {
  ARGS(2);
  ENGINE(0);
  get_u64(env, argv[1], &e->skip_addr);
  e->skip_armed = true;
  return js_undefined(env);
}
