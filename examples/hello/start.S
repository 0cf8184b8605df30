/*
 * start.S: entry point of the hello guest (64-bit long mode).
 *
 * Relies on the runner's long-mode boot contract (flat CS/DS, identity-mapped
 * first 4 GiB, interrupts off). It does not trust the runner's RSP=0x80000:
 * the guest owns its stack, in .bss, so nothing outside the image is used.
 */

#define DEBUG_EXIT_PORT 0xf4

	.section .text.start, "ax", @progbits
	.code64
	.globl	_start
	.type	_start, @function
_start:
	.cfi_startproc
	.cfi_undefined rip		/* outermost frame: unwinders stop here */
	lea	stack_top(%rip), %rsp
	xor	%ebp, %ebp		/* end of the frame-pointer chain */

	/* The loader zeroes .bss, but a guest should not depend on it. */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx	/* the stack lies past __bss_end: not cleared */
	sub	%rdi, %rcx
	shr	$3, %rcx
	xor	%eax, %eax
	cld
	rep stosq

	call	main

	/* main's return value is the VM's exit status. */
	outb	%al, $DEBUG_EXIT_PORT
halt:
	hlt				/* only reached if the exit port is missing */
	jmp	halt
	.cfi_endproc
	.size	_start, . - _start

	.section .stack, "aw", @nobits
	.balign	16
stack_bottom:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
