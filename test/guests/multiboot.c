/*
 * multiboot.c: a Multiboot kernel (version 1, or 2 with -DMB2) that prints
 * what its boot loader handed it on the serial port: the magic in EAX, the
 * memory sizes, the command line, the loader name, each module and the
 * memory map. The runner test compares that with the spec. Exits through
 * debug-exit with 0 when the magic is right, 1 otherwise.
 */

typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned short u16;
typedef unsigned char u8;

#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc(char c) {
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (u8)c);
}
static void puts(const char *s) { while (*s) putc(*s++); }
static void puthex(u64 v) {
	char buf[19];
	int i = 18;
	buf[i] = 0;
	do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	puts(buf + i);
}
static void putdec(u32 v) {
	char buf[11];
	int i = 10;
	buf[i] = 0;
	do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
	puts(buf + i);
}
static void putmem(const u8 *p, u32 n) { for (u32 i = 0; i < n; i++) putc((char)p[i]); }
static void exit_with(u8 status) {
	outb(DEBUG_EXIT, status);
	for (;;) __asm__ volatile("hlt");
}
static void mmap_entry(u64 base, u64 len, u32 type) {
	puts("mmap "); puthex(base); putc(' '); puthex(len); putc(' '); putdec(type); putc('\n');
}
static void module(u32 start, u32 end, const char *s) {
	puts("module "); puts(s); puts(" size="); putdec(end - start); puts(" aligned="); putdec((start & 0xfff) == 0);
	puts(" data="); putmem((const u8 *)start, end - start < 8 ? end - start : 8); putc('\n');
}

#ifndef MB2
struct mb_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr, syms[4];
	u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
};
struct mb_mod { u32 start, end, string, reserved; };
struct __attribute__((packed)) mb_mmap { u32 size; u64 base, len; u32 type; };

void kmain(u32 magic, struct mb_info *mbi) {
	puts("magic="); puthex(magic); putc('\n');
	puts("flags="); puthex(mbi->flags); putc('\n');
	if (mbi->flags & 1) { puts("mem_lower="); putdec(mbi->mem_lower); puts(" mem_upper="); putdec(mbi->mem_upper); putc('\n'); }
	if (mbi->flags & (1 << 2)) { puts("cmdline="); puts((const char *)mbi->cmdline); putc('\n'); }
	if (mbi->flags & (1 << 9)) { puts("loader="); puts((const char *)mbi->boot_loader_name); putc('\n'); }
	if (mbi->flags & (1 << 3)) {
		const struct mb_mod *m = (const struct mb_mod *)mbi->mods_addr;
		for (u32 i = 0; i < mbi->mods_count; i++) module(m[i].start, m[i].end, (const char *)m[i].string);
	}
	if (mbi->flags & (1 << 6)) {
		for (u32 p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length;) {
			const struct mb_mmap *e = (const struct mb_mmap *)p;
			mmap_entry(e->base, e->len, e->type);
			p += e->size + 4;
		}
	}
	exit_with(magic == 0x2badb002 ? 0 : 1);
}
#else
struct tag { u32 type, size; };

void kmain(u32 magic, u32 info) {
	puts("magic="); puthex(magic); putc('\n');
	puts("aligned="); putdec((info & 7) == 0); putc('\n');
	u32 total = *(const u32 *)info;
	for (u32 p = info + 8; p < info + total; p += (((const struct tag *)p)->size + 7) & ~7u) {
		const struct tag *t = (const struct tag *)p;
		const u32 *body = (const u32 *)(p + 8);
		if (t->type == 0) break;
		switch (t->type) {
		case 1: puts("cmdline="); puts((const char *)body); putc('\n'); break;
		case 2: puts("loader="); puts((const char *)body); putc('\n'); break;
		case 3: module(body[0], body[1], (const char *)(body + 2)); break;
		case 4: puts("mem_lower="); putdec(body[0]); puts(" mem_upper="); putdec(body[1]); putc('\n'); break;
		case 6: {
			u32 entry_size = body[0];
			for (u32 e = p + 16; e < p + t->size; e += entry_size) {
				const u64 *q = (const u64 *)e;
				mmap_entry(q[0], q[1], *(const u32 *)(e + 16));
			}
			break;
		}
		}
	}
	exit_with(magic == 0x36d76289 ? 0 : 1);
}
#endif
