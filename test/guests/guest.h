/*
 * guest.h: constants and macros shared by the test guests (assembly only).
 * The guests rely on the runner's boot contract, including RSP=0x80000 in
 * long mode, so they can `call` the routines in serial.S.
 */

#define COM1 0x3f8
#define COM1_RBR (COM1 + 0) /* receive buffer (read) */
#define COM1_THR (COM1 + 0) /* transmit holding (write) */
#define COM1_LSR (COM1 + 5) /* line status */
#define LSR_DR 0x01         /* a received byte is waiting */
#define LSR_THRE 0x20       /* transmit holding register empty */

#define DEBUG_EXIT_PORT 0xf4

/* Ends the run with `status` through the debug-exit port (clobbers AL). */
.macro EXIT status
	movb	$\status, %al
	outb	%al, $DEBUG_EXIT_PORT
99:	hlt			/* only reached if the exit port is missing */
	jmp	99b
.endm

/* Opens the entry function; the linker script puts .text.start first. */
.macro ENTRY_START
	.section .text.start, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
.endm

/*
 * For guests whose vCPUs all start at the entry (vmscope has no INIT/SIPI):
 * the vCPU's index, its initial APIC ID from CPUID leaf 1, in EBX, and a stack
 * of its own, 16 KiB per vCPU below the boot contract's RSP. Clobbers EAX,
 * ECX, EDX.
 */
.macro PER_VCPU_STACK
	mov	$1, %eax
	cpuid
	shr	$24, %ebx		/* initial APIC ID = vCPU index */
	mov	$0x80000, %rsp
	mov	%rbx, %rax
	shl	$14, %rax		/* 16 KiB of stack per vCPU */
	sub	%rax, %rsp
.endm
