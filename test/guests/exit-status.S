/* exit-status: prints "bye\n" and exits with status 42 (long mode, flat image). */

#include "guest.h"

	.code64
	ENTRY_START
	lea	message(%rip), %rsi
	call	serial_puts
	EXIT	42

	.section .rodata
message:
	.asciz	"bye\n"
