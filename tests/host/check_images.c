/* Host harness for the example boot chain's image check (example_project/chain/common/
 * check.c, with libsodium): for each image file, checked as a slot of argv[1] bytes with a
 * header of argv[2] bytes, print its verdict ("ok", "hash", "signature", ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SLOT_SIZE HEADER_SIZE IMAGE...\n", argv[0]);
        return 2;
    }
    const uint32_t slot_size = (uint32_t)strtoul(argv[1], NULL, 0);
    const uint32_t header_size = (uint32_t)strtoul(argv[2], NULL, 0);
    unsigned char *slot = malloc(slot_size);
    if (slot == NULL) {
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        memset(slot, 0xFF, slot_size);
        FILE *image = fopen(argv[i], "rb");
        if (image == NULL) {
            return 2;
        }
        size_t got = fread(slot, 1, slot_size, image);
        fclose(image);
        (void)got;
        const struct slot where = {(uintptr_t)slot, slot_size, header_size};
        struct image_info info;
        printf("%s\n", image_verdict_name(image_check(&where, 0, &info)));
    }
    free(slot);
    return 0;
}
