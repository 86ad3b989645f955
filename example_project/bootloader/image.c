#include "image.h"

#include <string.h>

#include "sha256.h"

#define IMAGE_MAGIC 0x96f3b83du
#define HEADER_SIZE 32u
#define TLV_INFO_MAGIC 0x6907u
#define TLV_PROT_INFO_MAGIC 0x6908u
#define TLV_SHA256 0x10u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int erased(const uint8_t *p, uint32_t size)
{
    int ff = 1;
    int zero = 1;
    for (uint32_t i = 0; i < size; i++) {
        ff &= p[i] == 0xffu;
        zero &= p[i] == 0x00u;
    }
    return ff || zero;
}

/* Walk one TLV area at `area`; returns its total length, or 0 when malformed. Finds the
 * SHA-256 TLV's value. */
static uint32_t walk_area(const uint8_t *area, uint32_t room, uint16_t magic, const uint8_t **sha)
{
    if (room < 4u || le16(area) != magic) {
        return 0;
    }
    uint32_t total = le16(area + 2);
    if (total < 4u || total > room) {
        return 0;
    }
    uint32_t pos = 4;
    while (pos < total) {
        if (total - pos < 4u) {
            return 0;
        }
        uint16_t type = le16(area + pos);
        uint16_t length = le16(area + pos + 2);
        if (length > total - pos - 4u) {
            return 0;
        }
        if (type == TLV_SHA256 && sha != NULL) {
            if (length != 32u) {
                return 0;
            }
            *sha = area + pos + 4;
        }
        pos += 4u + length;
    }
    return total;
}

enum image_status image_check(const uint8_t *slot, uint32_t slot_size, uint32_t header_size,
                              struct image_info *info)
{
    if (erased(slot, HEADER_SIZE)) {
        return IMAGE_EMPTY;
    }
    if (le32(slot) != IMAGE_MAGIC) {
        return IMAGE_BAD_MAGIC;
    }
    uint32_t hdr_size = le16(slot + 8);
    uint32_t prot_size = le16(slot + 10);
    uint32_t img_size = le32(slot + 12);
    if (hdr_size != header_size || img_size > slot_size || hdr_size + img_size + prot_size + 4u > slot_size) {
        return IMAGE_BAD_SIZE;
    }
    uint32_t hashed = hdr_size + img_size;
    if (prot_size != 0u) {
        if (walk_area(slot + hashed, slot_size - hashed, TLV_PROT_INFO_MAGIC, NULL) != prot_size) {
            return IMAGE_BAD_TLV;
        }
        hashed += prot_size;
    }
    const uint8_t *expected = NULL;
    uint32_t tlv_size = walk_area(slot + hashed, slot_size - hashed, TLV_INFO_MAGIC, &expected);
    if (tlv_size == 0u) {
        return IMAGE_BAD_TLV;
    }
    if (expected == NULL) {
        return IMAGE_NO_HASH;
    }
    struct sha256 ctx;
    uint8_t digest[32];
    sha256_init(&ctx);
    sha256_update(&ctx, slot, hashed);
    sha256_final(&ctx, digest);
    if (memcmp(digest, expected, sizeof digest) != 0) {
        return IMAGE_BAD_HASH;
    }
    info->major = slot[20];
    info->minor = slot[21];
    info->revision = le16(slot + 22);
    info->build = le32(slot + 24);
    info->total_size = hashed + tlv_size;
    return IMAGE_OK;
}

const char *image_status_text(enum image_status status)
{
    switch (status) {
    case IMAGE_OK:
        return "ok";
    case IMAGE_EMPTY:
        return "empty";
    case IMAGE_BAD_MAGIC:
        return "bad magic";
    case IMAGE_BAD_SIZE:
        return "bad size";
    case IMAGE_BAD_TLV:
        return "bad TLV area";
    case IMAGE_NO_HASH:
        return "no hash";
    case IMAGE_BAD_HASH:
        return "bad hash";
    }
    return "unknown";
}

int image_version_cmp(const struct image_info *a, const struct image_info *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->revision != b->revision) {
        return a->revision < b->revision ? -1 : 1;
    }
    return 0;
}
