#include <stdint.h>

#include "board.h"
#include "trailer.h"

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

/* In a boot chain, the slot this program runs from, from the linker (each slot is its own
 * link); weak, so that without a chain they are 0. */
extern const char __fwbuild_slot_start[] __attribute__((weak));
extern const char __fwbuild_slot_size[] __attribute__((weak));
extern const char __fwbuild_slot_index[] __attribute__((weak));

int main(void)
{
    if (__fwbuild_slot_start == 0) {
        board_puts("fwbuild example app ");
        put_version();
        board_puts(" on " FW_TARGET "\n");
        board_exit(0);
    }
    const uint32_t end = (uint32_t)(uintptr_t)__fwbuild_slot_start + (uint32_t)(uintptr_t)__fwbuild_slot_size;
    /* A healthy application confirms itself, so its bootloader keeps it; one built with
     * faulty=1 never does, and its trial boot is reverted at the next reset. */
#if !defined(APP_FAULTY)
    if (!trailer_confirmed(end)) {
        trailer_confirm(end);
    }
#endif
    board_puts("app: v");
    put_version();
    board_puts(" slot ");
    board_put_uint((uint32_t)(uintptr_t)__fwbuild_slot_index);
    board_puts(trailer_confirmed(end) ? " confirmed\n" : " unconfirmed\n");
    board_exit(0);
}
