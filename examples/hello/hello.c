/*
 * hello.c: a freestanding long-mode guest that prints one line on COM1 and
 * returns 0, which start.S turns into the VM's exit status.
 *
 * Each function is small and on its own lines so that source-level stepping
 * lands on one meaningful statement at a time.
 */

#include <stdint.h>

#define COM1 0x3f8

/* 16550 register offsets from the base port. */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */

#define LCR_8N1 0x03  /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB 0x80 /* divisor latch access */
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20 /* transmit holding register empty */

#define UART_CLOCK_DIVISOR_115200 1 /* 1.8432 MHz / 16 / 115200 */

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

/* Same sequence a real driver uses: no interrupts, 115200 8N1, FIFOs on. */
void uart_init(void)
{
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, UART_CLOCK_DIVISOR_115200 & 0xff);
    outb(COM1 + UART_DLM, UART_CLOCK_DIVISOR_115200 >> 8);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void uart_putc(char c)
{
    while ((inb(COM1 + UART_LSR) & LSR_THRE) == 0)
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    while (*s != '\0') {
        uart_putc(*s);
        s++;
    }
}

int main(void)
{
    uart_init();
    uart_puts("Hello from the guest\n");
    return 0;
}
