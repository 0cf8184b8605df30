/* protected-exit: exits with status 5 (32-bit protected mode, flat image). */

#include "guest.h"

	.code32
	ENTRY_START
	EXIT	5
