/*
 * sti-hlt: halts with interrupts on, on the pc platform, having masked every
 * line of the 8259A: nothing can ever wake it, so the run must end as
 * "halted" rather than wait forever.
 */

#include "guest.h"

	.code64
	ENTRY_START
	mov	$0x11, %al		/* ICW1..ICW4, then every line masked */
	out	%al, $0x20
	out	%al, $0xa0
	mov	$0x20, %al
	out	%al, $0x21
	mov	$0x28, %al
	out	%al, $0xa1
	mov	$0x04, %al
	out	%al, $0x21
	mov	$0x02, %al
	out	%al, $0xa1
	mov	$0x01, %al
	out	%al, $0x21
	out	%al, $0xa1
	mov	$0xff, %al
	out	%al, $0x21
	out	%al, $0xa1
	sti
1:	hlt
	jmp	1b
