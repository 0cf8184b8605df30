/*
 * regs: loads a recognisable pattern into the 15 general registers other than
 * RSP (rax=0x1111..., rbx=0x2222..., rcx=0x3333..., ... r15=0xffff...), then
 * exits with status 3. The exit needs the status in AL, so at the exit
 * RAX=0x1111111111111103; at regs_loaded every register holds its pattern.
 * RSP stays at the boot contract's 0x80000; RFLAGS is left untouched.
 */

#include "guest.h"

	.code64
	ENTRY_START
	movabs	$0x1111111111111111, %rax
	movabs	$0x2222222222222222, %rbx
	movabs	$0x3333333333333333, %rcx
	movabs	$0x4444444444444444, %rdx
	movabs	$0x5555555555555555, %rsi
	movabs	$0x6666666666666666, %rdi
	movabs	$0x7777777777777777, %rbp
	movabs	$0x8888888888888888, %r8
	movabs	$0x9999999999999999, %r9
	movabs	$0xaaaaaaaaaaaaaaaa, %r10
	movabs	$0xbbbbbbbbbbbbbbbb, %r11
	movabs	$0xcccccccccccccccc, %r12
	movabs	$0xdddddddddddddddd, %r13
	movabs	$0xeeeeeeeeeeeeeeee, %r14
	movabs	$0xffffffffffffffff, %r15
	.globl	regs_loaded
regs_loaded:
	movb	$3, %al
	.globl	regs_exit
regs_exit:
	outb	%al, $DEBUG_EXIT_PORT
1:	hlt
	jmp	1b
