/*
 * hlt: prints "halting\n", then halts with interrupts off. If the runner
 * resumes it after the HLT exit, it halts again.
 */

#include "guest.h"

	.code64
	ENTRY_START
	lea	message(%rip), %rsi
	call	serial_puts
	cli
	.globl	halt_here
halt_here:
	hlt
	jmp	halt_here

	.section .rodata
message:
	.asciz	"halting\n"
