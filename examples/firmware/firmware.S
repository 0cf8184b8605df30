/*
 * firmware.S: a tiny firmware that starts at the x86 reset vector: the CPU's
 * first instruction is at physical 0xfffffff0, in real mode with CS = 0xf000
 * but CS.base = 0xffff0000 (Intel SDM vol. 3A, 9.1.4), so the last 16 bytes
 * of the ROM run first. It loads a GDT, switches to 32-bit protected mode,
 * sets up COM1, prints a banner and the RAM size (from the CMOS bytes and
 * from QEMU's fw_cfg, when present), and exits through the debug-exit port.
 *
 * The real-mode part uses only CS-relative addressing: CS.base stays
 * 0xffff0000 until the far jump into protected mode, so it reaches the ROM
 * through its high alias and does not rely on the copy below 1 MiB. Nothing
 * is written to memory before protected mode; then a stack at 0x8000.
 */

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define FW_CFG_SELECTOR 0x510		/* QEMU docs/specs/fw_cfg.rst */
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000		/* "QEMU" */
#define FW_CFG_RAM_SIZE 0x0003		/* 64-bit, little-endian, bytes */

#define CODE_SEL 0x08
#define DATA_SEL 0x10
#define STACK_TOP 0x8000		/* RAM below 1 MiB; nothing else uses it */

/*
 * The real-mode part lives in the ROM's last 256 bytes (section .reset,
 * placed at offset 0xff00 by firmware.ld), so that the reset vector's near
 * jump goes backwards without wrapping IP, and so that the assembler can
 * resolve the CS-relative offsets of its data (labels in the same section).
 */
#define RESET_PAGE_OFFSET 0xff00
#define ROM_OFFSET(label) ((label) - reset_page + RESET_PAGE_OFFSET)

	.text
	.code32
start32:
	mov	$DATA_SEL, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	mov	$STACK_TOP, %esp
	xor	%ebp, %ebp

	call	uart_init
	mov	$banner, %esi
	call	puts

	/*
	 * CMOS 0x30/0x31: KiB of RAM from 1 MiB up to 64 MiB (capped at 0xffff);
	 * 0x34/0x35: 64 KiB units above 16 MiB (what QEMU and SeaBIOS use).
	 */
	mov	$cmos_text, %esi
	call	puts
	mov	$0x35, %al
	call	cmos_read
	movzbl	%al, %ebx
	shl	$8, %ebx
	mov	$0x34, %al
	call	cmos_read
	mov	%al, %bl
	test	%ebx, %ebx
	jz	1f
	shr	$4, %ebx			/* 64 KiB units -> MiB */
	lea	16(%ebx), %eax
	jmp	2f
1:	mov	$0x31, %al
	call	cmos_read
	movzbl	%al, %ebx
	shl	$8, %ebx
	mov	$0x30, %al
	call	cmos_read
	mov	%al, %bl
	shr	$10, %ebx			/* KiB -> MiB */
	lea	1(%ebx), %eax
2:	call	put_dec
	mov	$mib_text, %esi
	call	puts

	/* fw_cfg: the signature, then the RAM size. */
	mov	$fw_cfg_text, %esi
	call	puts
	mov	$FW_CFG_SIGNATURE, %ax
	call	fw_cfg_select
	call	fw_cfg_read32
	cmp	$0x554d4551, %ebx		/* "QEMU", little-endian */
	jne	4f
	mov	$FW_CFG_RAM_SIZE, %ax
	call	fw_cfg_select
	call	fw_cfg_read32			/* low half */
	mov	%ebx, %edi
	call	fw_cfg_read32			/* high half */
	shrd	$20, %ebx, %edi			/* bytes -> MiB */
	mov	%edi, %eax
	call	put_dec
	mov	$mib_text, %esi
	call	puts
	jmp	6f
4:	mov	$absent_text, %esi
	call	puts

6:	mov	$done_text, %esi
	call	puts
	xor	%eax, %eax			/* status 0 */
	outb	%al, $DEBUG_EXIT_PORT
halt:
	cli
	hlt
	jmp	halt

/* 115200 8N1, FIFOs on, no interrupts. Clobbers EAX, EDX. */
uart_init:
	mov	$COM1 + 1, %dx
	xor	%al, %al
	outb	%al, %dx			/* IER: no interrupts */
	mov	$COM1 + 3, %dx
	mov	$0x80, %al
	outb	%al, %dx			/* LCR: DLAB */
	mov	$COM1 + 0, %dx
	mov	$1, %al
	outb	%al, %dx			/* DLL: divisor 1 */
	mov	$COM1 + 1, %dx
	xor	%al, %al
	outb	%al, %dx			/* DLM */
	mov	$COM1 + 3, %dx
	mov	$0x03, %al
	outb	%al, %dx			/* LCR: 8N1 */
	mov	$COM1 + 2, %dx
	mov	$0x07, %al
	outb	%al, %dx			/* FCR: FIFOs on, cleared */
	mov	$COM1 + 4, %dx
	mov	$0x03, %al
	outb	%al, %dx			/* MCR: DTR, RTS */
	ret

/* Sends AL when the transmitter is empty. Clobbers EDX. */
putc:
	push	%eax
	mov	$COM1 + 5, %dx
1:	inb	%dx, %al
	test	$0x20, %al			/* LSR.THRE */
	jz	1b
	pop	%eax
	mov	$COM1, %dx
	outb	%al, %dx
	ret

/* Sends the NUL-terminated string at ESI. Clobbers EAX, EDX, ESI. */
puts:
	lodsb
	test	%al, %al
	jz	1f
	call	putc
	jmp	puts
1:	ret

/* Sends EAX in decimal. Clobbers EAX, ECX, EDX. */
put_dec:
	push	%ebx
	mov	$10, %ebx
	xor	%ecx, %ecx
1:	xor	%edx, %edx
	div	%ebx
	push	%edx				/* digits come out lowest first */
	inc	%ecx
	test	%eax, %eax
	jnz	1b
2:	pop	%eax
	add	$'0', %al
	call	putc
	loop	2b
	pop	%ebx
	ret

/* Selects fw_cfg item AX (a 16-bit write to the selector). Clobbers EDX. */
fw_cfg_select:
	mov	$FW_CFG_SELECTOR, %dx
	outw	%ax, %dx
	ret

/*
 * Reads the selected fw_cfg item's next 4 bytes into EBX, the first byte
 * lowest (the data port streams the item byte by byte). Clobbers EAX, ECX,
 * EDX.
 */
fw_cfg_read32:
	mov	$FW_CFG_DATA, %dx
	mov	$4, %ecx
1:	inb	%dx, %al
	shrd	$8, %eax, %ebx			/* AL becomes EBX's top byte */
	loop	1b
	ret

/* Reads CMOS byte AL into AL (NMIs stay enabled: bit 7 clear). */
cmos_read:
	outb	%al, $CMOS_INDEX
	inb	$CMOS_DATA, %al
	ret

banner:		.asciz	"vmscope firmware: hello from the reset vector\r\nprotected mode: on\r\n"
cmos_text:	.asciz	"RAM (CMOS): "
fw_cfg_text:	.asciz	"RAM (fw_cfg): "
mib_text:	.asciz	" MiB\r\n"
absent_text:	.asciz	"no fw_cfg\r\n"
done_text:	.asciz	"vmscope firmware: done\r\n"

	.section .reset, "ax", @progbits
reset_page:

/* Null, flat 4 GiB 32-bit code (0x08), flat 4 GiB data (0x10). */
	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff
	.quad	0x00cf92000000ffff
gdt_end:
gdt_pointer:
	.short	gdt_end - gdt - 1
	.long	gdt				/* linear: the ROM's high alias */

	.code16
start16:
	cli
	cld
	/* The descriptor's 32-bit base needs the operand-size prefix (lgdtl). */
	lgdtl	%cs:ROM_OFFSET(gdt_pointer)
	mov	%cr0, %eax
	or	$1, %eax			/* CR0.PE */
	mov	%eax, %cr0
	/* A far jump with a 32-bit offset: loads CS from the GDT, base 0. */
	ljmpl	$CODE_SEL, $start32

/*
 * The reset vector, the ROM's last 16 bytes. A near jump keeps CS.base at
 * 0xffff0000 (a far jump would load CS.base = CS << 4 and need the copy of
 * the ROM below 1 MiB).
 */
	.org	0xf0, 0xff
	.globl	reset_vector
reset_vector:
	jmp	start16
	.org	0x100, 0xff

	.section .note.GNU-stack, "", @progbits
