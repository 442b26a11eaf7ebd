/* guest.c — the ferry testbed guest: a tiny Multiboot kernel for live-migration tests.
 *
 * It does two things, forever:
 *   - dirties guest RAM at a steady rate: one word in each 4 KiB page, walking a cursor through a
 *     working set and wrapping, so QEMU sees `dirty_mbps` MiB/s of freshly dirtied pages;
 *   - prints a heartbeat line on COM1 every `tick_ms` of guest time:
 *         ferry-guest tick=<n> boot=<id> dirtied_mib=<m>
 *     <n> lives in guest RAM and only grows, <id> is chosen at boot. After a live migration the
 *     destination's serial file goes on with the same <id> and <n>+1: that is the proof that the
 *     RAM and CPU state moved rather than the guest rebooting.
 *
 * Kernel command line (libvirt <cmdline>), all optional:
 *   dirty_mbps=N   MiB of pages dirtied per second (default 8; 0 = none)
 *   wss_mib=N      working set walked by the cursor (default: all RAM above 8 MiB, less 1 MiB)
 *   tick_ms=N      heartbeat period in guest milliseconds, multiple of 10 (default 1000)
 *
 * Time comes from the PIT at 100 Hz (IRQ 0); between interrupts the CPU sits in HLT, so an idle
 * guest costs a few percent of a host core even under TCG.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define HZ 100u              /* PIT interrupt rate */
#define PIT_HZ 1193182u      /* PIT input clock */
#define COM1 0x3F8
#define PAGE 4096u
#define MIB (1024u * 1024u)
#define RAM_FLOOR (8u * MIB) /* below: the kernel image, stack and the loader's data */

volatile u32 timer_ticks; /* incremented by timer_irq (boot.S) */
extern char timer_irq[], ignore_irq[], fault_trap[];

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

/* ---- serial console ------------------------------------------------------------------------ */
static void serial_init(void) {
  outb(COM1 + 1, 0x00); /* no UART interrupts: we poll */
  outb(COM1 + 3, 0x80); /* DLAB on: divisor 1 = 115200 baud */
  outb(COM1 + 0, 0x01);
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  outb(COM1 + 2, 0x07); /* FIFO on, cleared */
  outb(COM1 + 4, 0x03); /* DTR, RTS */
}
static void put_char(char c) {
  while ((inb(COM1 + 5) & 0x20) == 0) { /* wait for an empty transmit register */
  }
  outb(COM1, (u8)c);
}
static void put_str(const char *s) {
  for (; *s; ++s) put_char(*s);
}
static void put_dec(u32 v) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0);
  while (n > 0) put_char(buf[--n]);
}
static void put_hex(u32 v) {
  for (int shift = 28; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(v >> shift) & 0xFu]);
}

/* ---- command line -------------------------------------------------------------------------- */
/* Value of "key=<digits>" where key starts a word of cmdline; fallback when absent or malformed. */
static u32 cmdline_u32(const char *cmdline, const char *key, u32 fallback) {
  if (cmdline == 0) return fallback;
  for (const char *p = cmdline; *p; ++p) {
    if (p != cmdline && p[-1] != ' ') continue;
    const char *k = key, *q = p;
    while (*k && *q == *k) ++k, ++q;
    if (*k != 0 || *q != '=') continue;
    ++q;
    if (*q < '0' || *q > '9') return fallback;
    u32 v = 0;
    while (*q >= '0' && *q <= '9') v = v * 10u + (u32)(*q++ - '0');
    return v;
  }
  return fallback;
}

/* ---- interrupts ---------------------------------------------------------------------------- */
struct gate {
  u16 offset_low, selector;
  u8 zero, flags;
  u16 offset_high;
} __attribute__((packed));
static struct gate idt[0x30]; /* 0x00-0x1f exceptions, 0x20-0x2f the two PICs */
static struct {
  u16 limit;
  u32 base;
} __attribute__((packed)) idt_ptr;

static void set_gate(int vector, const char *handler) {
  idt[vector].offset_low = (u16)((u32)handler & 0xFFFFu);
  idt[vector].selector = 0x08;
  idt[vector].zero = 0;
  idt[vector].flags = 0x8E; /* present, ring 0, 32-bit interrupt gate */
  idt[vector].offset_high = (u16)((u32)handler >> 16);
}

static void interrupts_init(void) {
  for (int v = 0; v < 0x20; ++v) set_gate(v, fault_trap);
  for (int v = 0x20; v < 0x30; ++v) set_gate(v, ignore_irq);
  set_gate(0x20, timer_irq);
  idt_ptr.limit = (u16)(sizeof idt - 1);
  idt_ptr.base = (u32)idt;
  __asm__ volatile("lidt %0" : : "m"(idt_ptr));
  /* 8259 PICs: ICW1..ICW4, IRQs 0-7 -> vectors 0x20-0x27, 8-15 -> 0x28-0x2f; unmask IRQ 0 only */
  outb(0x20, 0x11), outb(0xA0, 0x11);
  outb(0x21, 0x20), outb(0xA1, 0x28);
  outb(0x21, 0x04), outb(0xA1, 0x02);
  outb(0x21, 0x01), outb(0xA1, 0x01);
  outb(0x21, 0xFE), outb(0xA1, 0xFF);
  /* PIT channel 0, mode 2 (rate generator), HZ interrupts per second */
  u32 divisor = (PIT_HZ + HZ / 2) / HZ;
  outb(0x43, 0x34);
  outb(0x40, (u8)(divisor & 0xFFu));
  outb(0x40, (u8)(divisor >> 8));
}

static u32 boot_id(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (lo * 2654435761u) ^ hi ^ 0x6665u;
}

/* ---- main ---------------------------------------------------------------------------------- */
void guest_main(u32 magic, const u32 *info) {
  serial_init();
  const int multiboot = magic == 0x2BADB002u && info != 0;
  const char *cmdline = (multiboot && (info[0] & 4u)) ? (const char *)info[4] : 0;
  /* mem_upper: KiB of RAM above 1 MiB; keep 1 MiB at the top for the firmware's tables */
  u32 ram_top = (multiboot && (info[0] & 1u)) ? MIB + info[2] * 1024u : 64u * MIB;
  u32 usable = ram_top > RAM_FLOOR + 2u * MIB ? ram_top - RAM_FLOOR - MIB : 0;

  u32 dirty_mbps = cmdline_u32(cmdline, "dirty_mbps", 8);
  u32 wss = cmdline_u32(cmdline, "wss_mib", usable / MIB) * MIB;
  if (wss > usable) wss = usable;
  wss -= wss % PAGE;
  if (wss == 0) dirty_mbps = 0;
  u32 tick_every = cmdline_u32(cmdline, "tick_ms", 1000) / (1000u / HZ);
  if (tick_every == 0) tick_every = 1;

  const u32 id = boot_id();
  put_str("ferry-guest boot=");
  put_hex(id);
  put_str(" ram_mib=");
  put_dec(ram_top / MIB);
  put_str(" dirty_mbps=");
  put_dec(dirty_mbps);
  put_str(" wss_mib=");
  put_dec(wss / MIB);
  put_str(" tick_ms=");
  put_dec(tick_every * (1000u / HZ));
  put_str("\n");

  interrupts_init();
  __asm__ volatile("sti");

  const u32 pages_per_s = dirty_mbps * (MIB / PAGE);
  u32 seen = 0, credit = 0, cursor = 0, next_tick = tick_every, tick = 0;
  u32 dirtied_pages = 0;
  for (;;) {
    __asm__ volatile("hlt");
    const u32 now = timer_ticks;
    if (now == seen) continue;
    const u32 elapsed = now - seen;
    seen = now;
    /* pages owed for the elapsed time; the remainder carries over so the rate stays exact */
    credit += elapsed * pages_per_s;
    u32 pages = credit / HZ;
    credit %= HZ;
    for (; pages > 0; --pages) {
      *(volatile u32 *)(RAM_FLOOR + cursor) = (dirtied_pages << 8) ^ id ^ 1u;
      cursor += PAGE;
      if (cursor >= wss) cursor = 0;
      ++dirtied_pages;
    }
    if ((int)(now - next_tick) >= 0) {
      next_tick += tick_every;
      ++tick;
      put_str("ferry-guest tick=");
      put_dec(tick);
      put_str(" boot=");
      put_hex(id);
      put_str(" dirtied_mib=");
      put_dec(dirtied_pages / (MIB / PAGE));
      put_str("\n");
    }
  }
}
