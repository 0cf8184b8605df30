/*
 * smp-xadd: two vCPUs add 1 to one shared counter COUNT times each with
 * `lock xadd`, then vCPU 0 checks that no update was lost (2 * COUNT) and
 * exits 0, or 1 when some were. On hardware, lock makes each add atomic; the
 * emulator must keep that true across its vCPUs (vmscope runs them in turns).
 * A plain add here loses updates on hardware, which is what the lock is for.
 */

#include "guest.h"

#define COUNT 200000

	.code64
	ENTRY_START
	PER_VCPU_STACK

	mov	$COUNT, %ecx
1:	mov	$1, %eax
	lock xaddl %eax, counter(%rip)
	dec	%ecx
	jnz	1b
	lock incl done(%rip)

	cmp	$0, %ebx
	jne	park
2:	cmpl	$2, done(%rip)
	jne	2b
	cmpl	$(2 * COUNT), counter(%rip)
	jne	lost
	lea	ok_msg(%rip), %rsi
	call	serial_puts
	EXIT 0
lost:
	lea	lost_msg(%rip), %rsi
	call	serial_puts
	EXIT 1
park:
	cli
3:	hlt
	jmp	3b

	.section .rodata
ok_msg:		.asciz	"no update lost\n"
lost_msg:	.asciz	"updates were lost\n"

	.data
	.p2align 2
	.globl	counter
counter:	.long 0
done:		.long 0
