/* Host harness for the example bootloader's SHA-256: hash stdin, fed to sha256_update in
 * chunks of argv[1] bytes, and print the digest in hex. */
#include <stdio.h>
#include <stdlib.h>

#include "sha256.h"

int main(int argc, char **argv)
{
    size_t chunk = argc > 1 ? (size_t)strtoul(argv[1], NULL, 0) : 4096;
    unsigned char *buffer = malloc(chunk ? chunk : 1);
    struct sha256 ctx;
    unsigned char digest[32];
    size_t got;

    if (buffer == NULL || chunk == 0) {
        return 2;
    }
    sha256_init(&ctx);
    while ((got = fread(buffer, 1, chunk, stdin)) > 0) {
        sha256_update(&ctx, buffer, got);
    }
    sha256_final(&ctx, digest);
    for (int i = 0; i < 32; i++) {
        printf("%02x", digest[i]);
    }
    printf("\n");
    free(buffer);
    return 0;
}
