#include "board.h"

#include <stdint.h>

#if defined(TARGET_MPS2_AN385)

/* ARM semihosting, as QEMU implements it (-semihosting-config enable=on). */
#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_puts(const char *s)
{
    (void)semihost(SYS_WRITE0, s);
}

void board_exit(int status)
{
    /* SYS_EXIT_EXTENDED takes a block {reason, subcode}: QEMU exits with subcode. */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

#else

/* No semihosting here: without a debugger attached, bkpt 0xAB would fault. */
void board_puts(const char *s)
{
    (void)s;
}

void board_exit(int status)
{
    (void)status;
    for (;;) {
    }
}

#endif
