#include "state.h"

#include "board.h"
#include "fwbuild_layout.h"

#define STATE_MAGIC 0x53425746u /* "FWBS" */
#define STATE_RECORD 16u        /* bytes per stage: magic, counter, the rest erased */

struct record {
    uint32_t magic;
    uint32_t counter;
    uint32_t erased[2];
};

uint32_t state_counter(unsigned int stage)
{
    const volatile struct record *r = (const volatile struct record *)(uintptr_t)(BOOT_STATE_ADDR + stage * STATE_RECORD);
    return r->magic == STATE_MAGIC ? r->counter : 0u;
}

void state_raise_counter(unsigned int stage, uint32_t counter)
{
    if (counter <= state_counter(stage)) {
        return;
    }
    const struct record r = {STATE_MAGIC, counter, {0xFFFFFFFFu, 0xFFFFFFFFu}};
    (void)board_flash_write(BOOT_STATE_ADDR + stage * STATE_RECORD, &r, sizeof r);
}
