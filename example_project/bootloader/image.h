#ifndef FWBUILD_EXAMPLE_IMAGE_H
#define FWBUILD_EXAMPLE_IMAGE_H

#include <stdint.h>

/* Checks of an MCUboot image (the format fwbuild writes): header magic, sizes within the
 * slot, well-formed TLV areas, and the SHA-256 TLV over header + payload + protected TLVs.
 * Integrity only: the signature TLV is not checked here. */

enum image_status {
    IMAGE_OK,
    IMAGE_EMPTY,     /* erased: nothing there */
    IMAGE_BAD_MAGIC,
    IMAGE_BAD_SIZE,  /* header or payload past the slot, or the wrong header size */
    IMAGE_BAD_TLV,   /* TLV areas malformed */
    IMAGE_NO_HASH,
    IMAGE_BAD_HASH,
};

struct image_info {
    uint8_t major;
    uint8_t minor;
    uint16_t revision;
    uint32_t build;
    uint32_t total_size; /* header + payload + both TLV areas */
};

enum image_status image_check(const uint8_t *slot, uint32_t slot_size, uint32_t header_size,
                              struct image_info *info);

/* "bad hash", "bad magic", ... */
const char *image_status_text(enum image_status status);

/* <0, 0, >0 comparing major.minor.revision; +build is ignored, as MCUboot does. */
int image_version_cmp(const struct image_info *a, const struct image_info *b);

#endif
