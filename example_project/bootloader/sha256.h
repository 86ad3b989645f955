#ifndef FWBUILD_EXAMPLE_SHA256_H
#define FWBUILD_EXAMPLE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* FIPS 180-4 SHA-256, small and portable: built for the target and, in the tests, for
 * the host against the standard's test vectors. */
struct sha256 {
    uint32_t state[8];
    uint64_t length;
    uint8_t block[64];
    size_t used;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t size);
void sha256_final(struct sha256 *ctx, uint8_t digest[32]);

#endif
