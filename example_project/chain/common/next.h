#ifndef FWBUILD_CHAIN_NEXT_H
#define FWBUILD_CHAIN_NEXT_H

/* What a checking stage does: check every slot of the next stage, print each refusal,
 * boot the newest valid image in place (on trial first, where the stage tries new
 * images), or stop with exit status 3 when none is valid. */

#include "check.h"

#define NEXT_MAX_SLOTS 8u

struct next_stage {
    const char *self;       /* this stage on the console: "selector" */
    const char *next;       /* the next stage: "bootloader" */
    unsigned int state;     /* its security-counter record (state.h) */
    int trials;             /* boot a new, unconfirmed image once on trial before trusting it */
    unsigned int slot_count;
    struct slot slots[NEXT_MAX_SLOTS];
};

__attribute__((noreturn)) void boot_next(const struct next_stage *stage);

#endif
