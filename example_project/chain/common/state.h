#ifndef FWBUILD_CHAIN_STATE_H
#define FWBUILD_CHAIN_STATE_H

/* The highest security counter each checking stage has accepted, kept in the layout's
 * boot_state region (BOOT_STATE_ADDR): an image signed with a lower one is a rollback. */

#include <stdint.h>

#define STATE_SELECTOR 0u   /* the counter of the bootloader images the selector boots */
#define STATE_BOOTLOADER 1u /* the counter of the application images the bootloader boots */

uint32_t state_counter(unsigned int stage);
void state_raise_counter(unsigned int stage, uint32_t counter);

#endif
