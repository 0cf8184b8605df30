/* spin: prints "spinning\n", then loops forever without a single VM exit. */

#include "guest.h"

	.code64
	ENTRY_START
	lea	message(%rip), %rsi
	call	serial_puts
	.globl	spin_loop
spin_loop:
	jmp	spin_loop

	.section .rodata
message:
	.asciz	"spinning\n"
