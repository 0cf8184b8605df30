/* vmscope benchmark guest for raw instruction throughput: N iterations of a
   3-instruction loop on 32-bit registers, then a debug-exit write. 16-bit
   real mode, flat, loaded at 0x7c00; no absolute addresses, so the same bytes
   also run from a ROM (bench/build.ts buildEmuBench). N and EXIT_PORT come
   from the assembler (--defsym N=n --defsym EXIT_PORT=p); N=0 skips the loop.

   Contract with the benchmarks (bench/uc-bare.c, bench/emu.ts):
   - instructions executed, _start through the debug-exit `out` inclusive:
       7 + 3*N            (COMPUTE_FIXED + COMPUTE_PER_ITERATION * N)
     the same for N=0 (the jz is taken) and N>0 (it falls through);
   - at the exit, EBX = N and EAX = N*(N+1)/2 mod 2^32; the exit status is
     AL, the low byte of that sum (QEMU's isa-debug-exit exits with
     ((AL << 1) | 1) & 0xff, so it keeps AL's low 7 bits), so a short-cut
     run shows, for an N whose byte is neither 0 nor 0x80. */
        .code16
        .globl _start
_start:
        mov     $N, %ebx                /* 1 */
        mov     %ebx, %ecx              /* 2 */
        xor     %eax, %eax              /* 3 */
        test    %ecx, %ecx              /* 4 */
        jz      2f                      /* 5 */
1:      add     %ecx, %eax              /* loop body: 3 instructions */
        dec     %ecx
        jnz     1b
2:      mov     $EXIT_PORT, %dx         /* 6 */
        out     %al, %dx                /* 7 */
3:      hlt
        jmp     3b
