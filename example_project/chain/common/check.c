#include "check.h"

#include <string.h>

#include "crypto_hash_sha256.h"
#include "crypto_sign_ed25519.h"
#include "fwbuild_keys.h"

/* MCUboot's image format (imgtool's image.py): a 32-byte header, the program, then the
 * protected TLV area (hashed with the rest) and the unprotected one. */
#define IMAGE_MAGIC 0x96f3b83du
#define TLV_INFO_MAGIC 0x6907u
#define TLV_PROT_INFO_MAGIC 0x6908u
#define TLV_KEYHASH 0x01u
#define TLV_SHA256 0x10u
#define TLV_ED25519 0x24u
#define TLV_SEC_CNT 0x50u
#define ED25519_DER_PREFIX 12u /* SubjectPublicKeyInfo before the 32-byte key */

static uint32_t read16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t read32(const uint8_t *p)
{
    return read16(p) | read16(p + 2) << 16;
}

const char *image_verdict_name(enum image_verdict verdict)
{
    static const char *const names[] = {
        "ok", "empty", "hash", "signature", "untrusted key", "revoked key", "rollback", "trial failed",
    };
    return names[verdict];
}

int image_version_compare(const struct image_version *a, const struct image_version *b)
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

uint32_t image_program_start(const struct slot *slot)
{
    return slot->start + slot->header_size;
}

static char *put_uint(char *out, uint32_t value)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    while (n > 0) {
        *out++ = digits[--n];
    }
    return out;
}

void image_version_text(const struct image_version *v, char *text)
{
    char *p = put_uint(text, v->major);
    *p++ = '.';
    p = put_uint(p, v->minor);
    *p++ = '.';
    p = put_uint(p, v->revision);
    *p = '\0';
}

/* A TLV area [area, area + size): its info header (magic, total size) checked. */
struct tlv_area {
    const uint8_t *start;
    uint32_t size;
};

static int tlv_area_at(const uint8_t *p, const uint8_t *end, uint32_t magic, struct tlv_area *area)
{
    if (end - p < 4 || read16(p) != magic) {
        return 0;
    }
    area->start = p;
    area->size = read16(p + 2);
    return area->size >= 4u && (uint32_t)(end - p) >= area->size;
}

/* The value of the first TLV of `type` and exactly `length` bytes, or NULL. */
static const uint8_t *tlv_find(const struct tlv_area *area, uint32_t type, uint32_t length)
{
    const uint8_t *p = area->start + 4;
    const uint8_t *end = area->start + area->size;
    while (end - p >= 4) {
        uint32_t t = read16(p), len = read16(p + 2);
        if ((uint32_t)(end - p - 4) < len) {
            return NULL;
        }
        if (t == type && len == length) {
            return p + 4;
        }
        p += 4 + len;
    }
    return NULL;
}

static const struct fwbuild_key *trusted_key(const uint8_t *key_hash)
{
    for (unsigned int i = 0; i < fwbuild_trusted_key_count; i++) {
        if (memcmp(fwbuild_trusted_keys[i].key_hash, key_hash, 32) == 0) {
            return &fwbuild_trusted_keys[i];
        }
    }
    return NULL;
}

static int revoked(const uint8_t *key_hash)
{
    for (unsigned int i = 0; i < fwbuild_revoked_key_count; i++) {
        if (memcmp(fwbuild_revoked_key_hashes[i], key_hash, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

enum image_verdict image_check(const struct slot *slot, uint32_t lowest_counter, struct image_info *info)
{
    const uint8_t *base = (const uint8_t *)(uintptr_t)slot->start;
    const uint8_t *end = base + slot->size;
    if (read32(base) != IMAGE_MAGIC || read16(base + 8) != slot->header_size) {
        return IMAGE_EMPTY;
    }
    uint32_t protected_size = read16(base + 10);
    uint32_t image_size = read32(base + 12);
    if (image_size > slot->size - slot->header_size) {
        return IMAGE_EMPTY;
    }
    const uint8_t *tlvs = base + slot->header_size + image_size;
    struct tlv_area prot = {tlvs, 0}, unprot;
    if (protected_size != 0u && (!tlv_area_at(tlvs, end, TLV_PROT_INFO_MAGIC, &prot) || prot.size != protected_size)) {
        return IMAGE_EMPTY;
    }
    if (!tlv_area_at(tlvs + prot.size, end, TLV_INFO_MAGIC, &unprot)) {
        return IMAGE_EMPTY;
    }

    /* The hash covers the header, the program and the protected TLVs. */
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, base, (unsigned long long)(tlvs + prot.size - base));
    const uint8_t *hash = tlv_find(&unprot, TLV_SHA256, sizeof digest);
    if (hash == NULL || memcmp(hash, digest, sizeof digest) != 0) {
        return IMAGE_HASH;
    }

    /* The key that signed it, by its hash; a revoked key is refused even when trusted. */
    const uint8_t *key_hash = tlv_find(&unprot, TLV_KEYHASH, 32);
    if (key_hash != NULL && revoked(key_hash)) {
        return IMAGE_REVOKED_KEY;
    }
    const struct fwbuild_key *key = key_hash != NULL ? trusted_key(key_hash) : NULL;
    if (key == NULL) {
        return IMAGE_UNTRUSTED_KEY;
    }
    /* Ed25519 over the image's SHA-256, as imgtool signs it; libsodium checks it. */
    const uint8_t *signature = tlv_find(&unprot, TLV_ED25519, crypto_sign_ed25519_BYTES);
    if (key->kind != FWBUILD_KEY_ED25519 || signature == NULL ||
        key->der_len != ED25519_DER_PREFIX + crypto_sign_ed25519_PUBLICKEYBYTES ||
        crypto_sign_ed25519_verify_detached(signature, digest, sizeof digest, key->der + ED25519_DER_PREFIX) != 0) {
        return IMAGE_SIGNATURE;
    }

    const uint8_t *counter = protected_size != 0u ? tlv_find(&prot, TLV_SEC_CNT, 4) : NULL;
    info->security_counter = counter != NULL ? read32(counter) : 0u;
    if (info->security_counter < lowest_counter) {
        return IMAGE_ROLLBACK;
    }
    info->version.major = base[20];
    info->version.minor = base[21];
    info->version.revision = (uint16_t)read16(base + 22);
    info->version.build = read32(base + 24);
    return IMAGE_OK;
}
