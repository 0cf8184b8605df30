/*
 * real.S: a 16-bit real-mode guest loaded as a flat binary at 0x7c00.
 * Prints one line on COM1, polling THRE, then exits with status 0 through
 * the debug-exit port.
 *
 * It sets its own segments and stack rather than trusting the runner's
 * (all bases 0, SP=0x7c00), so the same image also boots as a BIOS boot
 * sector (it carries the 0xaa55 signature), e.g. under QEMU for comparison.
 */

#define COM1_THR 0x3f8
#define COM1_LSR 0x3fd
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4

	.code16
	.section .text.start, "ax", @progbits
	.globl	_start
_start:
	cli
	ljmp	$0, $canonical		/* CS:IP = 0:0x7cxx whatever CS the loader chose */
canonical:
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %sp		/* stack grows down, below the image */
	cld

	mov	$message, %si
	call	puts

	xor	%al, %al		/* status 0 */
	outb	%al, $DEBUG_EXIT_PORT
halt:
	hlt				/* only reached if the exit port is missing */
	jmp	halt

/* puts: write the NUL-terminated string at DS:SI to COM1. Clobbers AX, DX, SI. */
puts:
	lodsb
	test	%al, %al
	jz	puts_done
	call	putc
	jmp	puts
puts_done:
	ret

/* putc: write AL to COM1 once the transmit holding register is empty. Clobbers DX. */
putc:
	mov	%al, %ah
	mov	$COM1_LSR, %dx
putc_wait:
	inb	%dx, %al
	test	$LSR_THRE, %al
	jz	putc_wait
	mov	%ah, %al
	mov	$COM1_THR, %dx
	outb	%al, %dx
	ret

message:
	.asciz	"Hello from real mode\n"

	.section .note.GNU-stack, "", @progbits
