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

#endif
