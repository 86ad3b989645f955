#ifndef FWBUILD_EXAMPLE_BOARD_H
#define FWBUILD_EXAMPLE_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Print a NUL-terminated string on the board's console (QEMU: semihosting; elsewhere a
 * stub that drops it). */
void board_puts(const char *s);

/* Print an unsigned number in decimal. */
void board_put_uint(uint32_t value);

/* Stop the program. Under QEMU (targets with the FW_SEMIHOSTING macro) QEMU exits with `status`;
 * on a real board this never returns. */
__attribute__((noreturn)) void board_exit(int status);

/* Write `size` bytes to flash at `dst`. Returns 0, or -1 where this example has no flash
 * driver (every board but MPS2_AN385, whose "flash" is SSRAM). */
int board_flash_write(uint32_t dst, const void *src, size_t size);

/* The core's vector-table offset register (Armv7-M and later). */
#define BOARD_VTOR 0xE000ED08u

/* Hand over to the program whose vector table is at `program`: its table's address into
 * `table_word` (VTOR, or on a core without one the word through which the first stage
 * forwards exceptions: bootloader/forward.c), MSP from the table's first word, then a
 * branch to its reset vector. Inline, so a stage that uses it depends on nothing new. */
__attribute__((noreturn)) static inline void board_handover(uint32_t program, uint32_t table_word)
{
    const uint32_t *vectors = (const uint32_t *)(uintptr_t)program;
    *(volatile uint32_t *)(uintptr_t)table_word = program;
    __asm__ volatile("dsb\n\tisb\n\t"
                     "msr msp, %0\n\t"
                     "bx %1\n\t" ::"r"(vectors[0]),
                     "r"(vectors[1])
                     : "memory");
    __builtin_unreachable();
}

#endif
