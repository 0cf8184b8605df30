/*
 * io-probe: touches what no device claims, to exercise the runner's handling
 * of unclaimed port I/O and of an MMIO region from its spec:
 *   - outb 0x5a to port 0x80,
 *   - inb from port 0x61, stored at probe_port61,
 *   - a 4-byte write of 0xcafef00d to GPA 0xd0000000 (region mmio0), then a
 *     4-byte read from it, stored at probe_mmio.
 * The stores start as sentinels (0xa5...) so a test can tell they happened.
 * Then prints "probe done\n" and exits with status 0.
 */

#include "guest.h"

#define PORT_POST 0x80
#define PORT_SYSCTL_B 0x61
#define MMIO0_GPA 0xd0000000
#define MMIO_PATTERN 0xcafef00d

	.code64
	ENTRY_START
port_out:
	mov	$0x5a, %al
	outb	%al, $PORT_POST
port_in:
	inb	$PORT_SYSCTL_B, %al
	mov	%al, probe_port61(%rip)
mmio_write:
	mov	$MMIO0_GPA, %edi	/* zero-extends; a disp32 would sign-extend */
	movl	$MMIO_PATTERN, (%rdi)
mmio_read:
	movl	(%rdi), %eax
	mov	%eax, probe_mmio(%rip)

	lea	message(%rip), %rsi
	call	serial_puts
	EXIT	0

	.section .rodata
message:
	.asciz	"probe done\n"

	.data
	.globl	probe_port61, probe_mmio
	.balign	4
probe_mmio:
	.long	0xa5a5a5a5
probe_port61:
	.byte	0xa5
