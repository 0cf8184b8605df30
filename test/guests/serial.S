/*
 * serial.S: polled COM1 routines for the long-mode test guests. No UART
 * initialisation: the guests only need the runner's 16550 to move bytes.
 * Each routine touches only the registers its comment names.
 */

#include "guest.h"

	.code64
	.text

/* serial_putc: write DIL to COM1 once THR is empty. Clobbers AL, DX. */
	.globl	serial_putc
	.type	serial_putc, @function
serial_putc:
	mov	$COM1_LSR, %dx
1:	inb	%dx, %al
	test	$LSR_THRE, %al
	jz	1b
	mov	%dil, %al
	mov	$COM1_THR, %dx
	outb	%al, %dx
	ret
	.size	serial_putc, . - serial_putc

/* serial_puts: write the NUL-terminated string at RSI. Clobbers AL, DX, DIL, RSI. */
	.globl	serial_puts
	.type	serial_puts, @function
serial_puts:
1:	movb	(%rsi), %dil
	test	%dil, %dil
	jz	2f
	call	serial_putc
	inc	%rsi
	jmp	1b
2:	ret
	.size	serial_puts, . - serial_puts

/* serial_getc: wait for a received byte and return it in AL. Clobbers DX. */
	.globl	serial_getc
	.type	serial_getc, @function
serial_getc:
	mov	$COM1_LSR, %dx
1:	inb	%dx, %al
	test	$LSR_DR, %al
	jz	1b
	mov	$COM1_RBR, %dx
	inb	%dx, %al
	ret
	.size	serial_getc, . - serial_getc
