/*
 * prot.S: a 32-bit protected-mode guest (ELF32, linked at 1 MiB).
 * Relies on the runner's protected-mode boot contract: CS=0x18 flat 32-bit
 * code, flat data segments, paging off, ESP=0x80000. Prints one line on COM1,
 * polling THRE, then exits with status 0 through the debug-exit port.
 */

#define COM1_THR 0x3f8
#define COM1_LSR 0x3fd
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4

	.code32
	.section .text.start, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	cld
	mov	$message, %esi
	call	puts

	xor	%al, %al		/* status 0 */
	outb	%al, $DEBUG_EXIT_PORT
halt:
	hlt				/* only reached if the exit port is missing */
	jmp	halt
	.size	_start, . - _start

	.text
/* puts: write the NUL-terminated string at ESI to COM1. Clobbers EAX, EDX, ESI. */
	.type	puts, @function
puts:
	lodsb
	test	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret
	.size	puts, . - puts

/* putc: write AL to COM1 once the transmit holding register is empty. Clobbers EDX, AH. */
	.type	putc, @function
putc:
	mov	%al, %ah
	mov	$COM1_LSR, %dx
1:	inb	%dx, %al
	test	$LSR_THRE, %al
	jz	1b
	mov	%ah, %al
	mov	$COM1_THR, %dx
	outb	%al, %dx
	ret
	.size	putc, . - putc

	.section .rodata
message:
	.asciz	"Hello from protected mode\n"

	.section .note.GNU-stack, "", @progbits
