/*
 * int3: executes a breakpoint instruction at `breakpoint_here` with no IDT.
 * On VMX/SVM hosts that is an exception with nowhere to go: a triple fault.
 * On PVM hosts KVM cannot emulate it and reports an internal error
 * (suberror 1). Either way the runner must end the run with a clean report.
 */

#include "guest.h"

	.code64
	ENTRY_START
	nop
	.globl	breakpoint_here
breakpoint_here:
	int3
	EXIT 9
