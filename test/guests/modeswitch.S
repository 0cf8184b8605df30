/*
 * modeswitch: a real-mode guest (flat, loaded at 0x7c00) that switches itself
 * to protected mode and then to long mode, with a GDT and page tables of its
 * own, printing a line in each mode. In long mode it also maps itself into
 * the high half (0xffffffff80000000 -> 0) and prints from there, so its own
 * paging, not the runner's, is what runs. On the way it takes interrupts
 * through its own tables: `int 0x42` and a #DE through the real-mode IVT, and
 * a #UD through a 32-bit IDT. Exits 0 through the debug-exit port.
 */

#define COM1_THR 0x3f8
#define COM1_LSR 0x3fd
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4
#define PML4 0x10000
#define PDPT 0x11000
#define PD 0x12000
#define PDPT_HI 0x13000
#define HIGH 0xffffffff80000000

/*
 * PUTS name: a routine `name` that writes the NUL-terminated string at (E/R)SI
 * to COM1, polling THRE. One source, assembled once per code width (16, 32
 * and 64 bit) where it is used. Clobbers AL, BL, DX and the string pointer.
 */
.macro PUTS name
\name:
	lodsb
	test	%al, %al
	jz	2f
	mov	%al, %bl
	mov	$COM1_LSR, %dx
1:	in	%dx, %al
	test	$LSR_THRE, %al
	jz	1b
	mov	$COM1_THR, %dx
	mov	%bl, %al
	out	%al, %dx
	jmp	\name
2:	ret
.endm

	.code16
	.section .text.start, "ax", @progbits
	.globl	_start
_start:
	cli
	ljmp	$0, $real16
real16:
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %sp
	mov	$msg_real, %si
	call	puts16
	/* The IVT at 0: vector 0x42 (software) and vector 0 (#DE), CS:IP = 0:handler. */
	movw	$rm_int42, 0x42 * 4
	movw	$0, 0x42 * 4 + 2
	movw	$rm_de, 0
	movw	$0, 2
	int	$0x42
	mov	$1, %ax
	xor	%bl, %bl
	div	%bl			/* #DE: the handler skips these 2 bytes */
	lgdtl	gdtr
	mov	%cr0, %eax
	or	$1, %eax		/* PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $prot32

PUTS puts16

rm_int42:
	push	%si
	mov	$msg_int42, %si
	call	puts16
	pop	%si
	iret

rm_de:
	push	%bp
	mov	%sp, %bp
	addw	$2, 2(%bp)		/* the saved IP: past the 2-byte div */
	mov	$msg_de, %si
	call	puts16
	pop	%bp
	iret

	.code32
prot32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %esp
	mov	$msg_prot, %esi
	call	puts32
	/* A 32-bit IDT with one interrupt gate: vector 6 (#UD) -> pm_ud. */
	mov	$pm_ud, %eax
	mov	%ax, idt32 + 6 * 8
	movw	$0x08, idt32 + 6 * 8 + 2
	movw	$0x8e00, idt32 + 6 * 8 + 4
	shr	$16, %eax
	mov	%ax, idt32 + 6 * 8 + 6
	lidt	idtr32
	ud2				/* #UD: the handler skips these 2 bytes */
	/* Page tables: clear four pages, identity-map 0-2 MiB with one 2 MiB page, and the high half. */
	mov	$PML4, %edi
	xor	%eax, %eax
	mov	$(4 * 4096 / 4), %ecx
	rep stosl
	movl	$(PDPT | 3), PML4
	movl	$(PD | 3), PDPT
	movl	$0x83, PD			/* 2 MiB page at 0: P, RW, PS */
	movl	$(PDPT_HI | 3), PML4 + 511 * 8
	movl	$(PD | 3), PDPT_HI + 510 * 8	/* 0xffffffff80000000 -> the same PD */
	mov	%cr4, %eax
	or	$(1 << 5), %eax		/* PAE */
	mov	%eax, %cr4
	mov	$PML4, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER */
	rdmsr
	or	$(1 << 8), %eax		/* LME */
	wrmsr
	mov	%cr0, %eax
	or	$(1 << 31), %eax	/* PG: long mode is active now (compatibility mode) */
	mov	%eax, %cr0
	ljmp	$0x18, $long64

pm_ud:
	addl	$2, (%esp)		/* the saved EIP: past ud2 */
	push	%esi
	mov	$msg_ud, %esi
	call	puts32
	pop	%esi
	iret

PUTS puts32

	.code64
long64:
	mov	$msg_long, %esi
	call	puts64
	/* The same code through the high half: only the guest's own tables map it. */
	lea	high64(%rip), %rax
	movabs	$HIGH, %rcx
	add	%rcx, %rax
	jmp	*%rax
high64:
	lea	msg_high(%rip), %rsi	/* RIP-relative: the high-half alias of the message */
	call	puts64
	mov	$0, %al
	out	%al, $DEBUG_EXIT_PORT
3:	hlt
	jmp	3b

PUTS puts64

	.balign	8
gdt:	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: 32-bit code, flat */
	.quad	0x00cf93000000ffff	/* 0x10: data, flat */
	.quad	0x00af9b000000ffff	/* 0x18: 64-bit code */
gdtr:	.word	. - gdt - 1
	.long	gdt

idtr32:	.word	7 * 8 - 1
	.long	idt32
	.balign	8
idt32:	.fill	7 * 8, 1, 0

msg_int42:	.asciz	"real mode: int 0x42 through the IVT\n"
msg_de:		.asciz	"real mode: #DE through the IVT\n"
msg_ud:		.asciz	"protected mode: #UD through a 32-bit IDT\n"
msg_real:	.asciz	"real mode\n"
msg_prot:	.asciz	"protected mode\n"
msg_long:	.asciz	"long mode\n"
msg_high:	.asciz	"long mode, high half\n"
