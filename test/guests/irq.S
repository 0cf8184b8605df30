/*
 * irq: waits for an external interrupt that the host injects (vector 0x20).
 * It prints "ready" with interrupts off, spins a while with IF=0 (an
 * interrupt injected then must wait), then sets `enabled` and executes sti and
 * spins until the handler has run. The handler checks that it came after sti
 * (IF was 1), prints "irq 0x20" and returns with iretq; the guest then exits
 * with status 0, or 1 if the interrupt arrived while IF was 0.
 */

#include "guest.h"

	.code64
	ENTRY_START
	cli
	/* An IDT with one interrupt gate: vector 0x20 -> irq_handler (code64 selector 0x08, type 0xE, present). */
	lea	irq_handler(%rip), %rax
	lea	idt(%rip), %rdi
	add	$(0x20 * 16), %rdi
	mov	%ax, (%rdi)
	movw	$0x08, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	lidt	idtr(%rip)
	lea	ready_msg(%rip), %rsi
	call	serial_puts

	/* IF=0 for a while: the host's injection, if it came now, must wait. */
	mov	$2000000, %ecx
1:	dec	%ecx
	jnz	1b
	movl	$1, enabled(%rip)
	sti
2:	cmpl	$0, handled(%rip)
	je	2b
	cli
	EXIT	0

irq_handler:
	cmpl	$0, enabled(%rip)
	je	too_early
	push	%rsi
	push	%rdi
	push	%rax
	push	%rdx
	lea	irq_msg(%rip), %rsi
	call	serial_puts
	pop	%rdx
	pop	%rax
	pop	%rdi
	pop	%rsi
	movl	$1, handled(%rip)
	iretq
too_early:
	lea	early_msg(%rip), %rsi
	call	serial_puts
	EXIT	1

	.section .rodata
ready_msg:	.asciz	"ready\n"
irq_msg:	.asciz	"irq 0x20\n"
early_msg:	.asciz	"interrupt delivered with IF=0\n"
	.balign	8
idtr:	.word	256 * 16 - 1
	.quad	idt

	.data
enabled:	.long 0
handled:	.long 0
	.balign	16
idt:	.fill	256 * 16, 1, 0
