/* watch: bumps the global `counter` three times, reading it back after each
 * write, then spins a while and exits 0 (long mode). Gives gdb watchpoints a
 * variable that changes, and Ctrl-C/detach tests a guest that ends alone. */

#include "guest.h"

/* About three seconds under emulation on this machine: long enough to interrupt, short enough to wait for. */
#define SPIN_COUNT 400000000

	.code64
	ENTRY_START
	movl	$3, %ecx
1:	addl	$1, counter(%rip)	/* a write (and a read) of counter */
	movl	counter(%rip), %eax	/* a read alone */
	decl	%ecx
	jnz	1b
	lea	message(%rip), %rsi
	call	serial_puts
	movq	$SPIN_COUNT, %rcx
2:	decq	%rcx
	jnz	2b
	EXIT	0

	.section .rodata
message:
	.asciz	"counted\n"

	.data
	.balign	4
	.globl	counter
	.type	counter, @object
	.size	counter, 4
counter:
	.long	0
