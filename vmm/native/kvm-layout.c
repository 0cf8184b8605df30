/*
 * What vmscope's KVM binding exports besides functions: the layouts of the
 * structs the ioctls carry (offsetof and sizeof against <linux/kvm.h>, read by
 * vmm/kvm/structs.ts) and the kernel's constants. Shared declarations:
 * kvm-internal.h.
 */
#include "kvm-internal.h"

/* -------------------------------------------------- layouts and constants */

static void set_num(napi_env env, napi_value obj, const char *key, int64_t v) {
  napi_set_named_property(env, obj, key, make_int(env, v));
}

#define OFF(obj, type, field) set_num(env, obj, #field, offsetof(type, field))

napi_value build_layout(napi_env env) {
  napi_value layout, run, sizes;
  napi_create_object(env, &layout);
  napi_create_object(env, &run);
  napi_create_object(env, &sizes);

  set_num(env, sizes, "kvm_run", sizeof(struct kvm_run));
  set_num(env, sizes, "kvm_regs", sizeof(struct kvm_regs));
  set_num(env, sizes, "kvm_sregs", sizeof(struct kvm_sregs));
  set_num(env, sizes, "kvm_segment", sizeof(struct kvm_segment));
  set_num(env, sizes, "kvm_dtable", sizeof(struct kvm_dtable));
  set_num(env, sizes, "kvm_msrs", sizeof(struct kvm_msrs));
  set_num(env, sizes, "kvm_msr_entry", sizeof(struct kvm_msr_entry));
  set_num(env, sizes, "kvm_msr_list", sizeof(struct kvm_msr_list));
  set_num(env, sizes, "kvm_fpu", sizeof(struct kvm_fpu));
  set_num(env, sizes, "kvm_xsave", sizeof(struct kvm_xsave));
  set_num(env, sizes, "kvm_vcpu_events", sizeof(struct kvm_vcpu_events));
  set_num(env, sizes, "kvm_debugregs", sizeof(struct kvm_debugregs));
  set_num(env, sizes, "kvm_cpuid2", sizeof(struct kvm_cpuid2));
  set_num(env, sizes, "kvm_cpuid_entry2", sizeof(struct kvm_cpuid_entry2));
  set_num(env, sizes, "kvm_guest_debug", sizeof(struct kvm_guest_debug));
  set_num(env, sizes, "kvm_translation", sizeof(struct kvm_translation));
  set_num(env, sizes, "kvm_userspace_memory_region", sizeof(struct kvm_userspace_memory_region));
  set_num(env, sizes, "kvm_mp_state", sizeof(struct kvm_mp_state));
  set_num(env, sizes, "kvm_nested_state", sizeof(struct kvm_nested_state));
  set_num(env, sizes, "kvm_enable_cap", sizeof(struct kvm_enable_cap));

  napi_set_named_property(env, layout, "sizes", sizes);

  set_num(env, run, "immediate_exit", offsetof(struct kvm_run, immediate_exit));
  set_num(env, run, "exit_reason", offsetof(struct kvm_run, exit_reason));
  set_num(env, run, "if_flag", offsetof(struct kvm_run, if_flag));
  set_num(env, run, "ready_for_interrupt_injection", offsetof(struct kvm_run, ready_for_interrupt_injection));
  set_num(env, run, "request_interrupt_window", offsetof(struct kvm_run, request_interrupt_window));
  set_num(env, run, "cr8", offsetof(struct kvm_run, cr8));
  set_num(env, run, "apic_base", offsetof(struct kvm_run, apic_base));
  set_num(env, run, "io_direction", offsetof(struct kvm_run, io.direction));
  set_num(env, run, "io_size", offsetof(struct kvm_run, io.size));
  set_num(env, run, "io_port", offsetof(struct kvm_run, io.port));
  set_num(env, run, "io_count", offsetof(struct kvm_run, io.count));
  set_num(env, run, "io_data_offset", offsetof(struct kvm_run, io.data_offset));
  set_num(env, run, "mmio_phys_addr", offsetof(struct kvm_run, mmio.phys_addr));
  set_num(env, run, "mmio_data", offsetof(struct kvm_run, mmio.data));
  set_num(env, run, "mmio_len", offsetof(struct kvm_run, mmio.len));
  set_num(env, run, "mmio_is_write", offsetof(struct kvm_run, mmio.is_write));
  set_num(env, run, "fail_entry_reason", offsetof(struct kvm_run, fail_entry.hardware_entry_failure_reason));
  set_num(env, run, "fail_entry_cpu", offsetof(struct kvm_run, fail_entry.cpu));
  set_num(env, run, "internal_suberror", offsetof(struct kvm_run, internal.suberror));
  set_num(env, run, "internal_ndata", offsetof(struct kvm_run, internal.ndata));
  set_num(env, run, "internal_data", offsetof(struct kvm_run, internal.data));
  set_num(env, run, "debug_exception", offsetof(struct kvm_run, debug.arch.exception));
  set_num(env, run, "debug_pc", offsetof(struct kvm_run, debug.arch.pc));
  set_num(env, run, "debug_dr6", offsetof(struct kvm_run, debug.arch.dr6));
  set_num(env, run, "debug_dr7", offsetof(struct kvm_run, debug.arch.dr7));
  set_num(env, run, "system_event_type", offsetof(struct kvm_run, system_event.type));
  set_num(env, run, "system_event_ndata", offsetof(struct kvm_run, system_event.ndata));
  set_num(env, run, "system_event_data", offsetof(struct kvm_run, system_event.data));
  set_num(env, run, "hypercall_nr", offsetof(struct kvm_run, hypercall.nr));
  set_num(env, run, "hypercall_args", offsetof(struct kvm_run, hypercall.args));
  set_num(env, run, "hypercall_ret", offsetof(struct kvm_run, hypercall.ret));
  set_num(env, run, "msr_error", offsetof(struct kvm_run, msr.error));
  set_num(env, run, "msr_reason", offsetof(struct kvm_run, msr.reason));
  set_num(env, run, "msr_index", offsetof(struct kvm_run, msr.index));
  set_num(env, run, "msr_data", offsetof(struct kvm_run, msr.data));
  set_num(env, run, "kvm_valid_regs", offsetof(struct kvm_run, kvm_valid_regs));
  set_num(env, run, "kvm_dirty_regs", offsetof(struct kvm_run, kvm_dirty_regs));
  set_num(env, run, "sync_regs", offsetof(struct kvm_run, s.regs.regs));
  set_num(env, run, "sync_rip", offsetof(struct kvm_run, s.regs.regs.rip));
  napi_set_named_property(env, layout, "kvm_run", run);

  napi_value sregs, seg, dt, fpu, dbg, tr, cpuid, ev, gd;
  napi_create_object(env, &sregs);
  OFF(sregs, struct kvm_sregs, cs); OFF(sregs, struct kvm_sregs, ds);
  OFF(sregs, struct kvm_sregs, es); OFF(sregs, struct kvm_sregs, fs);
  OFF(sregs, struct kvm_sregs, gs); OFF(sregs, struct kvm_sregs, ss);
  OFF(sregs, struct kvm_sregs, tr); OFF(sregs, struct kvm_sregs, ldt);
  OFF(sregs, struct kvm_sregs, gdt); OFF(sregs, struct kvm_sregs, idt);
  OFF(sregs, struct kvm_sregs, cr0); OFF(sregs, struct kvm_sregs, cr2);
  OFF(sregs, struct kvm_sregs, cr3); OFF(sregs, struct kvm_sregs, cr4);
  OFF(sregs, struct kvm_sregs, cr8); OFF(sregs, struct kvm_sregs, efer);
  OFF(sregs, struct kvm_sregs, apic_base); OFF(sregs, struct kvm_sregs, interrupt_bitmap);
  napi_set_named_property(env, layout, "kvm_sregs", sregs);

  napi_create_object(env, &seg);
  OFF(seg, struct kvm_segment, base); OFF(seg, struct kvm_segment, limit);
  OFF(seg, struct kvm_segment, selector); OFF(seg, struct kvm_segment, type);
  OFF(seg, struct kvm_segment, present); OFF(seg, struct kvm_segment, dpl);
  OFF(seg, struct kvm_segment, db); OFF(seg, struct kvm_segment, s);
  OFF(seg, struct kvm_segment, l); OFF(seg, struct kvm_segment, g);
  OFF(seg, struct kvm_segment, avl); OFF(seg, struct kvm_segment, unusable);
  napi_set_named_property(env, layout, "kvm_segment", seg);

  napi_create_object(env, &dt);
  OFF(dt, struct kvm_dtable, base); OFF(dt, struct kvm_dtable, limit);
  napi_set_named_property(env, layout, "kvm_dtable", dt);

  napi_create_object(env, &fpu);
  OFF(fpu, struct kvm_fpu, fpr); OFF(fpu, struct kvm_fpu, fcw); OFF(fpu, struct kvm_fpu, fsw);
  OFF(fpu, struct kvm_fpu, ftwx); OFF(fpu, struct kvm_fpu, last_opcode);
  OFF(fpu, struct kvm_fpu, last_ip); OFF(fpu, struct kvm_fpu, last_dp);
  OFF(fpu, struct kvm_fpu, xmm); OFF(fpu, struct kvm_fpu, mxcsr);
  napi_set_named_property(env, layout, "kvm_fpu", fpu);

  napi_create_object(env, &dbg);
  OFF(dbg, struct kvm_debugregs, db); OFF(dbg, struct kvm_debugregs, dr6);
  OFF(dbg, struct kvm_debugregs, dr7); OFF(dbg, struct kvm_debugregs, flags);
  napi_set_named_property(env, layout, "kvm_debugregs", dbg);

  napi_create_object(env, &tr);
  OFF(tr, struct kvm_translation, linear_address); OFF(tr, struct kvm_translation, physical_address);
  OFF(tr, struct kvm_translation, valid); OFF(tr, struct kvm_translation, writeable);
  OFF(tr, struct kvm_translation, usermode);
  napi_set_named_property(env, layout, "kvm_translation", tr);

  napi_create_object(env, &cpuid);
  OFF(cpuid, struct kvm_cpuid_entry2, function); OFF(cpuid, struct kvm_cpuid_entry2, index);
  OFF(cpuid, struct kvm_cpuid_entry2, flags); OFF(cpuid, struct kvm_cpuid_entry2, eax);
  OFF(cpuid, struct kvm_cpuid_entry2, ebx); OFF(cpuid, struct kvm_cpuid_entry2, ecx);
  OFF(cpuid, struct kvm_cpuid_entry2, edx);
  napi_set_named_property(env, layout, "kvm_cpuid_entry2", cpuid);

  napi_create_object(env, &ev);
  set_num(env, ev, "exception_injected", offsetof(struct kvm_vcpu_events, exception.injected));
  set_num(env, ev, "exception_nr", offsetof(struct kvm_vcpu_events, exception.nr));
  set_num(env, ev, "exception_has_error_code", offsetof(struct kvm_vcpu_events, exception.has_error_code));
  set_num(env, ev, "exception_pending", offsetof(struct kvm_vcpu_events, exception.pending));
  set_num(env, ev, "exception_error_code", offsetof(struct kvm_vcpu_events, exception.error_code));
  set_num(env, ev, "interrupt_injected", offsetof(struct kvm_vcpu_events, interrupt.injected));
  set_num(env, ev, "interrupt_nr", offsetof(struct kvm_vcpu_events, interrupt.nr));
  set_num(env, ev, "interrupt_shadow", offsetof(struct kvm_vcpu_events, interrupt.shadow));
  set_num(env, ev, "nmi_injected", offsetof(struct kvm_vcpu_events, nmi.injected));
  set_num(env, ev, "nmi_pending", offsetof(struct kvm_vcpu_events, nmi.pending));
  set_num(env, ev, "nmi_masked", offsetof(struct kvm_vcpu_events, nmi.masked));
  set_num(env, ev, "sipi_vector", offsetof(struct kvm_vcpu_events, sipi_vector));
  set_num(env, ev, "flags", offsetof(struct kvm_vcpu_events, flags));
  napi_set_named_property(env, layout, "kvm_vcpu_events", ev);

  napi_create_object(env, &gd);
  OFF(gd, struct kvm_guest_debug, control);
  set_num(env, gd, "debugreg", offsetof(struct kvm_guest_debug, arch.debugreg));
  napi_set_named_property(env, layout, "kvm_guest_debug", gd);

  napi_value mr;
  napi_create_object(env, &mr);
  OFF(mr, struct kvm_userspace_memory_region, slot);
  OFF(mr, struct kvm_userspace_memory_region, flags);
  OFF(mr, struct kvm_userspace_memory_region, guest_phys_addr);
  OFF(mr, struct kvm_userspace_memory_region, memory_size);
  OFF(mr, struct kvm_userspace_memory_region, userspace_addr);
  napi_set_named_property(env, layout, "kvm_userspace_memory_region", mr);
  return layout;
}

/* Values from <linux/kvm.h>, exported so tests can check TypeScript's tables. */
napi_value build_constants(napi_env env) {
  napi_value c;
  napi_create_object(env, &c);
#define K(name) set_num(env, c, #name, name)
  K(KVM_API_VERSION);
  K(KVM_EXIT_UNKNOWN); K(KVM_EXIT_EXCEPTION); K(KVM_EXIT_IO); K(KVM_EXIT_HYPERCALL);
  K(KVM_EXIT_DEBUG); K(KVM_EXIT_HLT); K(KVM_EXIT_MMIO); K(KVM_EXIT_IRQ_WINDOW_OPEN);
  K(KVM_EXIT_SHUTDOWN); K(KVM_EXIT_FAIL_ENTRY); K(KVM_EXIT_INTR); K(KVM_EXIT_SET_TPR);
  K(KVM_EXIT_TPR_ACCESS); K(KVM_EXIT_NMI); K(KVM_EXIT_INTERNAL_ERROR); K(KVM_EXIT_OSI);
  K(KVM_EXIT_SYSTEM_EVENT); K(KVM_EXIT_IOAPIC_EOI); K(KVM_EXIT_X86_RDMSR);
  K(KVM_EXIT_X86_WRMSR); K(KVM_EXIT_DIRTY_RING_FULL); K(KVM_EXIT_AP_RESET_HOLD);
  K(KVM_EXIT_X86_BUS_LOCK); K(KVM_EXIT_NOTIFY);
  K(KVM_EXIT_IO_IN); K(KVM_EXIT_IO_OUT);
  K(KVM_INTERNAL_ERROR_EMULATION); K(KVM_INTERNAL_ERROR_SIMUL_EX);
  K(KVM_INTERNAL_ERROR_DELIVERY_EV);
  K(KVM_SYSTEM_EVENT_SHUTDOWN); K(KVM_SYSTEM_EVENT_RESET); K(KVM_SYSTEM_EVENT_CRASH);
  K(KVM_GUESTDBG_ENABLE); K(KVM_GUESTDBG_SINGLESTEP); K(KVM_GUESTDBG_USE_SW_BP);
  K(KVM_GUESTDBG_USE_HW_BP); K(KVM_GUESTDBG_INJECT_DB); K(KVM_GUESTDBG_INJECT_BP);
  K(KVM_MEM_READONLY); K(KVM_MEM_LOG_DIRTY_PAGES);
  K(KVM_SYNC_X86_REGS); K(KVM_SYNC_X86_SREGS); K(KVM_SYNC_X86_EVENTS);
  K(KVM_MSR_EXIT_REASON_INVAL); K(KVM_MSR_EXIT_REASON_UNKNOWN); K(KVM_MSR_EXIT_REASON_FILTER);
  K(KVM_MSR_FILTER_DEFAULT_ALLOW); K(KVM_MSR_FILTER_DEFAULT_DENY);
  K(KVM_MP_STATE_RUNNABLE); K(KVM_MP_STATE_UNINITIALIZED); K(KVM_MP_STATE_HALTED);
  K(KVM_CAP_IRQCHIP); K(KVM_CAP_HLT); K(KVM_CAP_USER_MEMORY); K(KVM_CAP_SET_TSS_ADDR);
  K(KVM_CAP_EXT_CPUID); K(KVM_CAP_NR_VCPUS); K(KVM_CAP_NR_MEMSLOTS); K(KVM_CAP_MAX_VCPUS);
  K(KVM_CAP_SET_GUEST_DEBUG); K(KVM_CAP_SET_IDENTITY_MAP_ADDR); K(KVM_CAP_VCPU_EVENTS);
  K(KVM_CAP_DEBUGREGS); K(KVM_CAP_XSAVE); K(KVM_CAP_XCRS); K(KVM_CAP_READONLY_MEM);
  K(KVM_CAP_IMMEDIATE_EXIT); K(KVM_CAP_NESTED_STATE); K(KVM_CAP_EXIT_HYPERCALL);
  K(KVM_CAP_X86_USER_SPACE_MSR); K(KVM_CAP_X86_MSR_FILTER); K(KVM_CAP_SYNC_REGS);
  K(KVM_CAP_GET_MSR_FEATURES); K(KVM_CAP_MAX_VCPU_ID); K(KVM_CAP_TSC_CONTROL);
  K(KVM_CAP_X86_DISABLE_EXITS); K(KVM_CAP_XSAVE2); K(KVM_CAP_GUEST_DEBUG_HW_BPS);
#undef K
  set_num(env, c, "KICK_SIGNAL", KICK_SIGNAL);
  return c;
}
