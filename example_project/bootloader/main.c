/*
 * The example bootloader: check the active slot, install a newer candidate, refuse to
 * roll back, and hand over to the application. Every address comes from the generated
 * fwbuild_layout.h; this file holds none of its own.
 *
 * It checks integrity (MCUboot header, TLV areas, SHA-256), not authenticity: the
 * signature TLV is left to a production bootloader such as MCUboot.
 */
#include <stdint.h>

#include "board.h"
#include "fwbuild_layout.h"
#include "image.h"

#if !defined(HEADER_ADDR) || !defined(APPLICATION_ADDR)
#error "the layout has no header region: the bootloader needs header_offset in fwbuild.json"
#endif

/* The active slot: the MCUboot header, then the application region. */
#define SLOT_ADDR HEADER_ADDR
#define SLOT_SIZE (APPLICATION_ADDR + APPLICATION_SIZE - HEADER_ADDR)
#define IMAGE_HEADER_SIZE (APPLICATION_ADDR - HEADER_ADDR)

#define EXIT_NO_IMAGE 3

static void put_version(const struct image_info *info)
{
    board_put_uint(info->major);
    board_puts(".");
    board_put_uint(info->minor);
    board_puts(".");
    board_put_uint(info->revision);
}

static enum image_status check(uint32_t address, struct image_info *info)
{
    /* A candidate is checked with the active slot's geometry: that is where it must run. */
    return image_check((const uint8_t *)(uintptr_t)address, SLOT_SIZE, IMAGE_HEADER_SIZE, info);
}

/* The application's table goes into VTOR or, on a core without one, into the word through
 * which this bootloader's table forwards exceptions (forward.c). */
#if defined(VECTOR_FORWARD_ADDR)
#define APPLICATION_TABLE_WORD VECTOR_FORWARD_ADDR
#else
#define APPLICATION_TABLE_WORD BOARD_VTOR
#endif

__attribute__((noreturn)) static void start_application(void)
{
    board_handover(APPLICATION_ADDR, APPLICATION_TABLE_WORD);
}

__attribute__((noreturn)) static void no_valid_image(void)
{
    board_puts("boot: no valid image\n");
    board_exit(EXIT_NO_IMAGE);
}

#if defined(CANDIDATE_ADDR)
/* Copy the candidate over the active slot and check the result. */
static int install(const struct image_info *candidate, struct image_info *active)
{
    if (board_flash_write(SLOT_ADDR, (const void *)(uintptr_t)CANDIDATE_ADDR, candidate->total_size) != 0) {
        board_puts("boot: candidate not installed (no flash driver on this board)\n");
        return -1;
    }
    if (check(SLOT_ADDR, active) != IMAGE_OK) {
        board_puts("boot: candidate copy failed its check\n");
        return -1;
    }
    return 0;
}
#endif

int main(void)
{
#if defined(VECTOR_FORWARD_ADDR)
    /* Exceptions are ours until the application starts; the word survives a warm reset. */
    *(volatile uint32_t *)VECTOR_FORWARD_ADDR = 0u;
#endif
    struct image_info active = {0};
    enum image_status active_status = check(SLOT_ADDR, &active);
#if defined(CANDIDATE_ADDR)
    struct image_info candidate = {0};
    enum image_status candidate_status = check(CANDIDATE_ADDR, &candidate);
#else
    enum image_status candidate_status = IMAGE_EMPTY;
#endif

    if (active_status == IMAGE_OK) {
        board_puts("boot: active ");
        put_version(&active);
        board_puts(" ok\n");
#if defined(CANDIDATE_ADDR)
        if (candidate_status == IMAGE_OK) {
            int order = image_version_cmp(&candidate, &active);
            board_puts("boot: candidate ");
            put_version(&candidate);
            if (order > 0 && install(&candidate, &active) == 0) {
                board_puts(" installed\n");
            } else if (order <= 0) {
                board_puts(order < 0 ? " refused (older)\n" : " refused (same version)\n");
            }
        } else if (candidate_status != IMAGE_EMPTY) {
            board_puts("boot: candidate refused (");
            board_puts(image_status_text(candidate_status));
            board_puts(")\n");
        }
#endif
        start_application();
    }

    if (candidate_status == IMAGE_OK) {
#if defined(CANDIDATE_ADDR)
        board_puts("boot: active ");
        board_puts(image_status_text(active_status));
        board_puts(", candidate ");
        put_version(&candidate);
        if (install(&candidate, &active) == 0) {
            board_puts(" installed\n");
            start_application();
        }
#endif
    }
    board_puts("boot: active refused (");
    board_puts(image_status_text(active_status));
    board_puts(")\n");
    no_valid_image();
}
