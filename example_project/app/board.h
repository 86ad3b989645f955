#ifndef FWBUILD_EXAMPLE_BOARD_H
#define FWBUILD_EXAMPLE_BOARD_H

/* Print a NUL-terminated string on the board's console (QEMU: semihosting). */
void board_puts(const char *s);

/* Stop the program. Under QEMU (TARGET_MPS2_AN385) QEMU exits with `status`;
 * on a real board this never returns. */
__attribute__((noreturn)) void board_exit(int status);

#endif
