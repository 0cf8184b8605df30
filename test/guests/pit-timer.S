/*
 * pit-timer: the PC's timer path end to end. Remaps the 8259A pair to
 * vectors 0x20/0x28 with only IRQ 0 unmasked, programs the 8254's channel 0
 * for 1 kHz (mode 2), then counts IRQ 0 interrupts: 20 while halting between
 * them (sti; hlt), then 20 more while spinning with interrupts on (the
 * emulator must stop a running guest at the timer's deadline). The handler
 * sends a non-specific EOI. Prints "ticks 40" and exits with status 0.
 */

#include "guest.h"

	.code64
	ENTRY_START
	cli
	/* IDT: vector 0x20 -> timer (interrupt gate, code64 selector 0x08). */
	lea	timer(%rip), %rax
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

	/* 8259A: ICW1 (edge, ICW4), ICW2 bases, ICW3 cascade, ICW4 8086 mode; then masks. */
	mov	$0x11, %al
	out	%al, $0x20
	out	%al, $0xa0
	mov	$0x20, %al
	out	%al, $0x21
	mov	$0x28, %al
	out	%al, $0xa1
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x02, %al
	out	%al, $0xa1
	mov	$0x01, %al
	out	%al, $0x21
	out	%al, $0xa1
	mov	$0xfe, %al		/* only IRQ 0 */
	out	%al, $0x21
	mov	$0xff, %al
	out	%al, $0xa1

	/* 8254 channel 0, lsb/msb, mode 2, divisor 1193: 1 kHz. */
	mov	$0x34, %al
	out	%al, $0x43
	mov	$(1193 & 0xff), %al
	out	%al, $0x40
	mov	$(1193 >> 8), %al
	out	%al, $0x40

	sti
1:	hlt
	cmpl	$20, ticks(%rip)
	jb	1b
2:	pause
	cmpl	$40, ticks(%rip)
	jb	2b
	cli
	lea	done_msg(%rip), %rsi
	call	serial_puts
	EXIT	0

timer:
	push	%rax
	incl	ticks(%rip)
	mov	$0x20, %al		/* non-specific EOI */
	out	%al, $0x20
	pop	%rax
	iretq

	.data
done_msg:
	.asciz	"ticks 40\n"
	.balign	4
ticks:
	.long	0
	.balign	16
idtr:
	.word	256 * 16 - 1
	.quad	idt
	.bss
	.balign	16
idt:
	.skip	256 * 16
