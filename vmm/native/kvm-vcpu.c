/*
 * vmscope's KVM binding, the vCPU fds: state ioctls (registers, MSRs, FPU,
 * events, debug registers, CPUID, guest debug, translation, interrupts), the
 * kvm_run page, KVM_RUN itself, and kicking a vCPU out of it from another
 * thread. Shared declarations: kvm-internal.h.
 */
#include "kvm-internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <time.h>

/* ------------------------------------------------- kick signal and vCPUs */

/*
 * kick(): a vCPU spinning in guest mode with no exits never returns from
 * KVM_RUN on its own. We set kvm_run.immediate_exit (covers the window before
 * the thread enters KVM_RUN) and send a signal with a no-op handler installed
 * without SA_RESTART (covers a thread already inside it: KVM_RUN returns
 * EINTR). A real-time signal is used because Node reserves SIGUSR1 for the
 * inspector. KICK_SIGNAL itself is in kvm-internal.h: `constants` exports it.
 */
#define MAX_VCPU_FD 4096

struct vcpu_slot {
  struct kvm_run *run; /* mmap'd by map_run, unmapped by unmap_run */
  size_t run_size;
  pthread_t thread;    /* thread currently calling run(), valid while in_run */
  int in_run;          /* accessed with __atomic builtins */
};

static struct vcpu_slot slots[MAX_VCPU_FD];
/* Guards slot.run/run_size/thread changes against a concurrent kick(). */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t signal_once = PTHREAD_ONCE_INIT;

static void kick_handler(int sig) { (void)sig; }

static void install_kick_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = kick_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
  sigaction(KICK_SIGNAL, &sa, NULL);
}

static struct vcpu_slot *slot_for(napi_env env, int fd) {
  if (fd < 0 || fd >= MAX_VCPU_FD) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "vCPU fd out of range");
    return NULL;
  }
  return &slots[fd];
}

/* ------------------------------------------------------------ vCPU state */

IOCTL_BUF(n_get_regs, KVM_GET_REGS, struct kvm_regs, FIXED)
IOCTL_BUF(n_set_regs, KVM_SET_REGS, struct kvm_regs, FIXED)
IOCTL_BUF(n_get_sregs, KVM_GET_SREGS, struct kvm_sregs, FIXED)
IOCTL_BUF(n_set_sregs, KVM_SET_SREGS, struct kvm_sregs, FIXED)
IOCTL_BUF(n_get_msrs, KVM_GET_MSRS, struct kvm_msrs, VAR_MSRS)
IOCTL_BUF(n_set_msrs, KVM_SET_MSRS, struct kvm_msrs, VAR_MSRS)
IOCTL_BUF(n_get_fpu, KVM_GET_FPU, struct kvm_fpu, FIXED)
IOCTL_BUF(n_set_fpu, KVM_SET_FPU, struct kvm_fpu, FIXED)
IOCTL_BUF(n_get_xsave, KVM_GET_XSAVE, struct kvm_xsave, FIXED)
IOCTL_BUF(n_set_xsave, KVM_SET_XSAVE, struct kvm_xsave, FIXED)
IOCTL_BUF(n_get_vcpu_events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events, FIXED)
IOCTL_BUF(n_set_vcpu_events, KVM_SET_VCPU_EVENTS, struct kvm_vcpu_events, FIXED)
IOCTL_BUF(n_get_debugregs, KVM_GET_DEBUGREGS, struct kvm_debugregs, FIXED)
IOCTL_BUF(n_set_debugregs, KVM_SET_DEBUGREGS, struct kvm_debugregs, FIXED)
IOCTL_BUF(n_set_cpuid2, KVM_SET_CPUID2, struct kvm_cpuid2, VAR_CPUID)
IOCTL_BUF(n_set_guest_debug, KVM_SET_GUEST_DEBUG, struct kvm_guest_debug, FIXED)
IOCTL_BUF(n_translate, KVM_TRANSLATE, struct kvm_translation, FIXED)
IOCTL_BUF(n_interrupt, KVM_INTERRUPT, struct kvm_interrupt, FIXED)
IOCTL_BUF(n_get_mp_state, KVM_GET_MP_STATE, struct kvm_mp_state, FIXED)
IOCTL_BUF(n_set_mp_state, KVM_SET_MP_STATE, struct kvm_mp_state, FIXED)
/* The caller sets kvm_nested_state.size to the buffer's length (header + data). */
IOCTL_BUF(n_get_nested_state, KVM_GET_NESTED_STATE, struct kvm_nested_state, FIXED)

/* --------------------------------------------------------- vCPU run state */

/*
 * Maps the vCPU's kvm_run page once and returns a view of it. Each thread
 * that needs one (the vCPU worker, the main thread) calls this; the mapping
 * is shared and lives until unmapRun.
 */
napi_value n_map_run(napi_env env, napi_callback_info info) {
  ARGS(2);
  ARG_FD(0, fd);
  int32_t size;
  if (!arg_i32(env, argv[1], &size) || size < (int32_t)sizeof(struct kvm_run)) {
    napi_throw_range_error(env, "EVMSCOPE_ARGS", "bad kvm_run mmap size");
    return NULL;
  }
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_mutex_lock(&slots_lock);
  if (!s->run) {
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      pthread_mutex_unlock(&slots_lock);
      return throw_errno(env, err, "mmap(kvm_run)");
    }
    s->run = p;
    s->run_size = (size_t)size;
  }
  struct kvm_run *run = s->run;
  pthread_mutex_unlock(&slots_lock);
  return external_view(env, run, (size_t)size);
}

/* Same lifetime contract as guest memory: call only after the vCPU thread stopped. */
napi_value n_unmap_run(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_mutex_lock(&slots_lock);
  if (s->run) munmap(s->run, s->run_size);
  s->run = NULL;
  s->run_size = 0;
  __atomic_store_n(&s->in_run, 0, __ATOMIC_SEQ_CST);
  pthread_mutex_unlock(&slots_lock);
  return js_undefined(env);
}

/*
 * KVM_RUN on the calling thread, synchronously. Returns 0, or -errno for
 * EINTR/EAGAIN (a kick) so the hot loop does not pay for an exception; other
 * errors throw. The caller reads the exit from its kvm_run view.
 */
napi_value n_run(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  if (!__atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE) ||
      !pthread_equal(s->thread, pthread_self())) {
    /* First run on this thread: make sure the kick signal can reach it. */
    pthread_once(&signal_once, install_kick_handler);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_mutex_lock(&slots_lock);
    s->thread = pthread_self();
    __atomic_store_n(&s->in_run, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_lock);
  }
  int r = ioctl(fd, KVM_RUN, 0);
  if (r < 0) {
    int err = errno;
    if (err == EINTR || err == EAGAIN) return make_int(env, -err);
    return throw_errno(env, err, "KVM_RUN");
  }
  return make_int(env, 0);
}

/*
 * Forces the vCPU out of KVM_RUN as soon as possible, from any thread.
 * The thread registered by run() stays alive until the runner calls
 * unmapRun (which clears in_run under the lock), so pthread_kill never
 * targets an exited thread.
 */
napi_value n_kick(napi_env env, napi_callback_info info) {
  ARGS(1);
  ARG_FD(0, fd);
  struct vcpu_slot *s = slot_for(env, fd);
  if (!s) return NULL;
  pthread_once(&signal_once, install_kick_handler);
  pthread_mutex_lock(&slots_lock);
  int sent = 0;
  if (s->run) {
    __atomic_store_n(&s->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->in_run, __ATOMIC_ACQUIRE)) {
      pthread_kill(s->thread, KICK_SIGNAL);
      sent = 1;
    }
  }
  pthread_mutex_unlock(&slots_lock);
  napi_value out;
  napi_get_boolean(env, sent, &out);
  return out;
}

/*
 * setDeadline(ns): the calling vCPU thread's device-timer deadline, as an
 * absolute CLOCK_MONOTONIC time in ns (0: none). A POSIX timer aimed at this
 * thread (SIGEV_THREAD_ID) sends the kick signal then, so KVM_RUN returns
 * EINTR as for a kick and the loop runs the device timers. It repeats every
 * millisecond after the deadline until re-armed, because a signal that lands
 * just before KVM_RUN is entered is otherwise lost. One timer per thread,
 * created on first use, lives as long as the thread.
 */
static __thread timer_t deadline_timer;
static __thread int deadline_timer_ok;

napi_value n_set_deadline(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t ns;
  if (napi_get_value_int64(env, argv[0], &ns) != napi_ok) return throw_errno(env, EINVAL, "setDeadline");
  if (!deadline_timer_ok) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = KICK_SIGNAL;
    sev._sigev_un._tid = gettid();
    pthread_once(&signal_once, install_kick_handler);
    if (timer_create(CLOCK_MONOTONIC, &sev, &deadline_timer) != 0) return throw_errno(env, errno, "timer_create");
    deadline_timer_ok = 1;
  }
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (ns > 0) {
    its.it_value.tv_sec = ns / 1000000000;
    its.it_value.tv_nsec = ns % 1000000000;
    its.it_interval.tv_nsec = 1000000;
  }
  if (timer_settime(deadline_timer, TIMER_ABSTIME, &its, NULL) != 0) return throw_errno(env, errno, "timer_settime");
  return js_undefined(env);
}
