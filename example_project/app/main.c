#include <stdint.h>

#include "board.h"

/* The build passes these as string macros, e.g. -DFW_VERSION=\"1.2.3\". */
#ifndef FW_VERSION
#define FW_VERSION "0.0.0"
#endif
#ifndef FW_TARGET
#define FW_TARGET "unknown"
#endif

#define MCUBOOT_MAGIC 0x96f3b83du

/* The image header in front of this program, from the linker script: a layout change
 * relinks, it does not recompile. Weak: layouts without a header leave it at 0. */
extern const uint8_t __fw_header_start[] __attribute__((weak));

/* Print the version the image header carries (so a re-signed image shows its new
 * version), or the build's version when there is no MCUboot header. */
static void put_version(void)
{
    const uint8_t *header = __fw_header_start;
    if (header != 0) {
        const uint32_t magic =
            (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 | (uint32_t)header[3] << 24;
        if (magic == MCUBOOT_MAGIC) {
            board_put_uint(header[20]);
            board_puts(".");
            board_put_uint(header[21]);
            board_puts(".");
            board_put_uint((uint32_t)(header[22] | header[23] << 8));
            return;
        }
    }
    board_puts(FW_VERSION);
}

int main(void)
{
    board_puts("fwbuild example app ");
    put_version();
    board_puts(" on " FW_TARGET "\n");
    board_exit(0);
}
