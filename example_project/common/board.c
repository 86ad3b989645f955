#include "board.h"

#include <string.h>

void board_put_uint(uint32_t value)
{
    char text[11];
    char *p = &text[sizeof text - 1];
    *p = '\0';
    do {
        *--p = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    board_puts(p);
}

/* FW_SEMIHOSTING: the target declares that its console is semihosting, as on the boards
 * QEMU models (their target files list the macro). */
#if defined(FW_SEMIHOSTING)

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

/* QEMU's MPS2 "flash" is SSRAM, which a new QEMU run loads afresh. A test that boots the
 * chain several times keeps the flash in a host file, FLASH_FILE, loaded at address 0 on
 * every boot: each write also goes there through semihosting, when the file exists in
 * QEMU's working folder (docs/example.md). */
#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_SEEK 0x0A
#define OPEN_READ_WRITE_BINARY 3 /* "r+b": never creates the file */
#define FLASH_FILE "fwbuild-flash.bin"

static void mirror(uint32_t dst, const void *src, size_t size)
{
    const uint32_t open_args[3] = {(uint32_t)(uintptr_t)FLASH_FILE, OPEN_READ_WRITE_BINARY, sizeof FLASH_FILE - 1u};
    const int handle = semihost(SYS_OPEN, open_args);
    if (handle < 0) {
        return;
    }
    const uint32_t seek_args[2] = {(uint32_t)handle, dst};
    const uint32_t write_args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)src, (uint32_t)size};
    if (semihost(SYS_SEEK, seek_args) == 0) {
        (void)semihost(SYS_WRITE, write_args);
    }
    const uint32_t close_args[1] = {(uint32_t)handle};
    (void)semihost(SYS_CLOSE, close_args);
}

int board_flash_write(uint32_t dst, const void *src, size_t size)
{
    memmove((void *)(uintptr_t)dst, src, size);
    mirror(dst, src, size);
    return 0;
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

int board_flash_write(uint32_t dst, const void *src, size_t size)
{
    (void)dst;
    (void)src;
    (void)size;
    return -1;
}

#endif
