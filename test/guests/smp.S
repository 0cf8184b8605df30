/*
 * smp: two vCPUs start here together (vmscope has no INIT/SIPI). Each reads
 * its APIC ID from CPUID leaf 1 and takes its own stack. vCPU 1 prints
 * "[cpu1]\n" and sets a flag; vCPU 0 waits for the flag, prints "[cpu0]\n"
 * and exits with status 0. Serial output from two threads goes through the
 * shared UART.
 */

#include "guest.h"

	.code64
	ENTRY_START
	PER_VCPU_STACK
	cmp	$0, %ebx
	jne	secondary

	.globl	bsp_wait
bsp_wait:
	cmpl	$0, ap_done(%rip)
	je	bsp_wait
	lea	msg0(%rip), %rsi
	call	serial_puts
	EXIT 0

secondary:
	lea	msg1(%rip), %rsi
	call	serial_puts
	movl	$1, ap_done(%rip)
	cli
1:	hlt
	jmp	1b

	.section .rodata
msg0:	.asciz	"[cpu0]\n"
msg1:	.asciz	"[cpu1]\n"

	.data
	.p2align 2
	.globl	ap_done
	.type	ap_done, @object
ap_done:	.long 0
	.size	ap_done, 4
