/*
 * kernel.c: a small teaching kernel for 32-bit protected mode, loaded by
 * Multiboot 1 or Multiboot 2. It reads its command line and memory size from
 * the loader, installs its own GDT and IDT, takes timer interrupts from the
 * 8254 PIT through the 8259 PIC pair, turns on paging, recovers from a page
 * fault it causes on purpose, and ends the run through the debug-exit port.
 *
 * Everything it prints goes to COM1 (a polled 16550). Its exit status is 0
 * when every step went as expected, otherwise one of the EXIT_* codes.
 */

#include <stdint.h>

/* ---- port I/O and the few privileged instructions it needs ---- */

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

static inline uint32_t read_cr2(void)
{
    uint32_t value;
    __asm__ volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

/* ---- exit ---- */

#define DEBUG_EXIT_PORT 0xf4

enum exit_status {
    EXIT_OK = 0,
    EXIT_BAD_MAGIC = 1,          /* not entered by a multiboot loader */
    EXIT_UNEXPECTED_TRAP = 2,    /* an exception other than the planned #PF */
    EXIT_PAGE_FAULT_MISSED = 3,  /* the planned #PF did not happen as planned */
};

/* vmscope exits with `status`; QEMU's isa-debug-exit with (status << 1) | 1. */
static void __attribute__((noreturn)) debug_exit(uint8_t status)
{
    __asm__ volatile("cli");
    outb(DEBUG_EXIT_PORT, status);
    for (;;)
        __asm__ volatile("hlt"); /* only reached if the exit port is missing */
}

/* ---- COM1, polled ---- */

#define COM1 0x3f8
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define LSR_THRE 0x20 /* transmit holding register empty */

static void uart_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* polled: no UART interrupts */
    outb(COM1 + UART_LCR, 0x80); /* DLAB on */
    outb(COM1 + UART_DLL, 1);    /* divisor 1: 115200 baud */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
    outb(COM1 + UART_FCR, 0x07); /* FIFOs on and cleared */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void putc(char c)
{
    if (c == '\n')
        putc('\r'); /* terminals in raw mode need the carriage return */
    while ((inb(COM1 + UART_LSR) & LSR_THRE) == 0)
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
}

static void puts(const char *s)
{
    while (*s != '\0')
        putc(*s++);
}

static void put_dec(uint32_t n)
{
    char digits[10];
    int count = 0;
    do {
        digits[count++] = (char)('0' + n % 10); /* 32-bit division: no libgcc */
        n /= 10;
    } while (n != 0);
    while (count > 0)
        putc(digits[--count]);
}

static void put_hex(uint32_t n)
{
    puts("0x");
    for (int shift = 28; shift >= 0; shift -= 4)
        putc("0123456789abcdef"[(n >> shift) & 0xf]);
}

static void put_hex64(uint64_t n)
{
    put_hex((uint32_t)(n >> 32));
    for (int shift = 28; shift >= 0; shift -= 4)
        putc("0123456789abcdef"[(uint32_t)(n >> shift) & 0xf]);
}

/* ---- what the loader tells us ---- */

/* Multiboot 1 info structure (Multiboot Specification 0.6.96, section 3.3). */
struct mb1_info {
    uint32_t flags;
    uint32_t mem_lower; /* KiB below 1 MiB (flags bit 0) */
    uint32_t mem_upper; /* KiB from 1 MiB to the first hole (flags bit 0) */
    uint32_t boot_device;
    uint32_t cmdline;   /* physical address of a C string (flags bit 2) */
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length; /* flags bit 6 */
    uint32_t mmap_addr;
};

/* One memory map entry; `size` does not count itself. */
struct __attribute__((packed)) mb1_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type; /* 1 = available RAM */
};

#define MB1_BOOTLOADER_MAGIC 0x2badb002
#define MB1_INFO_MEMORY (1u << 0)
#define MB1_INFO_CMDLINE (1u << 2)
#define MB1_INFO_MMAP (1u << 6)

/* Multiboot 2 boot information (Multiboot2 Specification, section 3.6). */
struct mb2_tag {
    uint32_t type;
    uint32_t size; /* tags start 8-byte aligned */
};

#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1      /* followed by a C string */
#define MB2_TAG_BASIC_MEMINFO 4 /* followed by mem_lower, mem_upper */

struct boot_info {
    const char *loader;
    const char *cmdline; /* empty when the loader passed none */
    uint32_t mem_lower_kib;
    uint32_t mem_upper_kib;
    int has_memory;
};

static void read_mb1(const struct mb1_info *info, struct boot_info *boot)
{
    boot->loader = "Multiboot 1";
    if (info->flags & MB1_INFO_CMDLINE)
        boot->cmdline = (const char *)info->cmdline;
    if (info->flags & MB1_INFO_MEMORY) {
        boot->mem_lower_kib = info->mem_lower;
        boot->mem_upper_kib = info->mem_upper;
        boot->has_memory = 1;
    }
    if (info->flags & MB1_INFO_MMAP) {
        uint32_t at = info->mmap_addr;
        uint32_t end = at + info->mmap_length;
        puts("memory map:\n");
        while (at < end) {
            const struct mb1_mmap_entry *e = (const struct mb1_mmap_entry *)at;
            puts("  ");
            put_hex64(e->addr);
            puts(" + ");
            put_hex64(e->len);
            puts(e->type == 1 ? " available\n" : " reserved\n");
            at += e->size + sizeof e->size;
        }
    }
}

static void read_mb2(uint32_t info, struct boot_info *boot)
{
    boot->loader = "Multiboot 2";
    /* The structure starts with total_size and a reserved word, then tags. */
    uint32_t at = info + 8;
    uint32_t end = info + *(const uint32_t *)info;
    while (at < end) {
        const struct mb2_tag *tag = (const struct mb2_tag *)at;
        if (tag->type == MB2_TAG_END)
            break;
        if (tag->type == MB2_TAG_CMDLINE)
            boot->cmdline = (const char *)(tag + 1);
        if (tag->type == MB2_TAG_BASIC_MEMINFO) {
            const uint32_t *mem = (const uint32_t *)(tag + 1);
            boot->mem_lower_kib = mem[0];
            boot->mem_upper_kib = mem[1];
            boot->has_memory = 1;
        }
        at += (tag->size + 7) & ~7u;
    }
}

/* The value of `key=` anywhere in the command line, or `fallback`. */
static uint32_t cmdline_number(const char *cmdline, const char *key, uint32_t fallback)
{
    for (const char *word = cmdline; *word != '\0'; word++) {
        if (word != cmdline && word[-1] != ' ')
            continue;
        const char *k = key;
        const char *p = word;
        while (*k != '\0' && *p == *k) {
            k++;
            p++;
        }
        if (*k != '\0' || *p != '=' || p[1] < '0' || p[1] > '9')
            continue;
        uint32_t value = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            value = value * 10 + (uint32_t)(*p - '0');
        return value;
    }
    return fallback;
}

/* ---- GDT ---- */

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

/* Flat 4 GiB segments: base 0, limit 0xfffff in 4 KiB units, 32-bit. */
static const uint64_t gdt[] = {
    0,                     /* null */
    0x00cf9a000000ffffull, /* 0x08: ring 0 code, execute/read */
    0x00cf92000000ffffull, /* 0x10: ring 0 data, read/write */
};

struct __attribute__((packed)) descriptor_pointer {
    uint16_t limit;
    uint32_t base;
};

static void gdt_init(void)
{
    struct descriptor_pointer gdtr = { sizeof gdt - 1, (uint32_t)gdt };
    /* Reload every segment register so none keeps the loader's descriptor. */
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%fs\n\t"
                     "mov %2, %%gs\n\t"
                     "mov %2, %%ss"
                     :
                     : "m"(gdtr), "i"(KERNEL_CS), "r"(KERNEL_DS)
                     : "memory");
}

/* ---- IDT ---- */

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_high;
};

#define GATE_INTERRUPT_32 0x8e /* present, ring 0, 32-bit interrupt gate */

static struct idt_gate idt[256];

/* Entry stubs in isr.S. */
extern void exc0_entry(void), exc1_entry(void), exc2_entry(void), exc3_entry(void),
    exc4_entry(void), exc5_entry(void), exc6_entry(void), exc7_entry(void),
    exc8_entry(void), exc9_entry(void), exc10_entry(void), exc11_entry(void),
    exc12_entry(void), exc13_entry(void), exc14_entry(void), exc15_entry(void),
    exc16_entry(void), exc17_entry(void), exc18_entry(void), exc19_entry(void),
    exc20_entry(void), exc21_entry(void), exc22_entry(void), exc23_entry(void),
    exc24_entry(void), exc25_entry(void), exc26_entry(void), exc27_entry(void),
    exc28_entry(void), exc29_entry(void), exc30_entry(void), exc31_entry(void);
extern void irq0_entry(void), irq1_entry(void), irq2_entry(void), irq3_entry(void),
    irq4_entry(void), irq5_entry(void), irq6_entry(void), irq7_entry(void),
    irq8_entry(void), irq9_entry(void), irq10_entry(void), irq11_entry(void),
    irq12_entry(void), irq13_entry(void), irq14_entry(void), irq15_entry(void);

static void (*const exception_entries[32])(void) = {
    exc0_entry,  exc1_entry,  exc2_entry,  exc3_entry,  exc4_entry,  exc5_entry,
    exc6_entry,  exc7_entry,  exc8_entry,  exc9_entry,  exc10_entry, exc11_entry,
    exc12_entry, exc13_entry, exc14_entry, exc15_entry, exc16_entry, exc17_entry,
    exc18_entry, exc19_entry, exc20_entry, exc21_entry, exc22_entry, exc23_entry,
    exc24_entry, exc25_entry, exc26_entry, exc27_entry, exc28_entry, exc29_entry,
    exc30_entry, exc31_entry,
};

static void (*const irq_entries[16])(void) = {
    irq0_entry,  irq1_entry,  irq2_entry,  irq3_entry, irq4_entry,  irq5_entry,
    irq6_entry,  irq7_entry,  irq8_entry,  irq9_entry, irq10_entry, irq11_entry,
    irq12_entry, irq13_entry, irq14_entry, irq15_entry,
};

#define IRQ_BASE_MASTER 0x20
#define IRQ_BASE_SLAVE 0x28

static void set_gate(int vector, void (*entry)(void))
{
    uint32_t offset = (uint32_t)entry;
    idt[vector].offset_low = (uint16_t)offset;
    idt[vector].selector = KERNEL_CS;
    idt[vector].zero = 0;
    idt[vector].type_attr = GATE_INTERRUPT_32;
    idt[vector].offset_high = (uint16_t)(offset >> 16);
}

static void idt_init(void)
{
    for (int v = 0; v < 32; v++)
        set_gate(v, exception_entries[v]);
    for (int irq = 0; irq < 16; irq++)
        set_gate(IRQ_BASE_MASTER + irq, irq_entries[irq]);
    struct descriptor_pointer idtr = { sizeof idt - 1, (uint32_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ---- 8259A PIC pair ---- */

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI 0x20     /* OCW2: non-specific end of interrupt */
#define PIC_READ_ISR 0x0b /* OCW3: the next command-port read returns the ISR */

/* Moves IRQ 0-15 off the CPU exception vectors, to 0x20-0x2f. */
static void pic_init(void)
{
    outb(PIC1_CMD, 0x11);             /* ICW1: edge, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE_MASTER); /* ICW2: vector offsets */
    outb(PIC2_DATA, IRQ_BASE_SLAVE);
    outb(PIC1_DATA, 0x04);            /* ICW3: the slave is on the master's IRQ 2 */
    outb(PIC2_DATA, 0x02);            /* ICW3: the slave's cascade identity */
    outb(PIC1_DATA, 0x01);            /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, 0xfe);            /* OCW1: mask all but IRQ 0 (the PIT) */
    outb(PIC2_DATA, 0xff);
}

static void pic_eoi(int irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

/* ---- 8254 PIT ---- */

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND 0x43
#define PIT_INPUT_HZ 1193182u
#define TIMER_HZ 100u

/* Timer rate in Hz (the `hz=` word of the command line; 19..1193182, default 100). */
static uint32_t timer_hz = TIMER_HZ;

static void pit_init(void)
{
    uint16_t divisor = (uint16_t)(PIT_INPUT_HZ / timer_hz); /* 11931 at 100 Hz */
    outb(PIT_COMMAND, 0x34); /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
    outb(PIT_CHANNEL0, (uint8_t)divisor);
    outb(PIT_CHANNEL0, (uint8_t)(divisor >> 8));
}

/* ---- interrupt handlers (called from isr.S) ---- */

static volatile uint32_t ticks;
static volatile uint32_t other_irqs;

/* IRQ 0. A breakpoint here shows the interrupted code one frame up. */
void timer_tick(void)
{
    ticks++;
    /* Ten lines a second whatever the rate. */
    if (ticks % (timer_hz / 10 ? timer_hz / 10 : 1) == 0) {
        puts("tick ");
        put_dec(ticks);
        putc('\n');
    }
    pic_eoi(0);
}

void irq_other(uint32_t irq)
{
    /* A spurious IRQ 7 or 15 has no ISR bit set and must not get an EOI. */
    if (irq == 7 || irq == 15) {
        uint16_t cmd = irq == 7 ? PIC1_CMD : PIC2_CMD;
        outb(cmd, PIC_READ_ISR);
        if ((inb(cmd) & 0x80) == 0) {
            if (irq == 15)
                pic_eoi(0); /* the master did see the cascade line */
            return;
        }
    }
    other_irqs++;
    pic_eoi((int)irq);
}

/* What exc_common pushes: pusha's registers, then the stub's and the CPU's. */
struct trap_frame {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vector, error_code;
    uint32_t eip, cs, eflags;
};

static uint32_t page_faults;
static uint32_t last_fault_address;
static void map_page(uint32_t address);

static void page_fault(struct trap_frame *frame)
{
    uint32_t address = read_cr2();
    uint32_t error = frame->error_code;
    page_faults++;
    last_fault_address = address;
    puts("page fault at ");
    put_hex(address);
    puts(", error ");
    put_hex(error);
    puts((error & 1) ? " (protection" : " (not present");
    puts((error & 2) ? ", write" : ", read");
    puts((error & 4) ? ", user)" : ", kernel)");
    puts(", eip ");
    put_hex(frame->eip);
    putc('\n');
    /* Map the page and return: the CPU retries the faulting instruction. */
    map_page(address);
    puts("mapped it; retrying\n");
}

void exception_handler(struct trap_frame *frame)
{
    if (frame->vector == 14 && page_faults == 0) {
        page_fault(frame);
        return;
    }
    puts("unexpected exception ");
    put_dec(frame->vector);
    puts(", error ");
    put_hex(frame->error_code);
    puts(", eip ");
    put_hex(frame->eip);
    putc('\n');
    debug_exit(EXIT_UNEXPECTED_TRAP);
}

/* ---- paging ---- */

#define PTE_PRESENT 0x1
#define PTE_WRITABLE 0x2
#define PAGE_SIZE 4096u
#define CR0_PG 0x80000000u

/* The first 4 MiB, identity-mapped by one page table, but for one hole. */
static uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint32_t first_table[1024] __attribute__((aligned(4096)));

#define HOLE_ADDRESS 0x300000u /* 3 MiB: RAM, clear of the kernel at 1 MiB */

static void paging_init(void)
{
    for (uint32_t i = 0; i < 1024; i++)
        first_table[i] = i * PAGE_SIZE | PTE_PRESENT | PTE_WRITABLE;
    first_table[HOLE_ADDRESS / PAGE_SIZE] = 0; /* not present: touching it faults */
    page_directory[0] = (uint32_t)first_table | PTE_PRESENT | PTE_WRITABLE;
    __asm__ volatile("mov %0, %%cr3\n\t"
                     "mov %%cr0, %%eax\n\t"
                     "or %1, %%eax\n\t"
                     "mov %%eax, %%cr0"
                     :
                     : "r"(page_directory), "i"(CR0_PG)
                     : "eax", "memory");
}

static void map_page(uint32_t address)
{
    uint32_t page = address & ~(PAGE_SIZE - 1);
    if (address >= 1024 * PAGE_SIZE)
        debug_exit(EXIT_PAGE_FAULT_MISSED); /* outside the one page table */
    first_table[page / PAGE_SIZE] = page | PTE_PRESENT | PTE_WRITABLE;
    __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
}

/* ---- main line ---- */

/* Sleeps until `count` more ticks have arrived. Not static: gcc then keeps
 * the standard calling convention and the frame pointer of this leaf. */
void __attribute__((noinline)) wait_ticks(uint32_t count)
{
    uint32_t until = ticks + count;
    while (ticks < until)
        __asm__ volatile("hlt"); /* the timer interrupt wakes it */
}

void kernel_main(uint32_t magic, uint32_t info)
{
    struct boot_info boot = { "", "", 0, 0, 0 };

    uart_init();
    puts("multiboot-kernel: hello\n");
    if (magic == MB1_BOOTLOADER_MAGIC) {
        read_mb1((const struct mb1_info *)info, &boot);
    } else if (magic == MB2_BOOTLOADER_MAGIC) {
        read_mb2(info, &boot);
    } else {
        puts("not loaded by a multiboot loader: magic ");
        put_hex(magic);
        putc('\n');
        debug_exit(EXIT_BAD_MAGIC);
    }
    puts("loader: ");
    puts(boot.loader);
    puts("\ncommand line: \"");
    puts(boot.cmdline);
    puts("\"\n");
    if (boot.has_memory) {
        puts("memory: ");
        put_dec(boot.mem_lower_kib);
        puts(" KiB low, ");
        put_dec(boot.mem_upper_kib);
        puts(" KiB upper (");
        put_dec((boot.mem_upper_kib + 1024) / 1024);
        puts(" MiB)\n");
    }
    uint32_t tick_target = cmdline_number(boot.cmdline, "ticks", 50);
    timer_hz = cmdline_number(boot.cmdline, "hz", TIMER_HZ);
    if (timer_hz < 19 || timer_hz > PIT_INPUT_HZ)
        timer_hz = TIMER_HZ;

    gdt_init();
    idt_init();
    pic_init();
    pit_init();
    puts("timer: ");
    put_dec(timer_hz);
    puts(" Hz, waiting for ");
    put_dec(tick_target);
    puts(" ticks\n");
    __asm__ volatile("sti");
    wait_ticks(tick_target);

    puts("paging on; touching ");
    put_hex(HOLE_ADDRESS);
    putc('\n');
    paging_init();
    volatile uint32_t *hole = (volatile uint32_t *)HOLE_ADDRESS;
    *hole = 0x600d;              /* faults once; the handler maps the page */
    uint32_t readback = *hole;

    __asm__ volatile("cli");
    puts("summary: ");
    put_dec(ticks);
    puts(" ticks, ");
    put_dec(page_faults);
    puts(" page fault at ");
    put_hex(last_fault_address);
    puts(", read back ");
    put_hex(readback);
    puts(", other irqs ");
    put_dec(other_irqs);
    putc('\n');
    if (page_faults != 1 || last_fault_address != HOLE_ADDRESS || readback != 0x600d)
        debug_exit(EXIT_PAGE_FAULT_MISSED);
    puts("multiboot-kernel: done\n");
    debug_exit(EXIT_OK);
}
