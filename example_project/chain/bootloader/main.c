/* The upgradable bootloader: stage 1 of the example boot chain, in two slots (each its
 * own link of these objects). It checks each application slot like the selector checks
 * it, and boots a new, unconfirmed application once on trial: if that application has not
 * confirmed itself by the next boot, its slot is marked failed and the previous one boots. */
#include "fwbuild_layout.h"
#include "next.h"
#include "state.h"

int main(void)
{
    static const struct next_stage applications = {
        .self = "bootloader",
        .next = "application",
        .state = STATE_BOOTLOADER,
        .trials = 1,
        .slot_count = APPLICATION_SLOTS,
        .slots = {
            {APPLICATION_SLOT0_ADDR, APPLICATION_SLOT_SIZE, APPLICATION_HEADER_SIZE},
#if APPLICATION_SLOTS > 1
            {APPLICATION_SLOT1_ADDR, APPLICATION_SLOT_SIZE, APPLICATION_HEADER_SIZE},
#endif
#if APPLICATION_SLOTS > 2
#error "this example's bootloader checks two application slots at most"
#endif
        },
    };
    boot_next(&applications);
}
