/*
 * start.S: the multiboot headers and the entry point of the multiboot kernel.
 *
 * The Multiboot 1 header (Multiboot Specification 0.6.96, section 3.1) asks
 * for the memory fields of the info structure and carries the a.out-kludge
 * address fields (flags bit 16), so a loader that does not read ELF (QEMU's
 * -kernel among them) loads the same bytes. The Multiboot 2 header
 * (Multiboot2 Specification, section 3.1) follows; it only has the end tag,
 * so a Multiboot 2 loader loads the ELF program headers.
 *
 * Both loaders enter at _start in 32-bit protected mode with paging off,
 * interrupts off, EAX = the loader's magic and EBX = the physical address of
 * its info structure; neither promises a stack or a valid GDTR.
 */

#define MB1_MAGIC 0x1badb002
#define MB1_PAGE_ALIGN (1 << 0)   /* modules on page boundaries */
#define MB1_MEMORY_INFO (1 << 1)  /* mem_lower/mem_upper and the memory map */
#define MB1_AOUT_KLUDGE (1 << 16) /* the address fields below are valid */
#define MB1_FLAGS (MB1_PAGE_ALIGN | MB1_MEMORY_INFO | MB1_AOUT_KLUDGE)

#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

	.section .multiboot, "a", @progbits
	.balign	4
mb1_header:
	.long	MB1_MAGIC
	.long	MB1_FLAGS
	.long	-(MB1_MAGIC + MB1_FLAGS)	/* checksum: the three sum to 0 */
	.long	mb1_header			/* header_addr */
	.long	__image_start			/* load_addr: the header is the first byte */
	.long	__load_end			/* load_end_addr */
	.long	__bss_end			/* bss_end_addr: zeroed by the loader */
	.long	_start				/* entry_addr */

	.balign	8
mb2_header:
	.long	MB2_MAGIC
	.long	MB2_ARCH_I386
	.long	mb2_header_end - mb2_header	/* header_length */
	.long	-(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	.balign	8
	.short	0, 0				/* end tag: type 0, flags 0 */
	.long	8				/* size 8 */
mb2_header_end:

	.section .text.start, "ax", @progbits
	.code32
	.globl	_start
	.type	_start, @function
_start:
	.cfi_startproc
	.cfi_undefined eip		/* outermost frame: unwinders stop here */
	mov	$stack_top, %esp
	xor	%ebp, %ebp		/* end of the frame-pointer chain */
	cld

	pushl	$0			/* EFLAGS: interrupts off until the IDT is up */
	popfl

	push	%ebx			/* kernel_main(magic, info) */
	push	%eax
	call	kernel_main

	/* kernel_main exits through the debug-exit port; this is a fallback. */
	cli
halt:
	hlt
	jmp	halt
	.cfi_endproc
	.size	_start, . - _start

	.section .stack, "aw", @nobits
	.balign	16
stack_bottom:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
