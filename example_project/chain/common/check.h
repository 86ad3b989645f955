#ifndef FWBUILD_CHAIN_CHECK_H
#define FWBUILD_CHAIN_CHECK_H

/* Checking an MCUboot image in a slot of the boot chain: header, SHA-256, the signature
 * with a trusted key (fwbuild_keys.c, generated from fwbuild.json), the security counter,
 * and the trailer that records trial boots. */

#include <stdint.h>

struct slot {
    uintptr_t start;      /* the slot's first byte: the image header */
    uint32_t size;        /* header, program, TLVs and, at the very end, the trailer */
    uint32_t header_size; /* what the layout gives this stage (<STAGE>_HEADER_SIZE) */
};

struct image_version {
    uint8_t major;
    uint8_t minor;
    uint16_t revision;
    uint32_t build;
};

enum image_verdict {
    IMAGE_OK = 0,
    IMAGE_EMPTY,
    IMAGE_HASH,
    IMAGE_SIGNATURE,
    IMAGE_UNTRUSTED_KEY,
    IMAGE_REVOKED_KEY,
    IMAGE_ROLLBACK,
    IMAGE_TRIAL_FAILED,
};

struct image_info {
    struct image_version version;
    uint32_t security_counter; /* 0 when the image carries none */
};

/* The console word for a verdict: "empty", "hash", "signature", ... */
const char *image_verdict_name(enum image_verdict verdict);

/* Everything but the trial state: a valid, signed image whose security counter is not
 * below `lowest_counter`. Fills `info` for a valid image. */
enum image_verdict image_check(const struct slot *slot, uint32_t lowest_counter, struct image_info *info);

/* Newer compares major.minor.revision and ignores the build number, as MCUboot does. */
int image_version_compare(const struct image_version *a, const struct image_version *b);

/* Where the program starts: after the header, where its vector table is. */
uint32_t image_program_start(const struct slot *slot);

/* "1.2.3" into `text` (at least 16 bytes). */
void image_version_text(const struct image_version *v, char *text);

#endif
