/*
 * exceptions: exception and interrupt delivery through the guest's own IDT,
 * the same test for every backend (KVM delivers in hardware, the emulator by
 * hand in vmm/emu/deliver.ts). The guest installs its own page tables, GDT,
 * 64-bit TSS (RSP0, IST1) and IDT, then raises #DE (on IST1), #BP, #UD, #GP
 * and #PF at ring 0, and #BP, int 0x80, #GP (cli; int through a DPL-0 gate)
 * and #PF at ring 3. Every event is checked against an expectation (vector,
 * error code, CR2, saved RIP and CS, where the frame landed, SS on a ring
 * change), reported over COM1 as `ok ...` or `FAIL ...`, and resumed with
 * iretq. Exit status 0 when all pass, else the number of the first failed
 * check (1-12; 13: the count at the end is wrong).
 */

#include "guest.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x23		/* GDT entry 4, RPL 3 */
#define USER_CS 0x2b		/* GDT entry 5, RPL 3 */
#define TSS_SEL 0x30

#define NO_ERR -1		/* expect_err: the vector pushes no error code */
#define ST_KSTACK 0		/* expect_stack: the frame on the running ring-0 stack */
#define ST_IST1 1		/* ... exactly at the top of the IST1 stack */
#define ST_RSP0 2		/* ... exactly at the top of the RSP0 stack */

#define SYS_CHECK 1		/* int 0x80 codes in RAX */
#define SYS_DONE 0xd0e
#define SYS_FAIL 0xfa1

#define PF_ADDR 0x40000000	/* PDPT[1] is not present: 1-2 GiB is unmapped */
#define SUPER_ADDR 0x400000	/* PD[2] (4-6 MiB) lacks U/S */
#define NUM_CHECKS 12

/* Sets what the next event must look like, from ring 0 or ring 3 (the low 2 MiB is user-writable). Clobbers RAX. */
.macro EXPECT num, name, vec, err, cr2, at, resume, cs, stack
	movq	$\num, test_no(%rip)
	leaq	\name(%rip), %rax
	movq	%rax, expect_name(%rip)
	movq	$\vec, expect_vec(%rip)
	movq	$\err, expect_err(%rip)
	movq	$\cr2, expect_cr2(%rip)
	leaq	\at(%rip), %rax		/* the saved RIP: the faulting instruction, or the one after a trap */
	movq	%rax, expect_rip(%rip)
	leaq	\resume(%rip), %rax	/* where the handler sends iretq */
	movq	%rax, expect_resume(%rip)
	movq	$\cs, expect_cs(%rip)
	movq	$\stack, expect_stack(%rip)
	movq	$0, handled(%rip)
.endm

/* After an event at ring 0: the handler must have run. */
.macro HANDLED
	cmpq	$1, handled(%rip)
	jne	not_handled
.endm

/* The same at ring 3, which cannot reach the exit port: it asks the int 0x80 handler to fail. */
.macro USER_HANDLED
	cmpq	$1, handled(%rip)
	je	98f
	movl	$SYS_FAIL, %eax
	int	$0x80
98:
.endm

	.code64
	ENTRY_START
	leaq	kstack_top(%rip), %rsp
	leaq	s_start(%rip), %rsi
	call	serial_puts

	/* Page tables: 1 GiB identity-mapped with 2 MiB user pages, except PD[2] (supervisor only). */
	leaq	pdpt(%rip), %rax
	orq	$7, %rax
	movq	%rax, pml4(%rip)
	leaq	pd(%rip), %rax
	orq	$7, %rax
	movq	%rax, pdpt(%rip)
	leaq	pd(%rip), %rdi
	movl	$0x87, %eax		/* P | RW | U/S | PS */
	movl	$512, %ecx
1:	movq	%rax, (%rdi)
	addq	$0x200000, %rax
	addq	$8, %rdi
	decl	%ecx
	jnz	1b
	andq	$~4, pd + 8 * (SUPER_ADDR >> 21)(%rip)
	leaq	pml4(%rip), %rax
	movq	%rax, %cr3
	/* Ring 0 touches the user-accessible low 2 MiB: SMEP and SMAP must be off. */
	movq	%cr4, %rax
	andq	$~(3 << 20), %rax
	movq	%rax, %cr4

	/* TSS: RSP0, IST1, no I/O bitmap; its 16-byte descriptor needs the address split up. */
	leaq	rsp0_top(%rip), %rax
	movq	%rax, tss + 4(%rip)
	leaq	ist1_top(%rip), %rax
	movq	%rax, tss + 0x24(%rip)
	movw	$104, tss + 0x66(%rip)
	leaq	tss(%rip), %rax
	movl	%eax, %edx
	andl	$0xffffff, %edx		/* base 23:0 -> bits 39:16 */
	shlq	$16, %rdx
	orq	$103, %rdx		/* limit */
	movq	%rax, %rcx
	shrq	$24, %rcx
	andl	$0xff, %ecx		/* base 31:24 -> bits 63:56 */
	shlq	$56, %rcx
	orq	%rcx, %rdx
	movabsq	$0x0000890000000000, %rcx	/* present, DPL 0, 64-bit TSS (available) */
	orq	%rcx, %rdx
	movq	%rdx, gdt + TSS_SEL(%rip)
	shrq	$32, %rax
	movq	%rax, gdt + TSS_SEL + 8(%rip)

	/* IDT from the `gates` table the GATE macro fills: 16-byte interrupt gates to KERNEL_CS. */
	leaq	gates(%rip), %rsi
	leaq	gates_end(%rip), %r8
	leaq	idt(%rip), %r9
2:	movq	(%rsi), %rax		/* handler */
	movzwl	8(%rsi), %ebx		/* vector */
	movzbl	10(%rsi), %ecx		/* P, DPL, type */
	movzbl	11(%rsi), %edx		/* IST */
	shlq	$4, %rbx
	addq	%r9, %rbx
	movzwl	%ax, %edi		/* offset 15:0 */
	orl	$(KERNEL_CS << 16), %edi
	shlq	$32, %rdx
	orq	%rdx, %rdi
	shlq	$40, %rcx
	orq	%rcx, %rdi
	movq	%rax, %rdx
	shrq	$16, %rdx
	movzwl	%dx, %edx		/* offset 31:16 -> bits 63:48 */
	shlq	$48, %rdx
	orq	%rdx, %rdi
	movq	%rdi, (%rbx)
	shrq	$32, %rax		/* offset 63:32 */
	movq	%rax, 8(%rbx)
	addq	$16, %rsi
	cmpq	%r8, %rsi
	jb	2b

	/* Load them; CS reloads through a far return. */
	lgdt	gdtr(%rip)
	pushq	$KERNEL_CS
	leaq	3f(%rip), %rax
	pushq	%rax
	lretq
3:	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$TSS_SEL, %eax
	ltr	%ax
	lidt	idtr(%rip)

	/* ---- ring 0 ---- */
	EXPECT	1, n_de, 0, NO_ERR, 0, de_at, de_resume, KERNEL_CS, ST_IST1
	movl	$1, %eax
	xorl	%edx, %edx
	xorl	%ecx, %ecx
de_at:	divl	%ecx
de_resume:
	HANDLED

	EXPECT	2, n_bp, 3, NO_ERR, 0, bp_after, bp_after, KERNEL_CS, ST_KSTACK
	int3
bp_after:
	HANDLED

	EXPECT	3, n_ud, 6, NO_ERR, 0, ud_at, ud_resume, KERNEL_CS, ST_KSTACK
ud_at:	ud2
ud_resume:
	HANDLED

	/* Selector 0x1230 (GDT index 0x246) is beyond the GDT limit: #GP(selector). */
	EXPECT	4, n_gp_sel, 13, 0x1230, 0, gps_at, gps_resume, KERNEL_CS, ST_KSTACK
	movl	$0x1230, %eax
gps_at:	movl	%eax, %ds
gps_resume:
	HANDLED

	EXPECT	5, n_gp_nc, 13, 0, 0, gpn_at, gpn_resume, KERNEL_CS, ST_KSTACK
	movabsq	$0x8000000000000000, %rax
gpn_at:	movq	(%rax), %rbx
gpn_resume:
	HANDLED

	/* A supervisor write to a not-present page: P=0, W=1, U=0. */
	EXPECT	6, n_pf, 14, 0x2, PF_ADDR, pf_at, pf_resume, KERNEL_CS, ST_KSTACK
	movl	$PF_ADDR, %eax
pf_at:	movl	$1, (%rax)
pf_resume:
	HANDLED

	/* ---- ring 3, entered with iretq: IOPL 0, IF 0 ---- */
	pushq	$USER_DS
	leaq	ustack_top(%rip), %rax
	pushq	%rax
	pushq	$0x2
	pushq	$USER_CS
	leaq	user_code(%rip), %rax
	pushq	%rax
	iretq

user_code:
	EXPECT	7, n_ubp, 3, NO_ERR, 0, ubp_after, ubp_after, USER_CS, ST_RSP0
	int3
ubp_after:
	USER_HANDLED

	EXPECT	8, n_usys, 0x80, NO_ERR, 0, usys_after, usys_after, USER_CS, ST_RSP0
	movl	$SYS_CHECK, %eax
	int	$0x80
usys_after:
	USER_HANDLED

	EXPECT	9, n_ucli, 13, 0, 0, ucli_at, ucli_resume, USER_CS, ST_RSP0
ucli_at:
	cli
ucli_resume:
	USER_HANDLED

	/* A user read of a present supervisor page: P=1, W=0, U=1. */
	EXPECT	10, n_upf, 14, 0x5, SUPER_ADDR, upf_at, upf_resume, USER_CS, ST_RSP0
	movl	$SUPER_ADDR, %eax
upf_at:	movq	(%rax), %rbx
upf_resume:
	USER_HANDLED

	/* int n through a gate with DPL < CPL: #GP(0x81 * 8 + 2), reported at the int. */
	EXPECT	11, n_udpl, 13, 0x40a, 0, udpl_at, udpl_resume, USER_CS, ST_RSP0
udpl_at:
	int	$0x81
udpl_resume:
	USER_HANDLED

	/* Back to ring 0 for good: the handler checks this event too, then finishes. */
	EXPECT	12, n_done, 0x80, NO_ERR, 0, done_after, done_after, USER_CS, ST_RSP0
	movl	$SYS_DONE, %eax
	int	$0x80
done_after:
	movq	$0, handled(%rip)	/* the handler returned instead of finishing */
	USER_HANDLED

/*
 * The handlers. Each stub pushes a dummy error code where the CPU pushes none,
 * then the vector, so `common` sees one layout; GATE also records the gate in
 * `gates` for the IDT builder.
 */
	.section .data
	.balign	8
gates:
	.text
.macro GATE vec, err=0, dpl=0, ist=0
	.text
stub_\vec:
	.if \err == 0
	pushq	$0
	.endif
	pushq	$\vec
	jmp	common
	.data
	.quad	stub_\vec
	.word	\vec
	.byte	0x8e | (\dpl << 5), \ist	/* present 64-bit interrupt gate */
	.long	0
	.text
.endm
	GATE	0, ist=1
	.irp	v, 1, 2, 4, 5, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31
	GATE	\v
	.endr
	GATE	3, dpl=3
	GATE	6
	.irp	v, 8, 10, 11, 12, 13, 14, 17, 21, 29, 30
	GATE	\v, err=1
	.endr
	GATE	0x80, dpl=3
	GATE	0x81
	.data
gates_end:
	.text

/*
 * common: checks the event against the expectation, reports it, and resumes
 * at expect_resume. Frame, from RBP up: vector, error code, RIP, CS, RFLAGS,
 * RSP, SS; the caller's RAX is at -8(%rbp).
 */
common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	leaq	88(%rsp), %rbp
	cmpq	$0x80, (%rbp)
	jne	1f
	cmpq	$SYS_FAIL, -8(%rbp)
	je	not_handled
1:	movq	(%rbp), %rdi
	movq	expect_vec(%rip), %rdx
	leaq	w_vector(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
	movq	expect_err(%rip), %rdx
	cmpq	$NO_ERR, %rdx
	je	2f
	movq	8(%rbp), %rdi
	leaq	w_err(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
2:	cmpq	$14, (%rbp)
	jne	3f
	movq	%cr2, %rdi
	movq	expect_cr2(%rip), %rdx
	leaq	w_cr2(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
3:	movq	16(%rbp), %rdi
	movq	expect_rip(%rip), %rdx
	leaq	w_rip(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
	movq	24(%rbp), %rdi
	movq	expect_cs(%rip), %rdx
	leaq	w_cs(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
	/* Where the CPU put the frame (its error-code slot): IST1 and RSP0 frames sit exactly 48 bytes below the top. */
	leaq	8(%rbp), %rdi
	leaq	w_stack(%rip), %rsi
	movq	expect_stack(%rip), %rcx
	cmpq	$ST_KSTACK, %rcx
	jne	4f
	leaq	kstack(%rip), %rdx
	cmpq	%rdx, %rdi
	jb	fail
	leaq	kstack_top(%rip), %rdx
	cmpq	%rdx, %rdi
	jae	fail
	jmp	6f
4:	leaq	ist1_top - 48(%rip), %rdx
	cmpq	$ST_IST1, %rcx
	je	5f
	leaq	rsp0_top - 48(%rip), %rdx
5:	cmpq	%rdx, %rdi
	jne	fail
	/* From ring 3: the frame holds the user SS, and SS is now the null selector. */
6:	cmpq	$USER_CS, expect_cs(%rip)
	jne	7f
	movq	48(%rbp), %rdi
	movl	$USER_DS, %edx
	leaq	w_saved_ss(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
	movw	%ss, %ax
	movzwl	%ax, %edi
	xorl	%edx, %edx
	leaq	w_null_ss(%rip), %rsi
	testl	%edi, %edi
	jnz	fail

7:	leaq	s_ok(%rip), %rsi
	call	serial_puts
	movq	expect_name(%rip), %rsi
	call	serial_puts
	leaq	s_vec(%rip), %rsi
	call	serial_puts
	movq	(%rbp), %rdi
	call	put_hex
	cmpq	$NO_ERR, expect_err(%rip)
	je	8f
	leaq	s_err(%rip), %rsi
	call	serial_puts
	movq	8(%rbp), %rdi
	call	put_hex
8:	cmpq	$14, (%rbp)
	jne	9f
	leaq	s_cr2(%rip), %rsi
	call	serial_puts
	movq	%cr2, %rdi
	call	put_hex
9:	leaq	s_cs(%rip), %rsi
	call	serial_puts
	movq	24(%rbp), %rdi
	call	put_hex
	leaq	s_nl(%rip), %rsi
	call	serial_puts

	incq	passed(%rip)
	movq	$1, handled(%rip)
	cmpq	$0x80, (%rbp)
	jne	10f
	cmpq	$SYS_DONE, -8(%rbp)
	je	finish
10:	movq	expect_resume(%rip), %rax
	movq	%rax, 16(%rbp)
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector and error code */
	iretq

/* Every check ran: report and exit 0 (still in the handler of the last int 0x80, at ring 0). */
finish:
	movq	$NUM_CHECKS + 1, test_no(%rip)
	leaq	n_count(%rip), %rax
	movq	%rax, expect_name(%rip)
	movq	passed(%rip), %rdi
	movl	$NUM_CHECKS, %edx
	leaq	w_count(%rip), %rsi
	cmpq	%rdx, %rdi
	jne	fail
	leaq	s_pass(%rip), %rsi
	call	serial_puts
	EXIT	0

not_handled:
	leaq	w_handled(%rip), %rsi
	xorl	%edi, %edi
	movl	$1, %edx
	/* fall through */

/* fail: print `FAIL <check>: <what> got=RDI want=RDX` (what at RSI) and exit with the check's number. */
fail:
	movq	%rdi, %rbx
	movq	%rdx, %r9
	movq	%rsi, %r10
	leaq	s_fail(%rip), %rsi
	call	serial_puts
	movq	expect_name(%rip), %rsi
	call	serial_puts
	leaq	s_colon(%rip), %rsi
	call	serial_puts
	movq	%r10, %rsi
	call	serial_puts
	leaq	s_got(%rip), %rsi
	call	serial_puts
	movq	%rbx, %rdi
	call	put_hex
	leaq	s_want(%rip), %rsi
	call	serial_puts
	movq	%r9, %rdi
	call	put_hex
	leaq	s_nl(%rip), %rsi
	call	serial_puts
	movq	test_no(%rip), %rax
	outb	%al, $DEBUG_EXIT_PORT
11:	hlt
	jmp	11b

/* put_hex: write RDI as 0x-prefixed hex, no leading zeros. Clobbers RAX, RCX, RDX, RDI, RSI, R8. */
put_hex:
	movq	%rdi, %r8
	movb	$'0', %dil
	call	serial_putc
	movb	$'x', %dil
	call	serial_putc
	movl	$60, %ecx
	xorl	%esi, %esi		/* set once a digit has been written */
1:	movq	%r8, %rax
	shrq	%cl, %rax
	andl	$0xf, %eax
	orl	%eax, %esi
	testl	%ecx, %ecx		/* always write the last digit */
	jz	2f
	testl	%esi, %esi
	jz	3f
2:	leaq	hexdigits(%rip), %rdx
	movzbl	(%rdx, %rax), %edi
	call	serial_putc
3:	subl	$4, %ecx
	jns	1b
	ret

	.section .rodata
hexdigits:	.ascii	"0123456789abcdef"
s_start:	.asciz	"exceptions: start\n"
s_pass:		.asciz	"exceptions: all checks passed\n"
s_ok:		.asciz	"ok "
s_fail:		.asciz	"FAIL "
s_vec:		.asciz	": vec="
s_err:		.asciz	" err="
s_cr2:		.asciz	" cr2="
s_cs:		.asciz	" cs="
s_colon:	.asciz	": "
s_got:		.asciz	" got="
s_want:		.asciz	" want="
s_nl:		.asciz	"\n"
w_vector:	.asciz	"vector"
w_err:		.asciz	"error code"
w_cr2:		.asciz	"CR2"
w_rip:		.asciz	"saved RIP"
w_cs:		.asciz	"saved CS"
w_stack:	.asciz	"frame address"
w_saved_ss:	.asciz	"saved SS"
w_null_ss:	.asciz	"SS in the handler (want null)"
w_handled:	.asciz	"handler did not run"
w_count:	.asciz	"checks passed"
n_de:		.asciz	"#DE div by zero, on IST1"
n_bp:		.asciz	"#BP int3"
n_ud:		.asciz	"#UD ud2"
n_gp_sel:	.asciz	"#GP mov to DS of a selector beyond the GDT"
n_gp_nc:	.asciz	"#GP non-canonical address"
n_pf:		.asciz	"#PF write to a not-present page"
n_ubp:		.asciz	"ring 3 #BP int3, on RSP0"
n_usys:		.asciz	"ring 3 int 0x80"
n_ucli:		.asciz	"ring 3 #GP cli at IOPL 0"
n_upf:		.asciz	"ring 3 #PF read of a supervisor page"
n_udpl:		.asciz	"ring 3 #GP int 0x81 through a DPL-0 gate"
n_done:		.asciz	"ring 3 int 0x80 done"
n_count:	.asciz	"all checks"

	.section .data
	.balign	8
gdt:
	.quad	0
	.quad	0x00af9b000000ffff	/* 0x08 ring-0 64-bit code */
	.quad	0x00cf93000000ffff	/* 0x10 ring-0 data */
	.quad	0			/* 0x18 unused */
	.quad	0x00cff3000000ffff	/* 0x20 ring-3 data */
	.quad	0x00affb000000ffff	/* 0x28 ring-3 64-bit code */
	.quad	0, 0			/* 0x30 the TSS, filled in at run time */
gdt_end:
gdtr:	.word	gdt_end - gdt - 1
	.quad	gdt
idtr:	.word	256 * 16 - 1
	.quad	idt

/* The current expectation (see EXPECT) and the tally. */
test_no:	.quad	0
expect_name:	.quad	0
expect_vec:	.quad	0
expect_err:	.quad	0
expect_cr2:	.quad	0
expect_rip:	.quad	0
expect_resume:	.quad	0
expect_cs:	.quad	0
expect_stack:	.quad	0
handled:	.quad	0
passed:		.quad	0

	.section .bss
	.balign	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4096
idt:	.skip	4096
tss:	.skip	112
	.balign	16
kstack:	.skip	4096
kstack_top:
rsp0_stack:	.skip	4096
rsp0_top:
ist1_stack:	.skip	4096
ist1_top:
ustack:	.skip	4096
ustack_top:
