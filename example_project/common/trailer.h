#ifndef FWBUILD_CHAIN_TRAILER_H
#define FWBUILD_CHAIN_TRAILER_H

/* The trailer at the end of every slot: what a boot chain remembers about the image in it
 * across resets. Positions follow MCUboot's (imgtool --confirm writes the same bytes):
 *   slot end - 16   the 16-byte boot magic: the fields below mean something only with it
 *   slot end - 24   image_ok: 0x01 once the image has confirmed itself
 *   slot end - 32   trial: 'T' booted once on trial, 'B' its trial failed
 *                   (MCUboot keeps copy_done here; an in-place chain copies nothing)
 * Each field is written as a whole 8-byte unit, as flash with an 8-byte write size needs. */

#include <stdint.h>
#include <string.h>

#include "board.h"

#define TRAILER_IMAGE_OK 0x01u
#define TRAILER_TRIAL_PENDING 0x54u /* 'T' */
#define TRAILER_TRIAL_FAILED 0x42u  /* 'B' */

static const uint8_t trailer_magic[16] = {
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
};

static inline int trailer_present(uint32_t slot_end)
{
    return memcmp((const void *)(uintptr_t)(slot_end - 16u), trailer_magic, sizeof trailer_magic) == 0;
}

static inline uint8_t trailer_field(uint32_t slot_end, uint32_t offset)
{
    return trailer_present(slot_end) ? *(const volatile uint8_t *)(uintptr_t)(slot_end - offset) : 0xFFu;
}

/* Write one field (24: image_ok, 32: trial), putting the magic down first when it is not
 * there yet, with every field erased. */
static inline void trailer_write(uint32_t slot_end, uint32_t offset, uint8_t value)
{
    uint8_t unit[8];
    if (!trailer_present(slot_end)) {
        memset(unit, 0xFF, sizeof unit);
        (void)board_flash_write(slot_end - 24u, unit, sizeof unit);
        (void)board_flash_write(slot_end - 32u, unit, sizeof unit);
        (void)board_flash_write(slot_end - 16u, trailer_magic, sizeof trailer_magic);
    }
    memset(unit, 0xFF, sizeof unit);
    unit[0] = value;
    (void)board_flash_write(slot_end - offset, unit, sizeof unit);
}

static inline int trailer_confirmed(uint32_t slot_end)
{
    return trailer_field(slot_end, 24u) == TRAILER_IMAGE_OK;
}

static inline void trailer_confirm(uint32_t slot_end)
{
    trailer_write(slot_end, 24u, TRAILER_IMAGE_OK);
}

static inline uint8_t trailer_trial(uint32_t slot_end)
{
    return trailer_field(slot_end, 32u);
}

static inline void trailer_set_trial(uint32_t slot_end, uint8_t state)
{
    trailer_write(slot_end, 32u, state);
}

#endif
