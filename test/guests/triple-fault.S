/*
 * triple-fault: loads an empty IDT (limit 0) and executes ud2. #UD cannot be
 * delivered, nor the #GP/#DF that follow, so the CPU shuts down. Prints nothing.
 */

#include "guest.h"

	.code64
	ENTRY_START
	lidt	empty_idtr(%rip)
faulting_insn:
	ud2

	.section .rodata
	.balign	16
empty_idtr:
	.word	0		/* limit */
	.quad	0		/* base */
