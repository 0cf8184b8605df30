/*
 * reset: prints "boot", then pulses the reset line through the i8042
 * (0xFE to port 0x64), as Linux's reboot=k does. With
 * devices.i8042.on-reset: exit the run ends there; with reset, vmscope
 * starts the machine again and it prints "boot" again.
 */

#include "guest.h"

	.code64
	ENTRY_START
	lea	boot_msg(%rip), %rsi
	call	serial_puts
	mov	$0xfe, %al
	out	%al, $0x64
1:	pause			/* the reset takes effect at the end of this block */
	jmp	1b

	.data
boot_msg:
	.asciz	"boot\n"
