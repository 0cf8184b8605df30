/*
 * msr: reads IA32_EFER, writes 0x1234 to IA32_SYSENTER_CS and reads it back
 * (at `msr_write` and `msr_readback`), then exits with status 0 if the value
 * came back, 1 if not. For breakpoints on MSR exits.
 */

#include "guest.h"

#define MSR_EFER 0xc0000080
#define MSR_SYSENTER_CS 0x174

	.code64
	ENTRY_START
	mov	$MSR_EFER, %ecx
	rdmsr
	.globl	msr_write
msr_write:
	mov	$MSR_SYSENTER_CS, %ecx
	mov	$0x1234, %eax
	xor	%edx, %edx
	wrmsr
	.globl	msr_readback
msr_readback:
	xor	%eax, %eax
	rdmsr
	cmp	$0x1234, %eax
	jne	1f
	EXIT 0
1:	EXIT 1
