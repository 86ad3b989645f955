#include "next.h"

#include "board.h"
#include "state.h"
#include "trailer.h"

#define EXIT_NO_VALID 3

static void say(const struct next_stage *stage, const char *middle, unsigned int slot)
{
    board_puts(stage->self);
    board_puts(middle);
    board_puts(stage->next);
    board_puts(" slot ");
    board_put_uint(slot);
}

static void refused(const struct next_stage *stage, unsigned int slot, enum image_verdict verdict)
{
    say(stage, ": ", slot);
    board_puts(" refused (");
    board_puts(image_verdict_name(verdict));
    board_puts(")\n");
}

__attribute__((noreturn)) static void boot(const struct next_stage *stage, unsigned int n,
                                           const struct image_info *info, int trial)
{
    char version[16];
    image_version_text(&info->version, version);
    say(stage, ": boot ", n);
    board_puts(" v");
    board_puts(version);
    board_puts(trial ? " trial\n" : "\n");
    board_handover(image_program_start(&stage->slots[n]), BOARD_VTOR);
}

void boot_next(const struct next_stage *stage)
{
    struct image_info info[NEXT_MAX_SLOTS];
    int valid[NEXT_MAX_SLOTS];
    const uint32_t lowest = state_counter(stage->state);
    for (unsigned int n = 0; n < stage->slot_count; n++) {
        const struct slot *slot = &stage->slots[n];
        enum image_verdict verdict = image_check(slot, lowest, &info[n]);
        if (verdict == IMAGE_OK && stage->trials && trailer_trial(slot->start + slot->size) == TRAILER_TRIAL_FAILED) {
            verdict = IMAGE_TRIAL_FAILED;
        }
        valid[n] = verdict == IMAGE_OK;
        if (!valid[n]) {
            refused(stage, n, verdict);
        }
    }
    for (;;) {
        int best = -1, others = 0;
        for (unsigned int n = 0; n < stage->slot_count; n++) {
            if (valid[n]) {
                others += best >= 0;
                if (best < 0 || image_version_compare(&info[n].version, &info[best].version) > 0) {
                    best = (int)n;
                }
            }
        }
        if (best < 0) {
            board_puts(stage->self);
            board_puts(": no valid ");
            board_puts(stage->next);
            board_puts("\n");
            board_exit(EXIT_NO_VALID);
        }
        const uint32_t end = stage->slots[best].start + stage->slots[best].size;
        if (stage->trials && !trailer_confirmed(end)) {
            if (trailer_trial(end) == TRAILER_TRIAL_PENDING) {
                /* Booted once on trial and never confirmed: it failed; fall back. */
                trailer_set_trial(end, TRAILER_TRIAL_FAILED);
                refused(stage, (unsigned int)best, IMAGE_TRIAL_FAILED);
                valid[best] = 0;
                continue;
            }
            if (others) {
                /* New and unconfirmed with an older version to return to: one trial. */
                trailer_set_trial(end, TRAILER_TRIAL_PENDING);
                boot(stage, (unsigned int)best, &info[best], 1);
            }
            /* Nothing to return to: boot it; its counter counts once it confirms. */
            boot(stage, (unsigned int)best, &info[best], 0);
        }
        state_raise_counter(stage->state, info[best].security_counter);
        boot(stage, (unsigned int)best, &info[best], 0);
    }
}
