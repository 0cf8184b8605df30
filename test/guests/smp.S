/*
 * smp: two vCPUs start here together (vmscope has no INIT/SIPI). Each reads
 * its APIC ID from CPUID leaf 1 and takes its own stack. vCPU 1 prints
 * "[cpu1]\n" and sets two flags; vCPU 0 waits for them, prints "[cpu0]\n"
 * and exits with status 0. Serial output from two threads goes through the
 * shared UART.
 */

#include "guest.h"

	.code64
	ENTRY_START
	PER_VCPU_STACK
	/* Both vCPUs reach this instruction in the same moment. */
	.globl	cpu_split
cpu_split:
	cmp	$0, %ebx
	jne	secondary

	.globl	bsp_wait
bsp_wait:
	cmpl	$0, ap_done(%rip)
	je	bsp_wait
	/* ap_parked is written after ap_done: a debugger that stops vCPU 1 right
	   after its ap_done write (a data breakpoint) holds vCPU 0 here too, so
	   vCPU 0 cannot run on to the exit while the all-stop reaches it. */
2:	cmpl	$0, ap_parked(%rip)
	je	2b
	lea	msg0(%rip), %rsi
	call	serial_puts
	EXIT 0

secondary:
	lea	msg1(%rip), %rsi
	call	serial_puts
	movl	$1, ap_done(%rip)
	movl	$1, ap_parked(%rip)
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
	.globl	ap_parked
	.type	ap_parked, @object
ap_parked:	.long 0
	.size	ap_parked, 4
