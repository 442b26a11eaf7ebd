/* boot.S — entry of the ferry testbed guest (Multiboot v1, 32-bit protected mode).
 *
 * The boot loader (QEMU's -kernel Multiboot loader, which libvirt's <os><kernel> uses) enters
 * _start with EAX = Multiboot magic and EBX = the physical address of the Multiboot info.
 * Interrupts are off and paging is off; GDTR is undefined, so we load our own flat GDT before
 * touching a segment register. Everything else is in guest.c.
 */
        .set    MB_MAGIC, 0x1BADB002
        .set    MB_FLAGS, 0x00000003          /* bit 0: page-align modules; bit 1: memory info */

        .section .multiboot, "a"
        .balign 4
        .long   MB_MAGIC
        .long   MB_FLAGS
        .long   -(MB_MAGIC + MB_FLAGS)

        .section .data
        .balign 8
gdt:    .quad   0x0000000000000000            /* null */
        .quad   0x00CF9A000000FFFF            /* 0x08: code, base 0, 4 GiB, ring 0 */
        .quad   0x00CF92000000FFFF            /* 0x10: data, base 0, 4 GiB, ring 0 */
gdt_end:
gdt_ptr:
        .word   gdt_end - gdt - 1
        .long   gdt

        .section .bss
        .balign 16
stack:  .skip   16384
stack_top:

        .section .text
        .globl  _start
_start:
        cli
        movl    $stack_top, %esp
        lgdt    gdt_ptr
        ljmp    $0x08, $reload_segments
reload_segments:
        movw    $0x10, %cx
        movw    %cx, %ds
        movw    %cx, %es
        movw    %cx, %fs
        movw    %cx, %gs
        movw    %cx, %ss
        pushl   %ebx                          /* guest_main(magic, info) */
        pushl   %eax
        call    guest_main
halt_forever:
        cli
        hlt
        jmp     halt_forever

/* IRQ 0 (PIT, remapped to vector 0x20): count, then end-of-interrupt to the master PIC. */
        .globl  timer_irq
timer_irq:
        pushl   %eax
        incl    timer_ticks
        movb    $0x20, %al
        outb    %al, $0x20
        popl    %eax
        iret

/* Any other interrupt we enabled nothing for (spurious IRQ 7, ...): ignore. */
        .globl  ignore_irq
ignore_irq:
        iret

/* CPU exceptions: nothing sensible to do in this guest but stop where a debugger can see it. */
        .globl  fault_trap
fault_trap:
        jmp     halt_forever

        .section .note.GNU-stack, "", @progbits
