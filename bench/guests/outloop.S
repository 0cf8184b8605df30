/* vmscope benchmark guest: COUNT `out` instructions to an unclaimed port
   (0x80), then a debug-exit write. 16-bit real mode, flat, loaded at 0x7c00.
   COUNT comes from the assembler (--defsym COUNT=n). */
        .code16
        .globl _start
_start:
        mov     $0x80, %dx
        mov     $COUNT, %ecx
1:      out     %al, %dx
        dec     %ecx
        jnz     1b
        xor     %al, %al
        out     %al, $0xf4
2:      hlt
        jmp     2b
