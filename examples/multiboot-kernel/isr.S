/*
 * isr.S: the interrupt entry stubs of the multiboot kernel: one per CPU
 * exception (vectors 0-31) and one per PIC line (IRQ 0-15 at 0x20-0x2f).
 *
 * Every stub leaves a frame that a debugger can walk with the frame-pointer
 * chain alone: EBP points at a two-word record {interrupted EBP, interrupted
 * EIP}, just as a normal call's `push %ebp; mov %esp, %ebp` leaves {caller's
 * EBP, return address}. The CFI says the same for DWARF unwinders. So a stack
 * taken in timer_tick reads timer_tick <- irq0_entry <- the function that was
 * interrupted (wait_ticks, in its hlt loop).
 *
 * All interrupts arrive in ring 0 from ring 0, so the CPU pushes EFLAGS, CS
 * and EIP (plus an error code for some exceptions) and no SS:ESP.
 */

/*
 * IRQ 0, the PIT: `push %ebp` straight on top of the CPU's frame makes
 * [EBP] = interrupted EBP and [EBP+4] = interrupted EIP.
 */
	.text
	.globl	irq0_entry
	.type	irq0_entry, @function
irq0_entry:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %esp, 12		/* EIP, CS, EFLAGS */
	.cfi_offset %eip, -12
	push	%ebp
	.cfi_adjust_cfa_offset 4
	.cfi_offset %ebp, -16
	mov	%esp, %ebp
	.cfi_def_cfa_register %ebp
	push	%eax			/* the registers C may clobber */
	push	%ecx
	push	%edx
	cld
	call	timer_tick		/* counts the tick and sends the EOI */
	pop	%edx
	pop	%ecx
	pop	%eax
	pop	%ebp
	.cfi_def_cfa %esp, 12
	iret
	.cfi_endproc
	.size	irq0_entry, . - irq0_entry

/*
 * IRQ 1-15: the same frame; the C side counts them as unexpected (the kernel
 * masks them) and sends the EOI, which a spurious IRQ 7/15 must not get.
 */
.macro IRQ_STUB irq
	.globl	irq\irq\()_entry
	.type	irq\irq\()_entry, @function
irq\irq\()_entry:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %esp, 12
	.cfi_offset %eip, -12
	push	%ebp
	.cfi_adjust_cfa_offset 4
	.cfi_offset %ebp, -16
	mov	%esp, %ebp
	.cfi_def_cfa_register %ebp
	push	%eax
	push	%ecx
	push	%edx
	cld
	push	$\irq
	call	irq_other		/* irq_other(irq) */
	add	$4, %esp
	pop	%edx
	pop	%ecx
	pop	%eax
	pop	%ebp
	.cfi_def_cfa %esp, 12
	iret
	.cfi_endproc
	.size	irq\irq\()_entry, . - irq\irq\()_entry
.endm

	IRQ_STUB 1
	IRQ_STUB 2
	IRQ_STUB 3
	IRQ_STUB 4
	IRQ_STUB 5
	IRQ_STUB 6
	IRQ_STUB 7
	IRQ_STUB 8
	IRQ_STUB 9
	IRQ_STUB 10
	IRQ_STUB 11
	IRQ_STUB 12
	IRQ_STUB 13
	IRQ_STUB 14
	IRQ_STUB 15

/*
 * Exceptions: each stub pushes a dummy error code where the CPU pushes none
 * (so every frame has the same shape) and its vector, then joins exc_common.
 * Vectors with an error code (Intel SDM vol. 3A, table 6-1, plus AMD's #VC
 * and #SX): 8, 10-14, 17, 21, 29, 30.
 */
.macro EXC_STUB vec, has_error
	.globl	exc\vec\()_entry
	.type	exc\vec\()_entry, @function
exc\vec\()_entry:
	.cfi_startproc simple
	.cfi_signal_frame
	.if \has_error
	.cfi_def_cfa %esp, 16		/* error code, EIP, CS, EFLAGS */
	.cfi_offset %eip, -12
	.else
	.cfi_def_cfa %esp, 12
	.cfi_offset %eip, -12
	pushl	$0
	.cfi_adjust_cfa_offset 4
	.endif
	pushl	$\vec
	.cfi_adjust_cfa_offset 4
	jmp	exc_common
	.cfi_endproc
	.size	exc\vec\()_entry, . - exc\vec\()_entry
.endm

	EXC_STUB 0, 0
	EXC_STUB 1, 0
	EXC_STUB 2, 0
	EXC_STUB 3, 0
	EXC_STUB 4, 0
	EXC_STUB 5, 0
	EXC_STUB 6, 0
	EXC_STUB 7, 0
	EXC_STUB 8, 1
	EXC_STUB 9, 0
	EXC_STUB 10, 1
	EXC_STUB 11, 1
	EXC_STUB 12, 1
	EXC_STUB 13, 1
	EXC_STUB 14, 1
	EXC_STUB 15, 0
	EXC_STUB 16, 0
	EXC_STUB 17, 1
	EXC_STUB 18, 0
	EXC_STUB 19, 0
	EXC_STUB 20, 0
	EXC_STUB 21, 1
	EXC_STUB 22, 0
	EXC_STUB 23, 0
	EXC_STUB 24, 0
	EXC_STUB 25, 0
	EXC_STUB 26, 0
	EXC_STUB 27, 0
	EXC_STUB 28, 0
	EXC_STUB 29, 1
	EXC_STUB 30, 1
	EXC_STUB 31, 0

/*
 * Stack on entry (offsets from ESP): 0 vector, 4 error code, 8 EIP, 12 CS,
 * 16 EFLAGS. pusha adds EDI, ESI, EBP, ESP, EBX, EDX, ECX, EAX below that,
 * which is struct trap_frame in kernel.c. A copy of {EBP, EIP} on top
 * becomes the frame record EBP points at.
 */
	.type	exc_common, @function
exc_common:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %esp, 20
	.cfi_offset %eip, -12
	pusha
	.cfi_adjust_cfa_offset 32
	.cfi_offset %ebp, -44		/* pusha's EBP slot: CFA - 20 - 32 + 8 */
	mov	%esp, %eax		/* struct trap_frame * */
	pushl	40(%eax)		/* interrupted EIP */
	pushl	8(%eax)			/* interrupted EBP */
	mov	%esp, %ebp
	.cfi_def_cfa %ebp, 60		/* 8 (record) + 32 (pusha) + 20 */
	cld
	push	%eax
	call	exception_handler	/* exception_handler(frame); may edit it */
	add	$12, %esp
	.cfi_def_cfa %esp, 52
	popa				/* restores EBP too (pusha's ESP slot is skipped) */
	.cfi_def_cfa %esp, 20
	add	$8, %esp		/* vector and error code */
	.cfi_def_cfa %esp, 12
	iret
	.cfi_endproc
	.size	exc_common, . - exc_common

	.section .note.GNU-stack, "", @progbits
