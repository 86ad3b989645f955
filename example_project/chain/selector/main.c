/* The boot selector: stage 0 of the example boot chain, at the flash start, never
 * updated. It checks each bootloader slot (header, SHA-256, signature with a trusted key,
 * security counter) and boots the newest valid bootloader in place. */
#include "fwbuild_layout.h"
#include "next.h"
#include "state.h"

int main(void)
{
    static const struct next_stage bootloaders = {
        .self = "selector",
        .next = "bootloader",
        .state = STATE_SELECTOR,
        .trials = 0,
        .slot_count = BOOTLOADER_SLOTS,
        .slots = {
            {BOOTLOADER_SLOT0_ADDR, BOOTLOADER_SLOT_SIZE, BOOTLOADER_HEADER_SIZE},
#if BOOTLOADER_SLOTS > 1
            {BOOTLOADER_SLOT1_ADDR, BOOTLOADER_SLOT_SIZE, BOOTLOADER_HEADER_SIZE},
#endif
#if BOOTLOADER_SLOTS > 2
#error "this example's selector checks two bootloader slots at most"
#endif
        },
    };
    boot_next(&bootloaders);
}
