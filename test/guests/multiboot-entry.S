/*
 * multiboot-entry.S: the Multiboot header (version 1, or 2 with -DMB2) and
 * the 32-bit entry: a stack of its own, then kmain(EAX, EBX).
 */

	.section .multiboot, "a"
#ifndef MB2
	.balign 4
	.long	0x1badb002		/* magic */
	.long	0x00000003		/* flags: page-align modules, memory info */
	.long	-(0x1badb002 + 0x00000003)
#else
	.balign 8
mb2_start:
	.long	0xe85250d6		/* magic */
	.long	0			/* architecture: i386 */
	.long	mb2_end - mb2_start
	.long	-(0xe85250d6 + (mb2_end - mb2_start))
	.balign 8			/* information request: cmdline, mmap */
	.short	1, 0
	.long	16
	.long	1, 6
	.balign 8			/* end tag */
	.short	0, 0
	.long	8
mb2_end:
#endif

	.text
	.code32
	.globl	_start
	.type	_start, @function
_start:
	mov	$stack_top, %esp
	push	%ebx
	push	%eax
	call	kmain
1:	hlt
	jmp	1b

	.bss
	.balign 16
	.skip	16384
stack_top:
