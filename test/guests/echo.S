/* echo: writes back every byte received on COM1; on '\n' exits with status 7. */

#include "guest.h"

	.code64
	ENTRY_START
next_byte:
	call	serial_getc
	mov	%al, %bl
	mov	%al, %dil
	call	serial_putc
	cmp	$'\n', %bl
	jne	next_byte
	EXIT	7
