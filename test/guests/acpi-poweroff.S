/*
 * acpi-poweroff: an OS's road to ACPI soft-off, on the pc platform. Finds the
 * RSDP by scanning the BIOS area (0xE0000-0xFFFFF, 16-byte steps, checksum),
 * walks RSDT -> FADT (checksums), reads PM1a_CNT_BLK, PM_TMR_BLK and the
 * DSDT, checks SCI_EN is set (ACPI mode with no SMI_CMD), reads the PM timer
 * until it moves, takes SLP_TYPa from the DSDT's \_S5 package, prints what it
 * found, and writes SLP_TYP | SLP_EN to PM1a_CNT: the run must end there as a
 * power-off. Any failure exits through debug-exit with a status naming it:
 * 2 no RSDP, 3 no RSDT, 4 no FADT, 5 SCI_EN clear, 6 the timer does not move,
 * 7 no \_S5, 1 still running after the power-off write.
 */

#include "guest.h"

#define SLP_EN (1 << 13)

	.code64
	ENTRY_START
	cli
	/* RSDP: "RSD PTR " on a 16-byte boundary whose 20 bytes sum to 0. */
	mov	$0xe0000, %rsi
	movabs	$0x2052545020445352, %rax	/* "RSD PTR " little-endian */
1:	cmp	(%rsi), %rax
	jne	2f
	mov	$20, %ecx
	call	sum_bytes
	test	%dl, %dl
	jz	found_rsdp
2:	add	$16, %rsi
	cmp	$0x100000, %rsi
	jb	1b
	EXIT	2

found_rsdp:
	mov	16(%rsi), %esi			/* RsdtAddress */
	cmpl	$0x54445352, (%rsi)		/* "RSDT" */
	jne	no_rsdt
	call	sum_table
	test	%dl, %dl
	jnz	no_rsdt
	/* Entries: (length - 36) / 4 table pointers after the header. */
	mov	4(%rsi), %ecx
	sub	$36, %ecx
	shr	$2, %ecx
	lea	36(%rsi), %rdi
3:	test	%ecx, %ecx
	jz	no_fadt
	mov	(%rdi), %esi
	cmpl	$0x50434146, (%rsi)		/* "FACP" */
	je	found_fadt
	add	$4, %rdi
	dec	%ecx
	jmp	3b

found_fadt:
	call	sum_table
	test	%dl, %dl
	jnz	no_fadt
	mov	64(%rsi), %eax			/* PM1a_CNT_BLK */
	mov	%eax, pm1a_cnt(%rip)
	mov	76(%rsi), %eax			/* PM_TMR_BLK */
	mov	%eax, pm_tmr(%rip)
	mov	40(%rsi), %eax			/* DSDT */
	mov	%eax, dsdt(%rip)

	mov	pm1a_cnt(%rip), %edx
	in	%dx, %ax
	test	$1, %al				/* SCI_EN */
	jz	sci_off

	/* The PM timer: read it, then read again until it differs (bounded). */
	mov	pm_tmr(%rip), %edx
	in	%dx, %eax
	mov	%eax, %r8d
	mov	$10000000, %ecx
4:	in	%dx, %eax
	cmp	%eax, %r8d
	jne	5f
	dec	%ecx
	jnz	4b
	EXIT	6
5:	and	$0xff000000, %eax		/* a 24-bit timer: the top byte reads 0 */
	jnz	timer_stuck

	/* \_S5: NameOp '_S5_' PackageOp PkgLength(1 byte) NumElements, then SLP_TYPa (BytePrefix n, ZeroOp or OneOp). */
	mov	dsdt(%rip), %esi
	mov	4(%rsi), %ecx
	lea	(%rsi,%rcx), %r9		/* end of the DSDT */
	add	$36, %rsi
6:	lea	10(%rsi), %rax
	cmp	%r9, %rax
	ja	no_s5
	cmpb	$0x08, (%rsi)
	jne	7f
	cmpl	$0x5f35535f, 1(%rsi)		/* "_S5_" */
	jne	7f
	cmpb	$0x12, 5(%rsi)
	jne	7f
	movzbl	8(%rsi), %eax
	cmp	$0x0a, %al
	jne	8f
	movzbl	9(%rsi), %eax
	jmp	9f
8:	cmp	$1, %al				/* ZeroOp 0, OneOp 1 */
	ja	no_s5
	jmp	9f
7:	inc	%rsi
	jmp	6b
9:	mov	%eax, slp_typ(%rip)

	lea	msg_found(%rip), %rsi
	call	serial_puts
	mov	pm1a_cnt(%rip), %eax
	call	put_hex
	lea	msg_typ(%rip), %rsi
	call	serial_puts
	mov	slp_typ(%rip), %eax
	call	put_hex
	mov	$'\n', %dil
	call	serial_putc

	mov	slp_typ(%rip), %eax
	shl	$10, %eax
	or	$SLP_EN, %eax
	mov	pm1a_cnt(%rip), %edx
	out	%ax, %dx
	/*
	 * The write ends the run. Under emulation the instructions up to the end
	 * of the current translation block may still run, so spin a while (a
	 * branch ends the block) before reporting that nothing happened.
	 */
	mov	$10000000, %ecx
10:	pause
	dec	%ecx
	jnz	10b
	EXIT	1

no_rsdt:
	EXIT	3
no_fadt:
	EXIT	4
sci_off:
	EXIT	5
timer_stuck:
	EXIT	6
no_s5:
	EXIT	7

/* DL = sum of ECX bytes at RSI (preserves RSI). */
sum_bytes:
	xor	%edx, %edx
	xor	%ebx, %ebx
1:	add	(%rsi,%rbx), %dl
	inc	%ebx
	cmp	%ecx, %ebx
	jb	1b
	ret

/* DL = sum of the table at RSI over its header's length. */
sum_table:
	mov	4(%rsi), %ecx
	jmp	sum_bytes

/* Prints EAX as 0x followed by hex digits, no leading zeros. Clobbers EAX, ECX, EDX, DIL, R10, R11. */
put_hex:
	mov	%eax, %r10d
	mov	$'0', %dil
	call	serial_putc
	mov	$'x', %dil
	call	serial_putc
	mov	$28, %ecx
	xor	%r11d, %r11d			/* a nonzero digit printed yet */
1:	mov	%r10d, %eax
	shr	%cl, %eax
	and	$0xf, %eax
	or	%eax, %r11d
	jnz	2f
	test	%ecx, %ecx
	jnz	3f
2:	cmp	$10, %al
	jb	4f
	add	$('a' - '0' - 10), %al
4:	add	$'0', %al
	mov	%al, %dil
	call	serial_putc			/* clobbers AL and DX only */
3:	sub	$4, %ecx
	jns	1b
	ret

	.data
msg_found:
	.asciz	"acpi: pm1a_cnt "
msg_typ:
	.asciz	" s5 slp_typ "
	.balign	4
pm1a_cnt:
	.long	0
pm_tmr:
	.long	0
dsdt:
	.long	0
slp_typ:
	.long	0
